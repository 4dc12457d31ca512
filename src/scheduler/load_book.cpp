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
  load.in_flight = std::max(e.local_in_flight, e.shared_in_flight);
  load.window_tokens = e.shared_tokens + e.local_tokens;
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
  entries_[id].local_tokens += std::max<int64_t>(tokens, 0);
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

void LoadBook::utilization(const std::string& id, double five_hour, double seven_day) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[id];
  if (five_hour >= 0) e.load.utilization_5h = five_hour;
  if (seven_day >= 0) e.load.utilization_7d = seven_day;
}

void LoadBook::refreshed(const std::string& id, int64_t window_tokens, int in_flight, int64_t last_used_ms,
                         double five_hour, double seven_day) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[id];
  e.shared_tokens = window_tokens;
  e.local_tokens = 0;
  e.shared_in_flight = in_flight;
  e.load.last_used_ms = std::max(e.load.last_used_ms, last_used_ms);
  if (five_hour >= 0) e.load.utilization_5h = five_hour;
  if (seven_day >= 0) e.load.utilization_7d = seven_day;
}

std::deque<double> LoadBook::recent_ttfb(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  return it == entries_.end() ? std::deque<double>{} : it->second.ttfb;
}

}  // namespace crs::scheduler
