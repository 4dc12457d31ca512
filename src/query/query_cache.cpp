#include "query/query_cache.hpp"

#include <spdlog/spdlog.h>

#include "core/crypto.hpp"
#include "store/keyspace.hpp"
#include "store/redis_script.hpp"

namespace crs::query {

CacheSettings cache_settings_of(const config::Config& cfg) {
  const auto& c = cfg.queryOptimizer.cache;
  CacheSettings s;
  s.enabled = c.enabled;
  s.ttl = std::chrono::seconds(c.ttl);
  s.prefix = c.prefix;
  s.max_entries = static_cast<size_t>(c.maxSize);
  s.max_bytes = static_cast<size_t>(cfg.queryOptimizer.performance.memoryLimit);
  return s;
}

const char* outcome_name(CacheOutcome o) {
  switch (o) {
    case CacheOutcome::Off: return "off";
    case CacheOutcome::Hit: return "hit";
    case CacheOutcome::Shared: return "shared";
    case CacheOutcome::Miss: return "miss";
  }
  return "off";
}

namespace {

// KEYS: the entry, the index (zset entry -> stored at, ms), the sizes (hash entry -> bytes,
// and "#total"). ARGV: value, ttl ms, max entries, max bytes. Forgets expired entries, stores
// this one, then evicts the oldest while over either bound; returns how many it evicted.
const store::Script& store_script() {
  static const store::Script s(R"LUA(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, max_n, max_b = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function forget(name)
  local b = redis.call('HGET', KEYS[3], name)
  if b then
    redis.call('HINCRBY', KEYS[3], '#total', -tonumber(b))
    redis.call('HDEL', KEYS[3], name)
  end
end
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl)) do forget(name) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
forget(KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now, KEYS[1])
redis.call('HSET', KEYS[3], KEYS[1], #ARGV[1])
redis.call('HINCRBY', KEYS[3], '#total', #ARGV[1])
local evicted = 0
while redis.call('ZCARD', KEYS[2]) > max_n or tonumber(redis.call('HGET', KEYS[3], '#total') or 0) > max_b do
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  if #oldest == 0 then break end
  redis.call('DEL', oldest[1])
  forget(oldest[1])
  evicted = evicted + 1
end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return evicted
)LUA");
  return s;
}

std::vector<store::RedisCommand> generation_read(const std::vector<std::string>& depends) {
  store::RedisCommand c{"HMGET", std::string(store::keyspace::kDataGeneration)};
  c.insert(c.end(), depends.begin(), depends.end());
  return std::vector<store::RedisCommand>(1, std::move(c));
}

// The entry's name: the query and the generations it was computed at.
std::string entry_name(const CacheSettings& s, const std::string& query, const std::vector<std::string>& depends,
                       const store::RedisReply& generations) {
  std::string material = query;
  for (size_t i = 0; i < depends.size(); ++i) {
    material += '\n' + depends[i] + '=';
    if (i < generations.elements.size()) material += generations.elements[i].str;
  }
  return s.prefix + crypto::sha256_hex(material);
}

std::vector<store::RedisCommand> mirror_read(const std::string& name) {
  std::vector<store::RedisCommand> cmds;
  cmds.push_back(store::make_command("GET", name));
  cmds.push_back(store::make_command("PTTL", name));
  return cmds;
}

std::vector<std::string> store_keys(const CacheSettings& s, const std::string& name) {
  return std::vector<std::string>{name, s.prefix + "index", s.prefix + "sizes"};
}

std::vector<std::string> store_args(const CacheSettings& s, const std::string& value) {
  return std::vector<std::string>{value, std::to_string(s.ttl.count()), std::to_string(s.max_entries),
                                  std::to_string(s.max_bytes)};
}

// A plain function: GCC 12 miscompiles conditional string temporaries in coroutines.
void log_store_failure(const Result<store::RedisReply>& r) {
  spdlog::warn("query cache: could not store an entry in Redis: {}", r ? r->str : r.error().message);
}

}  // namespace

std::optional<std::string> QueryCache::find_local(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  if (it->second->expires <= std::chrono::steady_clock::now()) {
    bytes_ -= it->second->value.size();
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void QueryCache::forget_if_reconnected(const store::RedisClient& redis) {
  std::lock_guard lock(mutex_);
  uint64_t now = redis.reconnects();
  auto [it, first] = reconnects_seen_.emplace(&redis, now);
  if (first || it->second == now) return;
  it->second = now;
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

void QueryCache::keep_local(const std::string& name, const std::string& value, std::chrono::milliseconds ttl) {
  if (value.size() > settings_.max_bytes) return;  // could never fit
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(name); it != index_.end()) {
    bytes_ -= it->second->value.size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{name, value, std::chrono::steady_clock::now() + ttl});
  index_[name] = lru_.begin();
  bytes_ += value.size();
  while (lru_.size() > settings_.max_entries || bytes_ > settings_.max_bytes) {
    bytes_ -= lru_.back().value.size();
    index_.erase(lru_.back().name);
    lru_.pop_back();
    ++counters_.evictions;
  }
}

Task<void> QueryCache::mirror(store::RedisClient& redis, std::string name, std::string value) {
  if (value.size() > settings_.max_bytes) co_return;
  auto call = store_script().call(store_keys(settings_, name), store_args(settings_, value));
  auto r = co_await store::run_script(redis, store_script(), std::move(call));
  if (!r || r->is_error()) {
    log_store_failure(r);
    co_return;
  }
  counters_.evictions += static_cast<uint64_t>(std::max<int64_t>(0, r->integer));
}

Task<Result<CachedValue>> QueryCache::get(store::RedisClient& redis, std::string query,
                                          std::vector<std::string> depends, const Compute& compute) {
  if (!settings_.enabled) {
    auto value = co_await compute();
    if (!value) co_return value.error();
    co_return CachedValue{std::move(*value), CacheOutcome::Off};
  }
  forget_if_reconnected(redis);
  auto generations = co_await redis.pipeline(generation_read(depends));
  if (!generations) co_return generations.error();
  if (generations->front().is_error()) co_return Error{"redis: " + generations->front().str};
  std::string name = entry_name(settings_, query, depends, generations->front());
  if (auto local = find_local(name)) {
    ++counters_.hits;
    co_return CachedValue{std::move(*local), CacheOutcome::Hit};
  }
  auto shared = co_await redis.pipeline(mirror_read(name));
  if (!shared) co_return shared.error();
  if ((*shared)[0].type == store::RedisReply::Type::String) {
    ++counters_.shared_hits;
    // Kept here only as long as the mirror keeps it: not a fresh TTL.
    keep_local(name, (*shared)[0].str, std::chrono::milliseconds(std::max<int64_t>(0, (*shared)[1].integer)));
    co_return CachedValue{std::move((*shared)[0].str), CacheOutcome::Shared};
  }
  ++counters_.misses;
  auto value = co_await compute();
  if (!value) co_return value.error();
  keep_local(name, *value, settings_.ttl);
  co_await mirror(redis, name, *value);
  co_return CachedValue{std::move(*value), CacheOutcome::Miss};
}

size_t QueryCache::local_entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

size_t QueryCache::local_bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace crs::query
