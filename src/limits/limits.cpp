#include "limits/limits.hpp"

#include <algorithm>
#include <ctime>
#include <limits>
#include <random>

#include <fmt/compile.h>  // formats parsed at compile time: these run for every request
#include <fmt/format.h>

#include "limits/completion_batch.hpp"
#include "limits/grant_lua.hpp"
#include "limits/grants.hpp"
#include "store/redis_script.hpp"
#include "usage/spool.hpp"

namespace crs::limits {
namespace {

constexpr int64_t kHourMs = 3600 * 1000, kDayMs = 24 * kHourMs, kWeekMs = 7 * kDayMs;
constexpr uint64_t kMarksPerBitmap = uint64_t{1} << 20;  // a bitmap of 128 KB

// Names this process's bitmaps of applied completions apart from other instances' (and from
// its own before a restart).
std::string random_token() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

// One hash per key holds every counter (micro-USD and tokens), so each script reads them all
// with one HMGET and writes with one HSET:
//   totalCost totalTokens | day dayCost | week weekCost | winStart winRequests winCost
// The day and week fields name the period their cost belongs to: a new period starts at 0.
// Concurrency leases are members of a sorted set scored by their expiry.

// Times come from Redis (TIME), not from the instances: leases and windows must not depend
// on every instance's clock agreeing.
// KEYS: 1 counters, 2 leases, 3 grants, 4 granted (limits/grants.hpp: holders' shares count as
// used; those of dead holders are tidied here)
// ARGV: 1 "1" when the key has budgets (reservations count), 2 lease, 3 lease ttl ms, 4 slots,
//       5 window ms, 6 window requests limit, 7 window cost limit, 8 daily limit,
//       9 weekly limit, 10 total cost limit, 11 total tokens limit, 12 this day, 13 this week,
//       14 this request's reserved micro-USD, 15 its reserved tokens
// Returns {status, limit name, current, maximum, reset at ms, now ms}; status 0 = admitted.
// Budgets count what is spent plus what requests in flight have reserved. A reservation lives
// in its lease's member ("<id>|<micro-USD>|<tokens>") and, summed, in the counters' resCost
// and resTokens: added at admission, taken off when the lease goes (completion, release, or
// expiry of a crashed instance's lease, tidied here), so admission stays O(1) however many
// requests are in flight.
// Both scripts run for every request: no string formatting (numbers go to Redis as integers
// all the same), which saves Redis about 1.5 µs per call.
const store::Script kAdmission(std::string(kShareOf) + kTidyGrants + R"LUA(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local c = redis.call('HMGET', KEYS[1], 'totalCost', 'totalTokens', 'day', 'dayCost', 'week', 'weekCost',
                     'winStart', 'winRequests', 'winCost', 'resCost', 'resTokens', 'grantSlots', 'grants')
local res_cost, res_tokens, granted_slots = tidy_grants(c, now)
local held_cost, held_tokens = 0, 0
if ARGV[1] == '1' then
  held_cost, held_tokens = res_cost, res_tokens
  local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)  -- leases of crashed instances
  if #dead > 0 then
    for i = 1, #dead do
      local rc, rt = string.match(dead[i], '|(%d+)|(%d+)$')
      if rc then held_cost, held_tokens = held_cost - tonumber(rc), held_tokens - tonumber(rt) end
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    if held_cost < 0 then held_cost = 0 end
    if held_tokens < 0 then held_tokens = 0 end
    redis.call('HSET', KEYS[1], 'resCost', held_cost, 'resTokens', held_tokens)
  end
end
local used, limit = (tonumber(c[1]) or 0) + held_cost, tonumber(ARGV[10])
if limit > 0 and used >= limit then return {402, 'total_cost', used, limit, 0, now} end
used, limit = (tonumber(c[2]) or 0) + held_tokens, tonumber(ARGV[11])
if limit > 0 and used >= limit then return {402, 'total_tokens', used, limit, 0, now} end
used, limit = held_cost, tonumber(ARGV[8])
if c[3] == ARGV[12] then used = used + (tonumber(c[4]) or 0) end
if limit > 0 and used >= limit then return {402, 'daily_cost', used, limit, 0, now} end
used, limit = held_cost, tonumber(ARGV[9])
if c[5] == ARGV[13] then used = used + (tonumber(c[6]) or 0) end
if limit > 0 and used >= limit then return {402, 'weekly_cost', used, limit, 0, now} end
local window = tonumber(ARGV[5])
local start, requests, cost = tonumber(c[7]) or 0, tonumber(c[8]) or 0, tonumber(c[9]) or 0
if window > 0 then
  if start == 0 or now >= start + window then
    start, requests, cost = now, 0, 0
  else
    limit = tonumber(ARGV[6])
    if limit > 0 and requests >= limit then return {429, 'window_requests', requests, limit, start + window, now} end
    limit = tonumber(ARGV[7])
    if limit > 0 and cost + held_cost >= limit then
      return {429, 'window_cost', cost + held_cost, limit, start + window, now}
    end
  end
end
local slots = tonumber(ARGV[4])
if slots > 0 then
  local held = redis.call('ZCOUNT', KEYS[2], now, '+inf') + granted_slots
  if held >= slots then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)  -- leases of crashed instances
    return {429, 'concurrency', held, slots, 0, now}
  end
