#pragma once
// Computed results of admin reads (a key listing page, a usage report, the dashboard's
// totals), cached under queryOptimizer.cache.prefix for cache.ttl seconds: an LRU in this
// process (at most cache.maxSize entries and performance.memoryLimit bytes), mirrored in
// Redis so that other instances reuse it (bounded the same way, oldest first).
//
// An entry is named after the query and the generations of the data it was computed from
// (store/keyspace.hpp: kDataGeneration, bumped in the same transaction as every change), so a
// key edit or newly folded usage makes every older entry unreachable at once, on every
// instance: a cached result is never staler than the data was when it was asked for.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::query {

struct CacheSettings {
  bool enabled = true;
  std::chrono::milliseconds ttl{300000};
  std::string prefix = "query_cache:";
  size_t max_entries = 1000;
  size_t max_bytes = 100 * 1024 * 1024;
};

CacheSettings cache_settings_of(const config::Config& cfg);

enum class CacheOutcome { Off, Hit, Shared, Miss };  // Shared: found in Redis, another instance's
const char* outcome_name(CacheOutcome o);            // "off", "hit", "shared", "miss"

struct CachedValue {
  std::string value;
  CacheOutcome outcome = CacheOutcome::Off;
};

struct CacheCounters {
  std::atomic<uint64_t> hits{0}, shared_hits{0}, misses{0}, evictions{0};
};

class QueryCache {
 public:
  explicit QueryCache(CacheSettings settings) : settings_(std::move(settings)) {}

  using Compute = std::function<Task<Result<std::string>>()>;
  // The value of `query` at the current generations of `depends` (fields of kDataGeneration):
  // from this process, from Redis, or computed now and stored in both. A failed computation
  // is not cached. With the cache off, computes every time.
  // (`compute` by reference: GCC 12 destroys a std::function passed by value to a coroutine twice.)
  Task<Result<CachedValue>> get(store::RedisClient& redis, std::string query, std::vector<std::string> depends,
                                const Compute& compute);

  const CacheCounters& counters() const { return counters_; }
  const CacheSettings& settings() const { return settings_; }
  size_t local_entries() const;
  size_t local_bytes() const;

 private:
  struct Entry {
    std::string name, value;
    std::chrono::steady_clock::time_point expires;
  };
  std::optional<std::string> find_local(const std::string& name);
  void keep_local(const std::string& name, const std::string& value, std::chrono::milliseconds ttl);
  // A Redis that restarted or failed over may have lost writes, generations among them: what
  // this process holds could then be named like newer data. It is dropped.
  void forget_if_reconnected(const store::RedisClient& redis);
  Task<void> mirror(store::RedisClient& redis, std::string name, std::string value);

  CacheSettings settings_;
  CacheCounters counters_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
  std::unordered_map<const store::RedisClient*, uint64_t> reconnects_seen_;
};

}  // namespace crs::query
