#include "relay/account_health.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "accounts/account_store.hpp"
#include "core/logging.hpp"
#include "core/time.hpp"
#include "health/circuit.hpp"
#include "relay/account_choice.hpp"
#include "store/keyspace.hpp"
#include "store/redis_script.hpp"

namespace crs::relay {
namespace {

std::string until_text(int64_t until_ms) {
  if (!until_ms) return "an admin acts";
  return iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(until_ms)));
}

health::BreakerSettings breaker_settings(const config::Config& c) {
  const auto& f = c.loadBalancing.failureRecovery;
  return health::BreakerSettings{f.failureThreshold, f.temporaryFailureDelay * 1000LL, f.maxBackoffTime * 1000LL};
}

store::RedisCommand blocked_event(const accounts::Account& account, const std::string& reason) {
  return store::make_command("XADD", std::string(store::keyspace::kEventsStream), "MAXLEN", "~",
                             std::to_string(store::keyspace::kEventsKept), "*", "type", "account.blocked", "account",
                             account.id, "reason", reason, "at", std::to_string(accounts::now_ms()));
}

// A failure the breaker counts: 529, 5xx, no answer, a refusal (which opens it at once).
Task<void> trip(RelayedRequest& r, const Picked& p, const adapters::ErrorVerdict& v) {
  auto& d = r.d();
  bool force = v.what == adapters::ErrorClass::Refused;
  auto command =
      health::failure_command(p.account().id, accounts::now_ms(), breaker_settings(r.cfg()), force, p.started_ms);
  auto reply = co_await store::run_script(*d.redis.at(r.worker), health::failure_script(), std::move(command));
  if (!reply || reply->is_error()) {
    spdlog::warn("cannot count the failure of account {} in its circuit: {}", p.account().id,
                 reply ? reply->str : reply.error().message);
    co_return;
  }
  auto result = health::read_failure(*reply);
  d.health_book.circuit(p.account().id, result.circuit);
  if (!result.opened) co_return;
  int64_t wait_s = (result.circuit.next_try_ms - result.circuit.opened_at_ms) / 1000;
  load_balancing_log().info("account {} ({}) circuit opened for {} s (opening {}, {} consecutive failures{}): {}",
                            p.account().id, p.account().name, wait_s, result.circuit.opens, result.circuit.failures,
                            p.trial ? ", its trial failed" : "", v.reason);
  spdlog::warn("account {} ({}) taken out for {} s after {} consecutive failures: {}", p.account().name, p.account().id,
               wait_s, result.circuit.failures, v.reason);
}

Task<void> close_circuit(std::shared_ptr<RelayDeps> deps, size_t worker, std::string account_id, std::string request_id,
                         int64_t started_ms) {
  auto command = health::success_command(account_id, started_ms);
  auto reply = co_await store::run_script(*deps->redis.at(worker), health::success_script(), std::move(command));
  if (!reply || reply->is_error()) co_return;  // counted again by the next success
  if (reply->integer >= 1) deps->health_book.circuit(account_id, health::Circuit{});
  if (reply->integer == 2)
    load_balancing_log().info("account {} circuit closed: its trial (request {}) succeeded", account_id, request_id);
}

}  // namespace

health::Outcome outcome_of(adapters::ErrorClass c) {
  using adapters::ErrorClass;
  using health::Outcome;
  switch (c) {
    case ErrorClass::ClientError: return Outcome::Client;
    case ErrorClass::Unauthorized:
    case ErrorClass::Blocked:
    case ErrorClass::Refused: return Outcome::Auth;
    case ErrorClass::RateLimited:
    case ErrorClass::BurstRateLimited: return Outcome::RateLimited;
    case ErrorClass::Overloaded: return Outcome::Overloaded;
    case ErrorClass::Network: return Outcome::Network;
    case ErrorClass::Timeout: return Outcome::Timeout;
    default: return Outcome::Server;
  }
}

