#include "scheduler/load_book.hpp"

#include <algorithm>
#include <numeric>

namespace crs::scheduler {
namespace {

// Success is an exponentially weighted average: the last ~10 calls count most.
constexpr double kSuccessAlpha = 0.1;

}  // namespace

AccountLoad LoadBook::load_of(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return {};
  const Entry& e = it->second;
  AccountLoad load = e.load;
  int64_t now = accounts::now_ms();
  load.utilization_5h = e.utilization.five_hour_at(now);
  load.utilization_7d = e.utilization.seven_day_at(now);
  load.in_flight = std::max(e.local_in_flight, e.shared_in_flight);
  load.window_tokens = e.shared_tokens + e.in_transit_tokens + e.pending_tokens;
  if (!e.ttfb.empty()) load.ttfb_ms = std::accumulate(e.ttfb.begin(), e.ttfb.end(), 0.0) / e.ttfb.size();
  return load;
}

void LoadBook::selected(const std::string& id, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[id];
  e.load.last_used_ms = std::max(e.load.last_used_ms, now_ms);
  ++e.local_in_flight;
  if (e.shared_in_flight >= 0) ++e.shared_in_flight;
}

void LoadBook::finished(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[id];
  if (e.local_in_flight > 0) --e.local_in_flight;
  if (e.shared_in_flight > 0) --e.shared_in_flight;
}

void LoadBook::charged(const std::string& id, int64_t tokens) {
  std::lock_guard lock(mutex_);
  entries_[id].pending_tokens += std::max<int64_t>(tokens, 0);
}

void LoadBook::answered(const std::string& id, double ttfb_ms, bool account_ok) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[id];
  if (account_ok && ttfb_ms >= 0) {
    e.ttfb.push_back(ttfb_ms);
    if (e.ttfb.size() > kRecent) e.ttfb.pop_front();
  }
  e.load.success_rate = (1 - kSuccessAlpha) * e.load.success_rate + kSuccessAlpha * (account_ok ? 1.0 : 0.0);
}

void LoadBook::utilization(const std::string& id, const Utilization& reported) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[id];
  if (reported.five_hour >= 0) {
    e.utilization.five_hour = reported.five_hour;
    e.utilization.five_hour_until_ms = reported.five_hour_until_ms;
  }
  if (reported.seven_day >= 0) {
    e.utilization.seven_day = reported.seven_day;
    e.utilization.seven_day_until_ms = reported.seven_day_until_ms;
  }
  e.utilization_changed = true;
}

LoadBook::Unwritten LoadBook::take_unwritten() {
  std::lock_guard lock(mutex_);
  Unwritten out;
  for (auto& [id, e] : entries_) {
    if (e.pending_tokens > 0) out.tokens.emplace_back(id, e.pending_tokens);
    e.in_transit_tokens += e.pending_tokens;
    e.pending_tokens = 0;
    if (e.utilization_changed) out.utilization.emplace_back(id, e.utilization);
    e.utilization_changed = false;
  }
  return out;
}

void LoadBook::refreshed(const std::string& id, int64_t window_tokens, int in_flight, int64_t last_used_ms,
                         const Utilization& recorded) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[id];
  e.shared_tokens = window_tokens;  // includes what was in transit: it was written first
  e.in_transit_tokens = 0;
  e.shared_in_flight = in_flight;
  e.load.last_used_ms = std::max(e.load.last_used_ms, last_used_ms);
  // Another instance's report is taken unless this one has a newer one waiting to be written.
  if (!e.utilization_changed && recorded.five_hour >= 0) e.utilization = recorded;
}

std::deque<double> LoadBook::recent_ttfb(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  return it == entries_.end() ? std::deque<double>{} : it->second.ttfb;
}

}  // namespace crs::scheduler
