#pragma once
// Lua shared by the scripts that meet grants (limits/grants.hpp): the admission, the grant and
// the completion batch. Prepended to their bodies.
namespace crs::limits {

// A holder's share as kept in limit:granted:<id>:
// "slots|requests|window start|micro-USD|tokens|generation". The generation names one life of
// the share (from its first grant to its give-back): a charge of an earlier life must not take
// from a later one.
inline constexpr const char* kShareOf = R"LUA(
local function share_of(text)
  local s = {0, 0, 0, 0, 0, 0}
  if text then
    local i = 1
    for v in string.gmatch(text, '[^|]+') do
      s[i] = tonumber(v) or 0
      i = i + 1
    end
  end
  return s
end
local function share_text(s)
  return string.format('%d|%d|%d|%d|%d|%d', s[1], s[2], s[3], s[4], s[5], s[6])
end
)LUA";

// The shares of holders that died (their grant expired) come back to the key: granted slots and
// reserved budget. `c`: the counters as HMGET read them, resCost, resTokens, grantSlots and
// grants at 10 to 13. KEYS: 1 counters, 3 grants, 4 granted. Returns resCost, resTokens and
// grantSlots after.
inline constexpr const char* kTidyGrants = R"LUA(
local function tidy_grants(c, now)
  local res_cost, res_tokens, gslots = tonumber(c[10]) or 0, tonumber(c[11]) or 0, tonumber(c[12]) or 0
  if (tonumber(c[13]) or 0) == 0 then return res_cost, res_tokens, gslots end
  local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
  if #dead == 0 then return res_cost, res_tokens, gslots end
  for _, h in ipairs(dead) do
    local s = share_of(redis.call('HGET', KEYS[4], h))
    gslots, res_cost, res_tokens = gslots - s[1], res_cost - s[4], res_tokens - s[5]
    redis.call('HDEL', KEYS[4], h)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  gslots, res_cost, res_tokens = math.max(gslots, 0), math.max(res_cost, 0), math.max(res_tokens, 0)
  redis.call('HSET', KEYS[1], 'grantSlots', gslots, 'resCost', res_cost, 'resTokens', res_tokens,
             'grants', redis.call('ZCARD', KEYS[3]))
  return res_cost, res_tokens, gslots
end
)LUA";

}  // namespace crs::limits
