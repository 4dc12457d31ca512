#pragma once
// What an attempt tells of its account, acted on at once: the passive stats get every attempt;
// an upstream-announced state (rate-limited until a reset, a burst cool-down, unauthorized,
// blocked) is set on the account for every instance; other failures (529, 5xx, no answer, a
// refusal) go to the account's circuit breaker (health/circuit.hpp). A success reaches Redis
// only when the circuit had something to clear, off the request's path.
#include <string>

#include "adapters/error_class.hpp"
#include "health/outcome.hpp"
#include "relay/relayed_request.hpp"

namespace crs::relay {

struct Picked;

health::Outcome outcome_of(adapters::ErrorClass c);

// Records the account's state in memory and in Redis, announced to every instance (a blocked
// account also raises an event for the alerts).
Task<void> set_account_state(accounts::AccountRegistry& registry, store::RedisClient& redis, const config::Config& c,
                             const accounts::Account& account, std::string_view status, int64_t until_ms,
                             std::string reason);
Task<void> report(RelayDeps& d, size_t worker, const accounts::Account& account, std::string_view status,
                  int64_t until_ms, std::string reason);

// A failure that tells the account's state (rate-limited until a reset, a burst, unauthorized,
// blocked) sets it; false for the other classes (the breaker's, and the request's own faults).
Task<bool> apply_announced_state(accounts::AccountRegistry& registry, store::RedisClient& redis,
                                 const config::Config& c, const accounts::Account& account,
                                 const adapters::ErrorVerdict& v);

// A failed attempt (no answer, or a non-2xx one that is not the request's own fault).
Task<void> account_failed(RelayedRequest& r, const Picked& p, const adapters::ErrorVerdict& v, unsigned status,
                          double ttfb_ms);

// The answer's head came: the account works. Closes a half-open circuit (the trial), clears failures.
void account_answered(RelayedRequest& r, const Picked& p);

// The attempt ended: its outcome for the passive stats (a failure already recorded is not
// recorded again by this).
void attempt_ended(RelayedRequest& r, const Picked& p, health::Outcome outcome, unsigned status, double ttfb_ms,
                   std::string message = {});

// A trial claimed for the account's half-open circuit: true for this request only.
Task<bool> claim_trial(RelayedRequest& r, const accounts::Account& account);

}  // namespace crs::relay