Task<void> set_account_state(accounts::AccountRegistry& registry, store::RedisClient& redis, const config::Config& c,
                             const accounts::Account& account, std::string_view status, int64_t until_ms,
                             std::string reason) {
  spdlog::warn("account {} ({}) is {} until {}: {}", account.name, account.id, status, until_text(until_ms), reason);
  load_balancing_log().info("account {} ({}) is {} until {}: {}", account.id, account.name, status,
                            until_text(until_ms), reason);
  registry.set_status(account.id, std::string(status), until_ms, reason);
  accounts::AccountStore store(redis, c.security.encryptionKey);
  if (auto s = co_await store.set_status(account.id, std::string(status), until_ms, reason); !s)
    spdlog::warn("cannot record the state of account {}: {}", account.id, s.error().message);
  if (status == accounts::kStatusBlocked) {
    if (auto e = co_await redis.command(blocked_event(account, reason)); !e || e->is_error())
      spdlog::warn("cannot raise the event of account {} blocked", account.id);
  }
}

Task<void> report(RelayDeps& d, size_t worker, const accounts::Account& account, std::string_view status,
                  int64_t until_ms, std::string reason) {
  auto view = d.live.at(worker);  // held: a reload may replace the thread's view meanwhile
  co_await set_account_state(d.accounts, *d.redis.at(worker), *view, account, status, until_ms, std::move(reason));
}

Task<bool> apply_announced_state(accounts::AccountRegistry& registry, store::RedisClient& redis,
                                 const config::Config& c, const accounts::Account& account,
                                 const adapters::ErrorVerdict& v) {
  using adapters::ErrorClass;
  std::string_view status;
  int64_t until = 0;
  std::string reason = v.reason;
  switch (v.what) {
    case ErrorClass::Unauthorized:
      status = accounts::kStatusUnauthorized;
      break;
    case ErrorClass::Blocked:
      status = accounts::kStatusBlocked;
      break;
    case ErrorClass::RateLimited:
      status = accounts::kStatusRateLimited;
      until = v.until_ms;
      break;
    case ErrorClass::BurstRateLimited:
      status = accounts::kStatusRateLimited;
      until = accounts::now_ms() + c.loadBalancing.failureRecovery.burstCooldown * 1000LL;
      reason += " without a reset time";
      break;
    default:
      co_return false;
  }
  co_await set_account_state(registry, redis, c, account, status, until, std::move(reason));
  co_return true;
}

Task<void> account_failed(RelayedRequest& r, const Picked& p, const adapters::ErrorVerdict& v, unsigned status,
                          double ttfb_ms) {
  auto& d = r.d();
  attempt_ended(r, p, outcome_of(v.what), status, ttfb_ms, v.reason);
  if (v.what == adapters::ErrorClass::ClientError) co_return;
  if (co_await apply_announced_state(d.accounts, *d.redis.at(r.worker), r.cfg(), p.account(), v)) co_return;
  if (r.cfg().loadBalancing.failureRecovery.enableCircuitBreaker) co_await trip(r, p, v);
}

void account_answered(RelayedRequest& r, const Picked& p) {
  auto& d = r.d();
  if (!r.cfg().loadBalancing.failureRecovery.enableCircuitBreaker || d.stopping) return;
  if (!p.trial && !d.health_book.success_matters(p.account().id)) return;
  asio::co_spawn(r.ex.stream().get_executor(),
                 close_circuit(r.deps, r.worker, p.account().id, r.ex.request_id(), p.started_ms), asio::detached);
}

void attempt_ended(RelayedRequest& r, const Picked& p, health::Outcome outcome, unsigned status, double ttfb_ms,
                   std::string message) {
  health::Attempt a;
  a.at_ms = accounts::now_ms();
  a.outcome = outcome;
  a.status = status;
  a.ttfb_ms = ttfb_ms;
  if (outcome == health::Outcome::Ok)
    a.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - p.started).count();
  a.message = std::move(message);
  r.d().health_book.record(p.account().id, std::move(a));
}

Task<bool> claim_trial(RelayedRequest& r, const accounts::Account& account) {
  auto& d = r.d();
  int64_t now = accounts::now_ms();
  int64_t trial_ms = static_cast<int64_t>(r.rc().connectTimeout) + r.rc().firstByteTimeout;
  auto reply = co_await store::run_script(*d.redis.at(r.worker), health::claim_script(),
                                          health::claim_command(account.id, now, trial_ms));
  bool won = reply && !reply->is_error() && reply->integer == 1;
  if (won) {
    health::Circuit c;
    c.state = health::CircuitState::HalfOpen;
    c.trial_until_ms = now + trial_ms;
    d.health_book.circuit(account.id, c);
    load_balancing_log().info("account {} ({}) circuit half-open: request {} is its trial", account.id, account.name,
                              r.ex.request_id());
  }
  co_return won;
}

}  // namespace crs::relay
