#include "app/health_monitor.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/crypto.hpp"
#include "core/logging.hpp"
#include "health/classify.hpp"
#include "health/stats.hpp"
#include "relay/health_check.hpp"
#include "scheduler/selection.hpp"
#include "store/hash_record.hpp"

namespace crs::app {
namespace {

// An account without any attempt for this long is probed (and the probe is an attempt).
constexpr int64_t kIdleMs = 30 * 60 * 1000;

health::HealthThresholds thresholds(const config::Config& c) {
  const auto& h = c.loadBalancing.healthCheck;
  return health::HealthThresholds{h.successRateThreshold, h.errorRateThreshold,
                                  static_cast<double>(h.responseTimeThreshold)};
}

// Five minutes, or long enough to hold the kMinJudged probes an account without traffic gets.
int64_t window_ms(const config::Config& c) {
  return std::max<int64_t>(health::kWindowMs, (health::kMinJudged + 1) * c.loadBalancing.healthCheck.interval * 1000LL);
}

int64_t since_of(const store::HashRecord& health) { return std::atoll(store::field(health, "since", "0").c_str()); }

}  // namespace

HealthMonitor::HealthMonitor(asio::any_io_executor ex, store::RedisClient& redis, const config::LiveConfig& live,
                             accounts::AccountRegistry& accounts, health::HealthBook& book, asio::ssl::context& tls)
    : executor_(ex),
      redis_(redis),
      live_(live),
      accounts_(accounts),
      book_(book),
      tls_(tls),
      instance_(crypto::random_hex(8)),
      timer_(ex) {}

void HealthMonitor::start() { asio::co_spawn(executor_, run(), asio::detached); }

void HealthMonitor::stop() {
  stopped_ = true;
  timer_.cancel();
}

Task<void> HealthMonitor::run() {
  while (!stopped_) {
    auto every = std::chrono::seconds(live_.at(0)->loadBalancing.healthCheck.interval);
    timer_.expires_after(every);
    co_await timer_.async_wait(use_nothrow);
    if (stopped_ || !redis_.connected()) continue;
    // One instance per round: the lock lives for the round's interval.
    auto lock = co_await redis_.command(store::make_command("SET", std::string(health::kHealthLockKey), instance_,
                                                            "NX", "PX", std::to_string(every.count() * 1000)));
    if (!lock || lock->is_nil() || lock->is_error()) continue;
    co_await check_all();
  }
}

Task<void> HealthMonitor::check_all() {
  auto snapshot = accounts_.snapshot();
  auto view = live_.at(0);  // the round's configuration, held while the round runs
  int64_t now = accounts::now_ms();
  for (const auto& account : *snapshot) {
    if (stopped_) co_return;
    if (co_await check(account, now, *view) && account.enabled && !account.needs_admin())
      co_await probe(account, *view);
  }
}

Task<void> HealthMonitor::probe(const accounts::Account& account, const config::Config& cfg) {
  adapters::AdapterContext context{cfg, redis_, accounts_, tls_};
  auto result = co_await relay::probe_and_apply(context, account);
  load_balancing_log().debug("account {} probed: {} in {:.0f} ms", account.id, health::outcome_name(result.outcome),
                             result.ms);
}

Task<bool> HealthMonitor::check(const accounts::Account& account, int64_t now_ms, const config::Config& cfg) {
  std::vector<store::RedisCommand> reads;
  reads.push_back(store::make_command("LRANGE", health::recent_key(account.id), "0", "-1"));
  reads.push_back(store::make_command("HGETALL", health::health_key(account.id)));
  reads.push_back(store::make_command("HGET", health::circuit_key(account.id), "state"));
  auto replies = co_await redis_.pipeline(std::move(reads));
  if (!replies || replies->size() < 3) co_return false;
  bool open = !(*replies)[2].str.empty() && (*replies)[2].str != "closed";  // open or half-open
  auto previous = store::to_record((*replies)[1]);
  auto was = health::parse_health_class(store::field(previous, "class"));
  int64_t judged_from = was == health::HealthClass::Healthy ? 0 : since_of(previous);
  auto attempts = health::read_attempts((*replies)[0]);
  bool idle = attempts.empty() || attempts.back().at_ms < now_ms - kIdleMs;
  bool rested = account.status != accounts::kStatusActive && account.unavailable_until_ms <= now_ms;
  if (was != health::HealthClass::Healthy) attempts = health::latest_judged(attempts, health::kMinJudged);
  auto stats = health::window_stats(attempts, now_ms, judged_from, window_ms(cfg));
  auto verdict = health::classify(stats, thresholds(cfg), was);
  bool changed = verdict.health != was;
  int64_t since = changed || previous.empty() ? now_ms : since_of(previous);
  if (verdict.kept) verdict.reasons = store::field(previous, "reasons");
  std::vector<store::RedisCommand> writes;
  writes.push_back(store::hset_command(health::health_key(account.id), health::health_record(stats, verdict, since, now_ms)));
  if (changed)
    writes.push_back(store::make_command("PUBLISH", std::string(scheduler::kChangedChannel), "health:" + account.id));
  auto written = co_await redis_.pipeline(std::move(writes));
  if (!written) co_return false;
  book_.health_class(account.id, verdict.health);
  if (changed)
    load_balancing_log().info("account {} ({}) is {} (was {}){}{}", account.id, account.name,
                              health::health_class_name(verdict.health), health::health_class_name(was),
                              verdict.reasons.empty() ? "" : ": ", verdict.reasons);
  co_return open || idle || rested || verdict.health != health::HealthClass::Healthy;
}

}  // namespace crs::app