end
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2]) end
local fields = {}  -- one HSET for the reservation and the window
if ARGV[1] == '1' then
  fields = {'resCost', held_cost + tonumber(ARGV[14]), 'resTokens', held_tokens + tonumber(ARGV[15])}
end
if window > 0 then
  fields[#fields + 1], fields[#fields + 2] = 'winStart', start
  fields[#fields + 1], fields[#fields + 2] = 'winRequests', requests + 1
  fields[#fields + 1], fields[#fields + 2] = 'winCost', cost
end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
return {0, '', 0, 0, 0, now}
)LUA");

// KEYS: 1 leases; ARGV: 1 lease, 2 ttl ms
const store::Script kRenewal(R"LUA(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
)LUA");

// KEYS: 1 counters, 2 leases, 3 usage stream, 4 this instance's bitmap of applied completions
// ARGV: 1 lease ("" = none), 2 cost micro, 3 tokens, 4 this day, 5 this week, 6 event field,
//       7 event line, 8 the completion's bit in KEYS[4] ("" = none)
// The bit makes a completion apply once, whichever of its copies comes first: the first attempt,
// or its replay from the spool when the first attempt's reply was lost (it may have been applied
// by an old primary and replicated before a failover, or still wait in a stalled Redis's queue
// while the replay goes by another connection). 128 KB per million completions, kept a day.
constexpr char kCompletionBody[] = R"LUA(
if ARGV[8] ~= '' then
  if redis.call('SETBIT', KEYS[4], ARGV[8], 1) == 1 then return 'applied' end
  redis.call('EXPIRE', KEYS[4], 86400)
end
local rc, rt = 0, 0  -- the reservation the lease gives back
if ARGV[1] ~= '' and redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  local c1, t1 = string.match(ARGV[1], '|(%d+)|(%d+)$')
  if c1 then rc, rt = tonumber(c1), tonumber(t1) end
end
local cost, tokens = tonumber(ARGV[2]), tonumber(ARGV[3])
if cost > 0 or tokens > 0 then
  -- The charge and the reservation's return in one read and one write.
  local c = redis.call('HMGET', KEYS[1], 'totalCost', 'totalTokens', 'day', 'dayCost', 'week', 'weekCost',
                       'winStart', 'winCost', 'resCost', 'resTokens')
  local day_cost, week_cost = cost, cost
  if c[3] == ARGV[4] then day_cost = day_cost + (tonumber(c[4]) or 0) end
  if c[5] == ARGV[5] then week_cost = week_cost + (tonumber(c[6]) or 0) end
  local f = {'totalCost', (tonumber(c[1]) or 0) + cost, 'totalTokens', (tonumber(c[2]) or 0) + tokens,
             'day', ARGV[4], 'dayCost', day_cost, 'week', ARGV[5], 'weekCost', week_cost}
  if c[7] then f[#f + 1], f[#f + 2] = 'winCost', (tonumber(c[8]) or 0) + cost end
  if rc > 0 or rt > 0 then
    f[#f + 1], f[#f + 2] = 'resCost', (tonumber(c[9]) or 0) - rc
    f[#f + 1], f[#f + 2] = 'resTokens', (tonumber(c[10]) or 0) - rt
  end
  redis.call('HSET', KEYS[1], unpack(f))
elseif rc > 0 or rt > 0 then
  redis.call('HINCRBY', KEYS[1], 'resCost', -rc)
  redis.call('HINCRBY', KEYS[1], 'resTokens', -rt)
end
return redis.call('XADD', KEYS[3], '*', ARGV[6], ARGV[7])
)LUA";
const store::Script kCompletion(kCompletionBody);

// A completion sent again from the spool (usage/spool.hpp). KEYS as kCompletion's, then
// 5 the request's replay marker; ARGV as kCompletion's, then 9 "1" when the first attempt may
// have reached Redis. Applied once per request id, and once with its first attempt through
// the bit (kCompletionBody). One spooled by a version without bits, when ambiguous, applies
// only while its lease is still held.
const store::Script kReplayedCompletion(
    std::string("if not redis.call('SET', KEYS[5], '1', 'NX', 'EX', 86400) then return 'duplicate' end\n"
                "if ARGV[9] == '1' and ARGV[8] == '' and ARGV[1] ~= '' and not redis.call('ZSCORE', KEYS[2], ARGV[1]) then\n"
                "  return 'applied'\n"
                "end\n") +
    kCompletionBody);

// A lease given back without a charge, with its reservation. Sent as EVAL (with its body): it is
// rare (a request that ended without an answer), and spooled copies outlive a Redis restart.
// KEYS: 1 counters, 2 leases; ARGV: 1 lease
constexpr char kReleaseSource[] = R"LUA(
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  local rc, rt = string.match(ARGV[1], '|(%d+)|(%d+)$')
  if rc then
    redis.call('HINCRBY', KEYS[1], 'resCost', -tonumber(rc))
    redis.call('HINCRBY', KEYS[1], 'resTokens', -tonumber(rt))
  end
  return 1
end
return 0
)LUA";

// KEYS: 1 counters, 2 the key's all-time usage, 3.. its daily usage of this week, today first
// ARGV: 1 this day, 2 this week
const store::Script kSeed(R"LUA(
if redis.call('HEXISTS', KEYS[1], 'totalCost') == 1 then return 0 end
local total = redis.call('HMGET', KEYS[2], 'totalCostMicro', 'totalAllTokens')
local function num(v) return tonumber(v or '0') or 0 end
local today, week = num(redis.call('HGET', KEYS[3], 'costMicro')), 0
for i = 3, #KEYS do week = week + num(redis.call('HGET', KEYS[i], 'costMicro')) end
local function int(v) return string.format('%d', v) end
redis.call('HSET', KEYS[1], 'totalCost', int(num(total[1])), 'totalTokens', int(num(total[2])), 'day', ARGV[1],
           'dayCost', int(today), 'week', ARGV[2], 'weekCost', int(week))
return 1
)LUA");


std::tm local_tm(int64_t ms, int tz) {
  std::time_t t = static_cast<std::time_t>(ms / 1000 + tz * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

}  // namespace

Limits::Limits(int timezone_offset_hours, std::chrono::seconds lease_ttl)
    : tz_hours_(timezone_offset_hours),
      lease_ttl_(lease_ttl),
      marks_token_(random_token()),
      marks_(std::make_shared<std::atomic<uint64_t>>(0)) {}

bool Limits::counted(const keys::ApiKey& key) { return key.limits.any(); }

bool Limits::budgeted(const keys::ApiKey& key) {
  const auto& l = key.limits;
  return l.total_cost_micro || l.total_tokens || l.daily_cost_micro || l.weekly_cost_micro ||
         (l.rate_window_minutes && l.rate_cost_micro);
}

std::string Limits::lease_member(std::string_view id, int64_t reserved_cost_micro, int64_t reserved_tokens) {
  return fmt::format(FMT_COMPILE("{}|{}|{}"), id, std::max<int64_t>(reserved_cost_micro, 0), std::max<int64_t>(reserved_tokens, 0));
}

int64_t Limits::next_day_start_ms(int64_t now_ms) const {
  int64_t local = now_ms + tz_hours_ * kHourMs;
  return (local / kDayMs + 1) * kDayMs - tz_hours_ * kHourMs;
}

int64_t Limits::week_start_ms(const keys::KeyLimits& l, int64_t now_ms) const {
  int64_t local = now_ms + tz_hours_ * kHourMs;
  int64_t day_start = local / kDayMs * kDayMs;
  int weekday = static_cast<int>((local / kDayMs + 4) % 7);  // 0 = Sunday; 1970-01-01 was a Thursday
  int iso_day = weekday == 0 ? 7 : weekday;                     // 1 = Monday ... 7 = Sunday
  int64_t start = day_start - static_cast<int64_t>((iso_day - l.weekly_reset_day + 7) % 7) * kDayMs +
                  l.weekly_reset_hour * kHourMs;
  if (start > local) start -= kWeekMs;
  return start - tz_hours_ * kHourMs;
}

// Every admission and completion asks for today's and this week's labels: each is formatted
// once per thread while it stays the same.
struct LabelCache {
  int64_t at = std::numeric_limits<int64_t>::min();  // the local day, or the week's first hour
  int tz = 0;
  std::string label;
};

std::string Limits::day_label(int64_t now_ms) const {
  thread_local LabelCache cache;
  int64_t day = (now_ms + tz_hours_ * kHourMs) / kDayMs;
  if (cache.at != day || cache.tz != tz_hours_) {
    auto tm = local_tm(now_ms, tz_hours_);
    cache = {day, tz_hours_,
             fmt::format(FMT_COMPILE("{:04}-{:02}-{:02}"), tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday)};
  }
  return cache.label;
}

std::string Limits::week_label(const keys::ApiKey& key, int64_t now_ms) const {
  thread_local LabelCache cache;
  int64_t start = week_start_ms(key.limits, now_ms);
  if (cache.at != start || cache.tz != tz_hours_) {
    auto tm = local_tm(start, tz_hours_);
    cache = {start, tz_hours_,
             fmt::format(FMT_COMPILE("{:04}-{:02}-{:02}T{:02}"), tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour)};
  }
  return cache.label;
}

ScriptCall Limits::admission(const keys::ApiKey& key, const std::string& lease, int64_t now_ms,
                             int64_t reserved_cost_micro, int64_t reserved_tokens) const {
  const auto& l = key.limits;
  auto n = [](int64_t v) { return std::to_string(v); };
  std::vector<std::string> args{budgeted(key) ? "1" : "",
                                lease,
                                n(std::chrono::duration_cast<std::chrono::milliseconds>(lease_ttl_).count()),
                                n(l.concurrency),
                                n(l.rate_window_minutes * 60 * 1000),
                                n(l.rate_requests),
                                n(l.rate_cost_micro),
                                n(l.daily_cost_micro),
                                n(l.weekly_cost_micro),
                                n(l.total_cost_micro),
                                n(l.total_tokens),
                                day_label(now_ms),
                                week_label(key, now_ms),
                                n(std::max<int64_t>(reserved_cost_micro, 0)),
                                n(std::max<int64_t>(reserved_tokens, 0))};
  return {&kAdmission, kAdmission.call({counters_key(key.id), leases_key(key.id), grants_key(key.id),
                                        granted_key(key.id)},
                                       std::move(args))};
}

Decision Limits::decide(const keys::ApiKey& key, const store::RedisReply& reply, int64_t now_ms) const {
  Decision d;
  if (reply.is_error() || !reply.is_array() || reply.elements.size() < 6) {
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
  d.now_ms = e[5].integer > 0 ? e[5].integer : now_ms;
  now_ms = d.now_ms;
  if (d.limit == "daily_cost") d.reset_at_ms = next_day_start_ms(now_ms);
  if (d.limit == "weekly_cost") d.reset_at_ms = week_start_ms(key.limits, now_ms) + kWeekMs;
  return d;
}

ScriptCall Limits::renewal(std::string_view key_id, const std::string& lease) const {
  return renewal_in(leases_key(key_id), lease);
}

ScriptCall Limits::renewal_in(std::string leases_zset, const std::string& lease) const {
  int64_t ttl = std::chrono::duration_cast<std::chrono::milliseconds>(lease_ttl_).count();
  return {&kRenewal, kRenewal.call({std::move(leases_zset)}, {lease, std::to_string(ttl)})};
}

ScriptCall Limits::completion(const keys::ApiKey& key, const std::string& lease, const usage::UsageEvent& event) const {
  int64_t now_ms = event.timestamp_ms;
  uint64_t mark = marks_->fetch_add(1, std::memory_order_relaxed);
  std::vector<std::string> args{lease,
                                std::to_string(event.cost_micro),
                                std::to_string(event.usage.total()),
                                day_label(now_ms),
                                week_label(key, now_ms),
                                std::string(usage::kUsageField),
                                event.to_wire(),
                                std::to_string(mark % kMarksPerBitmap)};
  std::vector<std::string> keys{counters_key(key.id), leases_key(key.id), std::string(usage::kUsageStream),
                                fmt::format("usage:applied:{}:{}", marks_token_, mark / kMarksPerBitmap)};
  return {&kCompletion, kCompletion.call(std::move(keys), std::move(args))};
}

Completion Limits::completion_record(const keys::ApiKey& key, const std::string& lease,
                                     const usage::UsageEvent& event) const {
  Completion c;
  c.key_id = key.id;
  c.lease = lease;
  c.cost_micro = event.cost_micro;
  c.tokens = event.usage.total();
  c.day = day_label(event.timestamp_ms);
  c.week = week_label(key, event.timestamp_ms);
  c.event = event.to_wire();
  return c;
}

ScriptCall Limits::seed(const keys::ApiKey& key, int64_t now_ms) const {
  std::vector<std::string> keys{counters_key(key.id), "usage:" + key.id};
  int64_t week_start = week_start_ms(key.limits, now_ms);
  // Today first, then back to the day the week started in.
  for (int64_t day = now_ms; keys.size() < 10; day -= kDayMs) {
    keys.push_back("usage:daily:" + key.id + ":" + day_label(day));
    if (day_label(day) == day_label(week_start)) break;
  }
  return {&kSeed, kSeed.call(std::move(keys), {day_label(now_ms), week_label(key, now_ms)})};
}

Limits::Usage Limits::current(const keys::ApiKey& key, const store::HashRecord& c, int64_t now_ms) const {
  auto num = [&](const char* name) { return std::atoll(store::field(c, name, "0").c_str()); };
  Usage u;
  u.total_cost_micro = num("totalCost");
  u.total_tokens = num("totalTokens");
  if (store::field(c, "day") == day_label(now_ms)) u.daily_cost_micro = num("dayCost");
  if (store::field(c, "week") == week_label(key, now_ms)) u.weekly_cost_micro = num("weekCost");
  int64_t window_ms = key.limits.rate_window_minutes * 60 * 1000;
  int64_t start = num("winStart");
  if (window_ms > 0 && start > 0 && now_ms < start + window_ms) {
    u.window_requests = num("winRequests");
    u.window_cost_micro = num("winCost");
    u.window_start_ms = start;
    u.window_end_ms = start + window_ms;
  }
  return u;
}

store::RedisCommand Limits::replay_form(const usage::SpoolEntry& e) {
  // The completion's call is EVALSHA <sha> 4 <keys...> <8 args> (3 keys and 7 args when spooled
  // by a version without applied bits); replayed with its source (a restarted Redis knows no
  // script), the marker as a fifth key and the ambiguity flag.
  const auto& c = e.command;
  if (!e.completion || c.size() < 2 || c[0] != "EVALSHA") return c;
  bool legacy = c.size() == 13 && c[2] == "3";
  if (!legacy && !(c.size() == 15 && c[2] == "4")) return c;
  std::vector<std::string> keys(c.begin() + 3, c.begin() + (legacy ? 6 : 7));
  std::vector<std::string> args(c.begin() + (legacy ? 6 : 7), c.end());
  if (legacy) {
    keys.push_back("usage:applied:none");
    args.push_back("");
  }
  keys.push_back("usage:replayed:" + e.request_id);
  args.push_back(e.ambiguous ? "1" : "0");
  return kReplayedCompletion.with_source(kReplayedCompletion.call(std::move(keys), std::move(args)));
}

store::RedisCommand Limits::release(const keys::ApiKey& key, const std::string& lease) const {
  return store::make_command("EVAL", std::string(kReleaseSource), "2", counters_key(key.id), leases_key(key.id), lease);
}

}  // namespace crs::limits
