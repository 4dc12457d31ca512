#include "scheduler/sticky_cache.hpp"

namespace crs::scheduler {

std::optional<std::string> StickyCache::fresh(const std::string& session) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(session);
  if (it == entries_.end() || it->second.until < std::chrono::steady_clock::now()) return std::nullopt;
  return it->second.account_id;
}

void StickyCache::confirmed(const std::string& session, const std::string& account_id) {
  std::lock_guard lock(mutex_);
  if (entries_.size() >= kMaxEntries) {
    // Drop the stale ones; if all are fresh, start over (they are only a shortcut).
    auto now = std::chrono::steady_clock::now();
    std::erase_if(entries_, [now](const auto& e) { return e.second.until < now; });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  entries_[session] = Entry{account_id, std::chrono::steady_clock::now() + kFresh};
}

void StickyCache::forget(const std::string& session) {
  std::lock_guard lock(mutex_);
  entries_.erase(session);
}

}  // namespace crs::scheduler
