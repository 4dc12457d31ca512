#include "limits/limits.hpp"

#include <ctime>

#include <fmt/format.h>

namespace crs::limits {
namespace {

constexpr int64_t kHourMs = 3600 * 1000, kDayMs = 24 * kHourMs, kWeekMs = 7 * kDayMs;

// KEYS: 1 concurrency zset, 2 window hash, 3 daily cost, 4 weekly cost, 5 total cost, 6 total tokens
// ARGV: 1 now ms, 2 lease, 3 lease ttl ms, 4 concurrency limit, 5 window ms, 6 window requests limit,
//       7 window cost limit, 8 daily limit, 9 weekly limit, 10 total cost limit, 11 total tokens limit
// Returns {status, limit name, current, maximum, reset at ms}; status 0 = admitted.
constexpr std::string_view kAdmission = R"LUA(
local now = tonumber(ARGV[1])
local budgets = {{KEYS[5], ARGV[10], 'total_cost'}, {KEYS[6], ARGV[11], 'total_tokens'},
                 {KEYS[3], ARGV[8], 'daily_cost'}, {KEYS[4], ARGV[9], 'weekly_cost'}}
for _, b in ipairs(budgets) do
  local limit = tonumber(b[2])
  if limit > 0 then
    local used = tonumber(redis.call('GET', b[1]) or '0')
    if used >= limit then return {402, b[3], used, limit, 0} end
  end
end
local window_ms = tonumber(ARGV[5])
local start = 0
if window_ms > 0 then
  start = tonumber(redis.call('HGET', KEYS[2], 'start') or '0')
  if start == 0 or now >= start + window_ms then
    start = now
    redis.call('DEL', KEYS[2])
  else
    local requests = tonumber(redis.call('HGET', KEYS[2], 'requests') or '0')
    local cost = tonumber(redis.call('HGET', KEYS[2], 'costMicro') or '0')
    local max_requests, max_cost = tonumber(ARGV[6]), tonumber(ARGV[7])
    if max_requests > 0 and requests >= max_requests then
      return {429, 'window_requests', requests, max_requests, start + window_ms}
    end
    if max_cost > 0 and cost >= max_cost then return {429, 'window_cost', cost, max_cost, start + window_ms} end
  end
end
local slots = tonumber(ARGV[4])
if slots > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local held = redis.call('ZCARD', KEYS[1])
  if held >= slots then return {429, 'concurrency', held, slots, 0} end
  local ttl = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
end
if window_ms > 0 then
  redis.call('HSET', KEYS[2], 'start', start)
  redis.call('HINCRBY', KEYS[2], 'requests', 1)
  redis.call('PEXPIREAT', KEYS[2], start + window_ms)
end
return {0, '', 0, 0, 0}
)LUA";

// KEYS: 1 concurrency zset, 2 window hash, 3 daily cost, 4 weekly cost, 5 total cost, 6 total tokens,
//       7 usage stream
// ARGV: 1 lease ("" = none), 2 cost micro, 3 tokens, 4 daily ttl s, 5 weekly ttl s, 6 event field,
//       7 event line ("" = release only)
constexpr std::string_view kCompletion = R"LUA(
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
local cost, tokens = tonumber(ARGV[2]), tonumber(ARGV[3])
if cost > 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HINCRBY', KEYS[2], 'costMicro', cost) end
  redis.call('INCRBY', KEYS[3], cost)
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  redis.call('INCRBY', KEYS[4], cost)
  redis.call('EXPIRE', KEYS[4], ARGV[5])
  redis.call('INCRBY', KEYS[5], cost)
end
if tokens > 0 then redis.call('INCRBY', KEYS[6], tokens) end
if ARGV[7] == '' then return 0 end
return redis.call('XADD', KEYS[7], '*', ARGV[6], ARGV[7])
)LUA";

// KEYS: 1 concurrency zset; ARGV: 1 new expiry ms, 2 lease, 3 key ttl ms
constexpr std::string_view kRenewal = R"LUA(
if redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[1], ARGV[2]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 0
)LUA";

std::string concurrency_key(const keys::ApiKey& k) { return "limit:concurrency:" + k.id; }
std::string window_key(const keys::ApiKey& k) { return "limit:window:" + k.id; }
std::string total_cost_key(const keys::ApiKey& k) { return "limit:cost:total:" + k.id; }
std::string total_tokens_key(const keys::ApiKey& k) { return "limit:tokens:total:" + k.id; }

