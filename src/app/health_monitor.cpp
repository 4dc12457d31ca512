#include "app/health_monitor.hpp"

#include <spdlog/spdlog.h>

#include "core/crypto.hpp"
#include "core/logging.hpp"
#include "health/classify.hpp"
#include "health/stats.hpp"
#include "scheduler/selection.hpp"
#include "store/hash_record.hpp"

namespace crs::app {
namespace {

health::HealthThresholds thresholds(const config::Config& c) {
  const auto& h = c.loadBalancing.healthCheck;
  return health::HealthThresholds{h.successRateThreshold, h.errorRateThreshold,
                                  static_cast<double>(h.responseTimeThreshold)};
}

}  // namespace

HealthMonitor::HealthMonitor(asio::any_io_executor ex, store::RedisClient& redis, const config::Config& config,
                             const accounts::AccountRegistry& accounts, health::HealthBook& book)
    : executor_(ex),
      redis_(redis),
      config_(config),
      accounts_(accounts),
      book_(book),
      instance_(crypto::random_hex(8)),
      timer_(ex) {}

void HealthMonitor::start() { asio::co_spawn(executor_, run(), asio::detached); }

void HealthMonitor::stop() {
  stopped_ = true;
  timer_.cancel();
}

Task<void> HealthMonitor::run() {
  auto every = std::chrono::seconds(config_.loadBalancing.healthCheck.interval);
  while (!stopped_) {
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
  int64_t now = accounts::now_ms();
  for (const auto& account : *snapshot) {
    if (stopped_) co_return;
    co_await check(account, now);
  }
}

Task<void> HealthMonitor::check(const accounts::Account& account, int64_t now_ms) {
  std::vector<store::RedisCommand> reads;
  reads.push_back(store::make_command("LRANGE", health::recent_key(account.id), "0", "-1"));
  reads.push_back(store::make_command("HGETALL", health::health_key(account.id)));
  auto replies = co_await redis_.pipeline(std::move(reads));
  if (!replies || replies->size() < 2) co_return;
  auto previous = store::to_record((*replies)[1]);
  auto was = health::parse_health_class(store::field(previous, "class"));
  auto stats = health::window_stats(health::read_attempts((*replies)[0]), now_ms);
  auto verdict = health::classify(stats, thresholds(config_), was);
  bool changed = verdict.health != was;
  int64_t since = changed || previous.empty() ? now_ms : std::atoll(store::field(previous, "since", "0").c_str());
  if (verdict.kept) verdict.reasons = store::field(previous, "reasons");
  std::vector<store::RedisCommand> writes;
  writes.push_back(store::hset_command(health::health_key(account.id), health::health_record(stats, verdict, since, now_ms)));
  if (changed)
    writes.push_back(store::make_command("PUBLISH", std::string(scheduler::kChangedChannel), "health:" + account.id));
  auto written = co_await redis_.pipeline(std::move(writes));
  if (!written) co_return;
  book_.health_class(account.id, verdict.health);
  if (changed)
    load_balancing_log().info("account {} ({}) is {} (was {}){}{}", account.id, account.name,
                              health::health_class_name(verdict.health), health::health_class_name(was),
                              verdict.reasons.empty() ? "" : ": ", verdict.reasons);
}

}  // namespace crs::app
