#pragma once
// The sticky sessions this instance confirmed in Redis a moment ago. A conversation sends many
// requests a minute; while its uncapped account stays a candidate, the next ones within
// kFresh take it without Redis (the shared record, its TTL renewed, is touched again once the
// entry is stale). A move made by another instance reaches this one when its entry goes
// stale, or at once when the move was forced by the account's state (every instance sees it
// resting). Any thread may call it.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace crs::scheduler {

class StickyCache {
 public:
  static constexpr auto kFresh = std::chrono::seconds(10);
  static constexpr size_t kMaxEntries = 100000;

  std::optional<std::string> fresh(const std::string& session) const;
  void confirmed(const std::string& session, const std::string& account_id);
  void forget(const std::string& session);

 private:
  struct Entry {
    std::string account_id;
    std::chrono::steady_clock::time_point until;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace crs::scheduler
