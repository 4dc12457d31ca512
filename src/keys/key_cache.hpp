#pragma once
// In-process cache of key records by digest, shared by all I/O threads. Entries are dropped
// when any instance announces a change on the invalidation channel, and everything is dropped
// when that channel reconnects (announcements may have been missed). Unknown digests are
// remembered briefly so random keys cannot turn into one Redis lookup each.
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "keys/api_key.hpp"

namespace crs::keys {

class KeyCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit KeyCache(std::chrono::seconds ttl = std::chrono::minutes(5),
                    std::chrono::seconds negative_ttl = std::chrono::seconds(10));

  // A request holds the cached record itself (shared, never changed: a change replaces it), not
  // a copy of its strings.
  using Record = std::shared_ptr<const ApiKey>;

  // nullopt: not cached. A cached null record means "known not to exist".
  std::optional<Record> lookup(const std::string& digest);
  // Read before looking a key up in Redis, and handed to put(): a lookup that read Redis before
  // an invalidation must not be stored after it (it would bring a revoked or renewed key back
  // for the whole TTL).
  uint64_t generation() const;
  // Stores `key` unless an invalidation came since `seen_generation`.
  void put(const std::string& digest, Record key, uint64_t seen_generation);
  void invalidate(const std::string& key_id);
  void clear();

 private:
  struct Entry {
    Record key;
    Clock::time_point expires;
  };
  std::chrono::seconds ttl_, negative_ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  uint64_t generation_ = 0;  // bumped by every invalidate() and clear()
};

}  // namespace crs::keys
