#include "scheduler/scheduler.hpp"

namespace crs::scheduler {

std::optional<accounts::Account> PriorityLruScheduler::pick(const accounts::AccountList& all,
                                                           const std::set<std::string>& exclude, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  const accounts::Account* best = nullptr;
  uint64_t best_pick = 0;
  for (const auto& a : all) {
    if (!a.usable(now_ms) || exclude.count(a.id)) continue;
    uint64_t last = 0;
    if (auto it = last_pick_.find(a.id); it != last_pick_.end()) last = it->second;
    if (!best || a.priority < best->priority || (a.priority == best->priority && last < best_pick)) {
      best = &a;
      best_pick = last;
    }
  }
  if (!best) return std::nullopt;
  last_pick_[best->id] = ++sequence_;
  return *best;
}

}  // namespace crs::scheduler
