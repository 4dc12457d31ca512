#include "scheduler/selection.hpp"

#include <cstdio>

#include <fmt/format.h>

namespace crs::scheduler {
namespace {

// KEYS: 1 last_used, 2 the session's sticky key, 2+i candidate i's leases, 2+n+i the sessions
// candidate i holds. ARGV: lease, lease TTL ms, mode, session, sticky TTL s, n, then per
// candidate: id, cap, tier (lower first: headroom, then priority), may_stay (1/0); last, the
// prefix of the sessions keys (for the account a session leaves, which may not be a candidate). Redis's clock decides lease expiry (one clock for all
// instances). Reply: {account or "", how, moved_from, why}.
constexpr std::string_view kSelection = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, ttl, mode, session = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local sticky_ttl, n = tonumber(ARGV[5]), tonumber(ARGV[6])
local function arg(i, k) return ARGV[6 + (i - 1) * 4 + k] end
local function free(i)
  local cap = tonumber(arg(i, 2))
  if cap <= 0 then return true end
  redis.call('ZREMRANGEBYSCORE', KEYS[2 + i], '-inf', now)
  return redis.call('ZCARD', KEYS[2 + i]) < cap
end
local last = {}  -- least_recent: each candidate's last selection (ms)
local function take(i, how, from, why)
  local id = arg(i, 1)
  if tonumber(arg(i, 2)) > 0 then
    -- No key expiry: a lease renewed past it would vanish with the key. Expired leases are
    -- removed by score above; an empty set is gone by itself.
    redis.call('ZADD', KEYS[2 + i], now + ttl, lease)
  end
  -- Strictly after every candidate's last selection, even within one millisecond: two
  -- selections stamped alike would tie, and least_recent could pick the same account twice.
  local stamp = now
  for _, v in pairs(last) do
    if v >= stamp then stamp = v + 1 end
  end
  redis.call('HSET', KEYS[1], id, stamp)
  if session ~= '' then
    redis.call('SET', KEYS[2], id, 'EX', sticky_ttl)
    -- The sessions each account holds, for the status view (members expire with their TTL).
    local held = KEYS[2 + n + i]
    redis.call('ZADD', held, now + sticky_ttl * 1000, session)
    redis.call('ZREMRANGEBYSCORE', held, '-inf', now)
    redis.call('PEXPIRE', held, sticky_ttl * 1000)
    if from ~= '' and from ~= id then redis.call('ZREM', ARGV[7 + n * 4] .. from, session) end
  end
  return {id, how, from, why}
end
local from, why = '', ''
if session ~= '' then
  local held = redis.call('GET', KEYS[2])
  if held then
    from = held
    why = 'not_a_candidate'
    for i = 1, n do
      if arg(i, 1) == held then
        if arg(i, 4) ~= '1' then
          why = 'slow_or_paused'
        elseif free(i) then
          return take(i, 'sticky', '', '')
        else
          why = 'full'
        end
        break
      end
    end
  end
end
local order = {}
for i = 1, n do order[i] = i end
if mode == 'least_recent' and n > 1 then
  local ids = {}
  for i = 1, n do ids[i] = arg(i, 1) end
  local seen = redis.call('HMGET', KEYS[1], unpack(ids))
  for i = 1, n do last[i] = tonumber(seen[i]) or 0 end
  table.sort(order, function(a, b)
    local ta, tb = tonumber(arg(a, 3)), tonumber(arg(b, 3))
    if ta ~= tb then return ta < tb end
    if last[a] ~= last[b] then return last[a] < last[b] end
    return a < b
  end)
end
local how = 'picked'
if session ~= '' then
  if from == '' then how = 'sticky_new' else how = 'moved' end
end
-- A session leaving a slow or paused account goes elsewhere if it can.
for _, i in ipairs(order) do
  if (why ~= 'slow_or_paused' or arg(i, 1) ~= from) and free(i) then return take(i, how, from, why) end
end
if why == 'slow_or_paused' then
  for _, i in ipairs(order) do
    if arg(i, 1) == from and free(i) then return take(i, 'sticky', '', '') end
  end
end
return {'', how, from, why}
)lua";

constexpr std::string_view kRelease = R"lua(
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
)lua";

}  // namespace

std::string leases_key(std::string_view account_id) { return std::string(kLeasesPrefix) + std::string(account_id); }
std::string sessions_key(std::string_view account_id) {
  return std::string(kSessionsPrefix) + std::string(account_id);
}
std::string tokens_key(std::string_view account_id) { return std::string(kTokensPrefix) + std::string(account_id); }

const store::Script& selection_script() {
  static const store::Script script(kSelection);
  return script;
}

store::RedisCommand selection_command(const SelectionRequest& r) {
  std::vector<std::string> keys{std::string(kLastUsedKey), std::string(kStickyPrefix) + r.session};
  std::vector<std::string> args{r.lease,
                                std::to_string(r.lease_ttl_ms),
                                r.least_recent ? "least_recent" : "order",
                                r.session,
                                std::to_string(r.sticky_ttl_s),
                                std::to_string(r.candidates.size())};
  for (const auto& c : r.candidates) {
    keys.push_back(leases_key(c.account_id));
    args.push_back(c.account_id);
    args.push_back(std::to_string(c.cap));
    args.push_back(std::to_string(c.tier));
    args.push_back(c.may_stay ? "1" : "0");
  }
  for (const auto& c : r.candidates) keys.push_back(sessions_key(c.account_id));
  args.push_back(sessions_key(""));  // the prefix
  return selection_script().call(std::move(keys), std::move(args));
}

Selection read_selection(const store::RedisReply& reply) {
  Selection s;
  if (reply.is_error()) {
    s.error = reply.str;
    return s;
  }
  if (reply.elements.size() < 4) {
    s.error = "unexpected reply from the selection script";
    return s;
  }
  s.account_id = reply.elements[0].str;
  s.how = reply.elements[1].str;
  s.moved_from = reply.elements[2].str;
  s.why = reply.elements[3].str;
  return s;
}

store::RedisCommand lease_release(const std::string& account_id, const std::string& lease) {
  // EVAL with the body, not EVALSHA: a release spooled through a Redis restart must still run.
  return store::make_command("EVAL", std::string(kRelease), "1", leases_key(account_id), lease,
                             std::string(kSlotFreedChannel), account_id);
}

std::string Utilization::encode() const {
  return fmt::format("{:.4f},{:.4f},{},{}", five_hour, seven_day, five_hour_until_ms, seven_day_until_ms);
}

Utilization Utilization::decode(const std::string& text) {
  Utilization u;
  long long a = 0, b = 0;
  if (std::sscanf(text.c_str(), "%lf,%lf,%lld,%lld", &u.five_hour, &u.seven_day, &a, &b) != 4) return Utilization{};
  u.five_hour_until_ms = a;
  u.seven_day_until_ms = b;
  return u;
}

store::RedisCommand utilization_record(const std::string& account_id, const Utilization& u) {
  return store::make_command("HSET", std::string(kUtilizationKey), account_id, u.encode());
}

int64_t window_tokens(const store::RedisReply& hash, int64_t now_ms, int64_t window_ms) {
  int64_t first_bucket = (now_ms - window_ms) / kTokenBucketMs + 1;
  int64_t sum = 0;
  for (size_t i = 0; i + 1 < hash.elements.size(); i += 2) {
    int64_t bucket = std::atoll(hash.elements[i].str.c_str());
    if (bucket >= first_bucket) sum += std::atoll(hash.elements[i + 1].str.c_str());
  }
  return sum;
}

}  // namespace crs::scheduler
