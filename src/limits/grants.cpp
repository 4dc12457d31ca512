#include "limits/grants.hpp"

#include <charconv>

#include "limits/grant_lua.hpp"

namespace crs::limits {
namespace {

// KEYS: 1 counters, 2 leases, 3 grants (holder -> expiry ms), 4 granted (holder -> share)
// ARGV: 1 holder, 2 ttl ms, 3-6 want (slots, requests, micro-USD, tokens), 7-10 the minimum of
//       each, 11-14 given back (-1: all), 15 slots limit, 16 window ms, 17 window requests
//       limit, 18 window cost limit, 19 daily, 20 weekly, 21 total cost, 22 total tokens,
//       23 this day, 24 this week, 25 "1" when the key has budgets, 26 the generation of the
//       holder's share (a new one when it has none in Redis)
// Returns {tight, slots, requests, micro-USD, tokens granted by this call, window start and end
// ms (0: none), now ms, 1 when Redis held the holder's share of that generation before}.
// A holder's share is capped at its fair part: (free + what it holds) / split, so one busy
// holder cannot take nearly everything by asking again and again.
const store::Script kGrant(std::string(kShareOf) + std::string(kTidyGrants) + R"LUA(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local c = redis.call('HMGET', KEYS[1], 'totalCost', 'totalTokens', 'day', 'dayCost', 'week', 'weekCost',
                     'winStart', 'winRequests', 'winCost', 'resCost', 'resTokens', 'grantSlots', 'grants')
local res_cost, res_tokens, gslots = tidy_grants(c, now)
if ARGV[25] == '1' then  -- reservations of exact admissions whose instance died (as kAdmission)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  for i = 1, #dead do
    local rc, rt = string.match(dead[i], '|(%d+)|(%d+)$')
    if rc then res_cost, res_tokens = res_cost - tonumber(rc), res_tokens - tonumber(rt) end
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
  res_cost, res_tokens = math.max(res_cost, 0), math.max(res_tokens, 0)
end
local asks = tonumber(ARGV[3]) + tonumber(ARGV[4]) + tonumber(ARGV[5]) + tonumber(ARGV[6]) > 0
local window = tonumber(ARGV[16])
local start, requests, wcost = tonumber(c[7]) or 0, tonumber(c[8]) or 0, tonumber(c[9]) or 0
-- Only a grant starts a new window: a give-back (perhaps with the key's old limits) does not.
if asks and window > 0 and (start == 0 or now >= start + window) then start, requests, wcost = now, 0, 0 end
local mine = redis.call('HGET', KEYS[4], ARGV[1])
local s = share_of(mine)
local known = mine and s[6] == tonumber(ARGV[26])
if not mine then s[6] = tonumber(ARGV[26]) end
if s[3] ~= start then s[2], s[3] = 0, start end  -- requests of an earlier window are spent
local function give(i, arg)
  local b = tonumber(ARGV[arg])
  if b < 0 or b > s[i] then b = s[i] end
  s[i] = s[i] - b
  return b
end
gslots = math.max(gslots - give(1, 11), 0)
requests = math.max(requests - give(2, 12), 0)
res_cost = math.max(res_cost - give(4, 13), 0)
res_tokens = math.max(res_tokens - give(5, 14), 0)
-- What nobody uses, reserves or holds; a grant takes at most half of it, split among the holders.
local others = redis.call('ZCARD', KEYS[3])
if mine then others = others - 1 end
local split = 2 * (others + 1)
local none = 9e15
local free = {none, none, none, none}
local slots = tonumber(ARGV[15])
if slots > 0 then free[1] = slots - redis.call('ZCOUNT', KEYS[2], now, '+inf') - gslots end
if window > 0 and tonumber(ARGV[17]) > 0 then free[2] = tonumber(ARGV[17]) - requests end
local function cap(limit, used)
  if limit > 0 then free[3] = math.min(free[3], limit - used - res_cost) end
end
cap(tonumber(ARGV[21]), tonumber(c[1]) or 0)
cap(tonumber(ARGV[19]), c[3] == ARGV[23] and (tonumber(c[4]) or 0) or 0)
cap(tonumber(ARGV[20]), c[5] == ARGV[24] and (tonumber(c[6]) or 0) or 0)
if window > 0 then cap(tonumber(ARGV[18]), wcost) end
if tonumber(ARGV[22]) > 0 then free[4] = tonumber(ARGV[22]) - (tonumber(c[2]) or 0) - res_tokens end
local got, tight = {0, 0, 0, 0}, false
local held = {s[1], s[2], s[4], s[5]}
for i = 1, 4 do
  local want = tonumber(ARGV[2 + i])
  if want > 0 then
    local fair = math.floor((free[i] + held[i]) / split) - held[i]
    got[i] = math.max(math.min(want, fair), 0)
    if got[i] < tonumber(ARGV[6 + i]) then tight = true end
  end
end
if tight then got = {0, 0, 0, 0} end
s[1], s[2], s[4], s[5] = s[1] + got[1], s[2] + got[2], s[4] + got[3], s[5] + got[4]
gslots, requests = gslots + got[1], requests + got[2]
res_cost, res_tokens = res_cost + got[3], res_tokens + got[4]
-- Requests granted stay counted in the window once used; a holder that asks for nothing more
-- and holds nothing else is done.
if s[1] + s[4] + s[5] > 0 or (asks and s[2] > 0) then
  redis.call('HSET', KEYS[4], ARGV[1], share_text(s))
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
elseif mine then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
local f = {'resCost', res_cost, 'resTokens', res_tokens, 'grantSlots', gslots, 'grants', redis.call('ZCARD', KEYS[3])}
if window > 0 then
  f[#f + 1], f[#f + 2] = 'winStart', start
  f[#f + 1], f[#f + 2] = 'winRequests', requests
  f[#f + 1], f[#f + 2] = 'winCost', wcost
end
redis.call('HSET', KEYS[1], unpack(f))
if window == 0 then start = 0 end
return {tight and 1 or 0, got[1], got[2], got[3], got[4], start, start + window, now, known and 1 or 0}
)LUA");

std::string number(int64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  return std::string(digits, end);
}

}  // namespace

std::string grants_key(std::string_view key_id) { return "limit:grants:" + std::string(key_id); }
std::string granted_key(std::string_view key_id) { return "limit:granted:" + std::string(key_id); }

ScriptCall grant_call(const Limits& limits, const keys::ApiKey& key, const std::string& holder, int64_t generation,
                      const Shares& want, const Shares& minimum, const Shares& back, int64_t now_ms) {
  const auto& l = key.limits;
  int64_t ttl = std::chrono::duration_cast<std::chrono::milliseconds>(limits.lease_ttl()).count();
  std::vector<std::string> args{holder,
                                number(ttl),
                                number(want.slots),
                                number(want.requests),
                                number(want.cost_micro),
                                number(want.tokens),
                                number(minimum.slots),
                                number(minimum.requests),
                                number(minimum.cost_micro),
                                number(minimum.tokens),
                                number(back.slots),
                                number(back.requests),
                                number(back.cost_micro),
                                number(back.tokens),
                                number(l.concurrency),
                                number(l.rate_window_minutes * 60 * 1000),
                                number(l.rate_requests),
                                number(l.rate_cost_micro),
                                number(l.daily_cost_micro),
                                number(l.weekly_cost_micro),
                                number(l.total_cost_micro),
                                number(l.total_tokens),
                                limits.day_label(now_ms),
                                limits.week_label(key, now_ms),
                                Limits::budgeted(key) ? "1" : "",
                                number(generation)};
  std::vector<std::string> keys{Limits::counters_key(key.id), Limits::leases_key(key.id), grants_key(key.id),
                                granted_key(key.id)};
  return {&kGrant, kGrant.call(std::move(keys), std::move(args))};
}

Granted parse_granted(const store::RedisReply& reply) {
  Granted g;
  if (reply.is_error() || !reply.is_array() || reply.elements.size() < 9) {
    g.error = reply.is_error() ? reply.str : "unexpected reply to the grant script";
    return g;
  }
  const auto& e = reply.elements;
  g.ok = true;
  g.tight = e[0].integer == 1;
  g.added = Shares{e[1].integer, e[2].integer, e[3].integer, e[4].integer};
  g.window_start_ms = e[5].integer;
  g.window_end_ms = e[5].integer > 0 ? e[6].integer : 0;
  g.now_ms = e[7].integer;
  g.known = e[8].integer == 1;
  return g;
}

}  // namespace crs::limits