std::tm local_tm(int64_t ms, int tz) {
  std::time_t t = static_cast<std::time_t>(ms / 1000 + tz * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

}  // namespace

Limits::Limits(int timezone_offset_hours, std::chrono::seconds lease_ttl)
    : tz_hours_(timezone_offset_hours), lease_ttl_(lease_ttl) {}

bool Limits::counted(const keys::ApiKey& key) { return key.limits.any(); }

int64_t Limits::next_day_start_ms(int64_t now_ms) const {
  int64_t local = now_ms + tz_hours_ * kHourMs;
  return (local / kDayMs + 1) * kDayMs - tz_hours_ * kHourMs;
}

int64_t Limits::week_start_ms(const keys::KeyLimits& l, int64_t now_ms) const {
  int64_t local = now_ms + tz_hours_ * kHourMs;
  int64_t day_start = local / kDayMs * kDayMs;
  int weekday = local_tm(now_ms, tz_hours_).tm_wday;  // 0 = Sunday
  int iso_day = weekday == 0 ? 7 : weekday;           // 1 = Monday ... 7 = Sunday
  int64_t start = day_start - static_cast<int64_t>((iso_day - l.weekly_reset_day + 7) % 7) * kDayMs +
                  l.weekly_reset_hour * kHourMs;
  if (start > local) start -= kWeekMs;
  return start - tz_hours_ * kHourMs;
}

std::string Limits::daily_key(const keys::ApiKey& key, int64_t now_ms) const {
  auto tm = local_tm(now_ms, tz_hours_);
  return fmt::format("limit:cost:daily:{}:{:04}-{:02}-{:02}", key.id, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::string Limits::weekly_key(const keys::ApiKey& key, int64_t now_ms) const {
  auto tm = local_tm(week_start_ms(key.limits, now_ms), tz_hours_);
  return fmt::format("limit:cost:weekly:{}:{:04}-{:02}-{:02}T{:02}", key.id, tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour);
}

store::RedisCommand Limits::admission(const keys::ApiKey& key, const std::string& lease, int64_t now_ms) const {
  const auto& l = key.limits;
  auto n = [](int64_t v) { return std::to_string(v); };
  return store::make_command("EVAL", std::string(kAdmission), "6", concurrency_key(key), window_key(key),
                             daily_key(key, now_ms), weekly_key(key, now_ms), total_cost_key(key),
                             total_tokens_key(key), n(now_ms), lease,
                             n(std::chrono::duration_cast<std::chrono::milliseconds>(lease_ttl_).count()),
                             n(l.concurrency), n(l.rate_window_minutes * 60 * 1000), n(l.rate_requests),
                             n(l.rate_cost_micro), n(l.daily_cost_micro), n(l.weekly_cost_micro),
                             n(l.total_cost_micro), n(l.total_tokens));
}

Decision Limits::decide(const keys::ApiKey& key, const store::RedisReply& reply, int64_t now_ms) const {
  Decision d;
  if (reply.is_error() || !reply.is_array() || reply.elements.size() < 5) {
    d.error = reply.is_error() ? reply.str : "unexpected reply to the admission script";
    return d;
  }
  const auto& e = reply.elements;
  d.status = static_cast<int>(e[0].integer);
  d.admitted = d.status == 0;
  d.limit = e[1].str;
  d.current = e[2].integer;
  d.maximum = e[3].integer;
  d.reset_at_ms = e[4].integer;
  if (d.limit == "daily_cost") d.reset_at_ms = next_day_start_ms(now_ms);
  if (d.limit == "weekly_cost") d.reset_at_ms = week_start_ms(key.limits, now_ms) + kWeekMs;
  return d;
}

store::RedisCommand Limits::renewal(const keys::ApiKey& key, const std::string& lease, int64_t now_ms) const {
  int64_t ttl = std::chrono::duration_cast<std::chrono::milliseconds>(lease_ttl_).count();
  return store::make_command("EVAL", std::string(kRenewal), "1", concurrency_key(key), std::to_string(now_ms + ttl),
                             lease, std::to_string(ttl * 2));
}

store::RedisCommand Limits::completion(const keys::ApiKey& key, const std::string& lease,
                                       const usage::UsageEvent& event) const {
  int64_t now_ms = event.timestamp_ms;
  return store::make_command("EVAL", std::string(kCompletion), "7", concurrency_key(key), window_key(key),
                             daily_key(key, now_ms), weekly_key(key, now_ms), total_cost_key(key),
                             total_tokens_key(key), std::string(usage::kUsageStream), lease,
                             std::to_string(event.cost_micro), std::to_string(event.usage.total()),
                             std::to_string(2 * kDayMs / 1000), std::to_string((kWeekMs + kDayMs) / 1000),
                             std::string(usage::kUsageField), event.to_wire());
}

store::RedisCommand Limits::release(const keys::ApiKey& key, const std::string& lease) const {
  return store::make_command("ZREM", concurrency_key(key), lease);
}

}  // namespace crs::limits
