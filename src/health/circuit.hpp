#pragma once
// The circuit breaker of each account (loadBalancing.failureRecovery), shared by every
// instance in one Redis hash, load_balance:circuit:<account>:
//   state       closed | open | half_open
//   failures    consecutive failures
//   opens       times opened since it last closed (the backoff doubles with each)
//   openedAt    ms of the last opening
//   nextTry     ms from which one trial may be claimed
//   trialUntil  ms until which the claimed trial is in progress (half_open)
// `failureThreshold` consecutive failures open it for temporaryFailureDelay x 2^(opens-1),
// capped at maxBackoffTime. Once that has passed, exactly one request across all instances
// claims the trial (a script, not a per-process flag): its success closes the circuit and
// resets the backoff, its failure opens it again for twice as long. Every transition is one
// Lua script; openings and closings are announced on crs:lb:changed as "circuit:<account>".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/hash_record.hpp"
#include "store/redis_codec.hpp"
#include "store/redis_reply.hpp"
#include "store/redis_script.hpp"

namespace crs::health {

inline constexpr std::string_view kCircuitPrefix = "load_balance:circuit:";
inline std::string circuit_key(std::string_view account_id) { return std::string(kCircuitPrefix) + std::string(account_id); }

enum class CircuitState { Closed, Open, HalfOpen };
std::string_view circuit_state_name(CircuitState s);

struct Circuit {
  CircuitState state = CircuitState::Closed;
  int failures = 0;
  int opens = 0;
  int64_t opened_at_ms = 0;
  int64_t next_try_ms = 0;
  int64_t trial_until_ms = 0;

  static Circuit from_record(const store::HashRecord& r);
  // Takes no request now (open and waiting, or a trial in progress elsewhere).
  bool shut(int64_t now_ms) const;
  // A trial may be claimed now.
  bool due(int64_t now_ms) const;
};

struct BreakerSettings {
  int failure_threshold = 5;
  int64_t base_delay_ms = 300000;   // temporaryFailureDelay
  int64_t max_backoff_ms = 3600000; // maxBackoffTime
};

// What a failure did: the circuit after it, and whether it opened just now.
struct FailureResult {
  Circuit circuit;
  bool opened = false;
};

// A failure of the account's attempt begun at `started_ms`; `force` opens the circuit at once (an
// answer that says the account cannot serve for a while, like a billing refusal). An attempt
// begun before the circuit last opened moves nothing (it was no trial).
store::RedisCommand failure_command(std::string_view account_id, int64_t now_ms, const BreakerSettings& s, bool force,
                                    int64_t started_ms);
FailureResult read_failure(const store::RedisReply& reply);
const store::Script& failure_script();

// A success: closes a half-open circuit (true: it closed just now) and clears a closed one's count.
store::RedisCommand success_command(std::string_view account_id, int64_t started_ms);
const store::Script& success_script();

// Claims the trial of a circuit whose wait has passed; the reply is 1 for the claimant.
store::RedisCommand claim_command(std::string_view account_id, int64_t now_ms, int64_t trial_ms);
const store::Script& claim_script();

}  // namespace crs::health
