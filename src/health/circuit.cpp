#include "health/circuit.hpp"

#include <algorithm>
#include <cstdlib>

#include "scheduler/selection.hpp"

namespace crs::health {
namespace {

// KEYS[1] circuit; ARGV now, threshold, base delay ms, max backoff ms, force (0|1), channel, account,
// started (ms the attempt began). A failure of an attempt begun before the circuit last opened
// (it was in flight meanwhile) is counted but moves nothing: the trial decides.
constexpr std::string_view kFailure = R"lua(
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'opens', 'nextTry', 'openedAt')
local state = h[1] or 'closed'
local failures = tonumber(h[2] or '0') + 1
local opens = tonumber(h[3] or '0')
local opened_at = tonumber(h[5] or '0')
if state == 'open' or (state == 'half_open' and tonumber(ARGV[8]) < opened_at) then
  redis.call('HSET', KEYS[1], 'failures', failures)
  return {state, failures, opens, opened_at, tonumber(h[4] or '0'), 0}
end
if state == 'closed' and ARGV[5] ~= '1' and failures < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', failures)
  return {'closed', failures, opens, 0, 0, 0}
end
opens = opens + 1
local delay = math.min(tonumber(ARGV[3]) * math.pow(2, math.min(opens - 1, 40)), tonumber(ARGV[4]))
local next_try = now + math.floor(delay)
redis.call('HSET', KEYS[1], 'state', 'open', 'failures', failures, 'opens', opens, 'openedAt', now,
           'nextTry', next_try, 'trialUntil', 0)
redis.call('PUBLISH', ARGV[6], 'circuit:' .. ARGV[7])
return {'open', failures, opens, now, next_try, 1}
)lua";

// KEYS[1] circuit; ARGV channel, account, started (ms the attempt began). Returns 2 when a
// half-open circuit closed, 1 when a closed one's failures were cleared, 0 when nothing changed
// (an open circuit waits for its trial; an attempt begun before the last opening is not the trial).
constexpr std::string_view kSuccess = R"lua(
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'openedAt')
if not h[1] and not h[2] then return 0 end
if h[1] == 'open' then return 0 end
if h[1] == 'half_open' and tonumber(ARGV[3]) < tonumber(h[3] or '0') then return 0 end
redis.call('DEL', KEYS[1])
if h[1] == 'half_open' then
  redis.call('PUBLISH', ARGV[1], 'circuit:' .. ARGV[2])
  return 2
end
return 1
)lua";

// KEYS[1] circuit; ARGV now, trial ms.
constexpr std::string_view kClaim = R"lua(
local h = redis.call('HMGET', KEYS[1], 'state', 'nextTry', 'trialUntil')
local now = tonumber(ARGV[1])
if (h[1] == 'open' and now >= tonumber(h[2] or '0')) or (h[1] == 'half_open' and now >= tonumber(h[3] or '0')) then
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'trialUntil', now + tonumber(ARGV[2]))
  return 1
end
return 0
)lua";

int64_t number(const store::HashRecord& r, const std::string& name) {
  return std::atoll(store::field(r, name, "0").c_str());
}

CircuitState parse_state(std::string_view s) {
  if (s == "open") return CircuitState::Open;
  if (s == "half_open") return CircuitState::HalfOpen;
  return CircuitState::Closed;
}

}  // namespace

std::string_view circuit_state_name(CircuitState s) {
  switch (s) {
    case CircuitState::Open: return "open";
    case CircuitState::HalfOpen: return "half_open";
    default: return "closed";
  }
}

Circuit Circuit::from_record(const store::HashRecord& r) {
  Circuit c;
  c.state = parse_state(store::field(r, "state"));
  c.failures = static_cast<int>(number(r, "failures"));
  c.opens = static_cast<int>(number(r, "opens"));
  c.opened_at_ms = number(r, "openedAt");
  c.next_try_ms = number(r, "nextTry");
  c.trial_until_ms = number(r, "trialUntil");
  return c;
}

bool Circuit::shut(int64_t now_ms) const {
  if (state == CircuitState::Open) return now_ms < next_try_ms;
  if (state == CircuitState::HalfOpen) return now_ms < trial_until_ms;
  return false;
}

bool Circuit::due(int64_t now_ms) const { return state != CircuitState::Closed && !shut(now_ms); }

const store::Script& failure_script() {
  static const store::Script script(kFailure);
  return script;
}
const store::Script& success_script() {
  static const store::Script script(kSuccess);
  return script;
}
const store::Script& claim_script() {
  static const store::Script script(kClaim);
  return script;
}

store::RedisCommand failure_command(std::string_view account_id, int64_t now_ms, const BreakerSettings& s, bool force,
                                    int64_t started_ms) {
  return failure_script().call(
      {circuit_key(account_id)},
      {std::to_string(now_ms), std::to_string(s.failure_threshold), std::to_string(s.base_delay_ms),
       std::to_string(s.max_backoff_ms), force ? "1" : "0", std::string(scheduler::kChangedChannel),
       std::string(account_id), std::to_string(started_ms)});
}

FailureResult read_failure(const store::RedisReply& reply) {
  FailureResult out;
  if (!reply.is_array() || reply.elements.size() < 6) return out;
  const auto& e = reply.elements;
  out.circuit.state = parse_state(e[0].as_string().value_or("closed"));
  out.circuit.failures = static_cast<int>(e[1].as_int().value_or(0));
  out.circuit.opens = static_cast<int>(e[2].as_int().value_or(0));
  out.circuit.opened_at_ms = e[3].as_int().value_or(0);
  out.circuit.next_try_ms = e[4].as_int().value_or(0);
  out.opened = e[5].as_int().value_or(0) == 1;
  return out;
}

store::RedisCommand success_command(std::string_view account_id, int64_t started_ms) {
  return success_script().call({circuit_key(account_id)}, {std::string(scheduler::kChangedChannel),
                                                           std::string(account_id), std::to_string(started_ms)});
}

store::RedisCommand claim_command(std::string_view account_id, int64_t now_ms, int64_t trial_ms) {
  return claim_script().call({circuit_key(account_id)}, {std::to_string(now_ms), std::to_string(trial_ms)});
}

}  // namespace crs::health
