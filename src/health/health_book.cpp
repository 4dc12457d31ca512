#include "health/health_book.hpp"

namespace crs::health {
namespace {

// The trial a due circuit offers: identified by the time it became claimable.
int64_t trial_of(const Circuit& c) { return c.state == CircuitState::Open ? c.next_try_ms : c.trial_until_ms; }

}  // namespace
namespace {

}  // namespace

// This instance tried to claim this very trial a moment ago.
bool HealthBook::claim_pending(const Entry& e, int64_t now_ms) {
  return e.claim_tried_for == trial_of(e.circuit) && now_ms - e.claim_tried_at < kClaimRetryMs;
}

Gate HealthBook::gate(const std::string& account_id, int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account_id);
  if (it == entries_.end()) return Gate::Open;
  const Entry& e = it->second;
  if (e.announced_at || e.circuit.shut(now_ms)) return Gate::Shut;
  if (e.circuit.due(now_ms)) return claim_pending(e, now_ms) ? Gate::Shut : Gate::Trial;
  return e.health == HealthClass::Unhealthy ? Gate::Shut : Gate::Open;
}

bool HealthBook::degraded(const std::string& account_id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account_id);
  return it != entries_.end() && it->second.health == HealthClass::Degraded;
}

bool HealthBook::try_claim(const std::string& account_id, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[account_id];
  if (!e.circuit.due(now_ms) || claim_pending(e, now_ms)) return false;
  e.claim_tried_for = trial_of(e.circuit);
  e.claim_tried_at = now_ms;
  return true;
}

bool HealthBook::success_matters(const std::string& account_id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account_id);
  return it != entries_.end() && (it->second.circuit.failures > 0 || it->second.circuit.state != CircuitState::Closed);
}

void HealthBook::circuit(const std::string& account_id, const Circuit& c) {
  std::lock_guard lock(mutex_);
  entries_[account_id].circuit = c;
}

void HealthBook::announced(const std::string& account_id) {
  std::lock_guard lock(mutex_);
  entries_[account_id].announced_at = ++announcements_;
}

uint64_t HealthBook::read_began() {
  std::lock_guard lock(mutex_);
  return announcements_;
}

void HealthBook::circuit_read(const std::string& account_id, const Circuit& c, uint64_t read) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[account_id];
  e.circuit = c;
  if (e.announced_at <= read) e.announced_at = 0;
}

void HealthBook::health_class(const std::string& account_id, HealthClass c) {
  std::lock_guard lock(mutex_);
  entries_[account_id].health = c;
}

void HealthBook::forget(const std::string& account_id) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account_id);
  if (it == entries_.end()) return;
  it->second.circuit = Circuit{};
  it->second.health = HealthClass::Healthy;
  it->second.claim_tried_for = -1;
  it->second.claim_tried_at = 0;
  it->second.announced_at = 0;
}

void HealthBook::record(const std::string& account_id, Attempt attempt) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[account_id];
  if (!e.pending) e.pending = Pending{};  // not emplace(): clang judges Pending (NSDMIs) not default-constructible there
  e.pending->add(std::move(attempt));
}

void HealthBook::Pending::add(Attempt attempt) {
  ++counts[static_cast<size_t>(attempt.outcome)];
  if (attempt.outcome == Outcome::Ok) last_success_ms = attempt.at_ms;
  else last_failure = attempt;
  if (recent.size() >= kWindowAttempts) recent.erase(recent.begin());
  recent.push_back(std::move(attempt));
}

std::vector<HealthBook::Pending> HealthBook::take_pending() {
  std::lock_guard lock(mutex_);
  std::vector<Pending> out;
  for (auto& [id, e] : entries_) {
    if (!e.pending) continue;
    out.push_back(std::move(*e.pending));
    out.back().account_id = id;
    e.pending.reset();
  }
  return out;
}

}  // namespace crs::health
