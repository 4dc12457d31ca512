#include "app/load_balancing_sync.hpp"

#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "health/stats.hpp"
#include "scheduler/selection.hpp"
#include "store/hash_record.hpp"

namespace crs::app {
namespace {

constexpr auto kEvery = std::chrono::seconds(1);


}  // namespace

LoadBalancingSync::LoadBalancingSync(asio::any_io_executor ex, store::RedisClient& redis,
                                     const store::RedisOptions& options, const accounts::AccountRegistry& accounts,
                                     scheduler::LoadBook& book, health::HealthBook& health,
                                     scheduler::SlotWaiters& waiters, scheduler::StrategyScheduler* strategies)
    : executor_(ex),
      redis_(redis),
      accounts_(accounts),
      book_(book),
      health_(health),
      strategies_(strategies),
      timer_(ex),
      subscriber_(
          ex, options, {std::string(scheduler::kSlotFreedChannel), std::string(scheduler::kChangedChannel)},
          [this, &waiters](std::string_view channel, std::string_view message) {
            if (channel == scheduler::kSlotFreedChannel) {
              waiters.freed(std::string(message));
              return;
            }
            // An admin reset the account's state: forgotten now, not after the next read. A circuit
            // that changed elsewhere takes no request here until it is read.
            if (message.starts_with("reset:")) health_.forget(std::string(message.substr(6)));
            if (message.starts_with("circuit:")) health_.announced(std::string(message.substr(8)));
            read_again_ = true;
            timer_.cancel();  // read the change now
          },
          [this, &waiters] {
            timer_.cancel();
            waiters.wake_all();  // slots freed while the subscription was down were not heard
          }) {}

void LoadBalancingSync::start() {
  asio::co_spawn(executor_, run(), asio::detached);
  subscriber_.start();
}

void LoadBalancingSync::stop() {
  stopped_ = true;
  timer_.cancel();
  subscriber_.stop();
}

Task<void> LoadBalancingSync::run() {
  while (!stopped_) {
    read_again_ = false;
    if (redis_.connected()) co_await refresh();
    if (read_again_) continue;  // announced while reading: the read may predate it
    timer_.expires_after(kEvery);
    co_await timer_.async_wait(use_nothrow);
  }
}

Task<void> LoadBalancingSync::refresh() {
  auto snapshot = accounts_.snapshot();
  int64_t now = accounts::now_ms();
  uint64_t read = health_.read_began();
  std::vector<store::RedisCommand> reads;
  // First what this instance metered and heard since the last round (one command each, not
  // one per request), so the reads after it include it.
  auto unwritten = book_.take_unwritten();
  for (const auto& [id, tokens] : unwritten.tokens) {
    std::string key = scheduler::tokens_key(id);
    reads.push_back(store::make_command("HINCRBY", key, std::to_string(now / scheduler::kTokenBucketMs),
                                        std::to_string(tokens)));
    reads.push_back(store::make_command("PEXPIRE", key, std::to_string(scheduler::kTokensKeptMs)));
  }
  for (const auto& [id, reported] : unwritten.utilization)
    reads.push_back(scheduler::utilization_record(id, reported));
  for (const auto& pending : health_.take_pending())
    for (auto& command : health::record_commands(pending)) reads.push_back(std::move(command));
  size_t first_read = reads.size();
  reads.push_back(store::make_command("HGETALL", std::string(scheduler::kLastUsedKey)));
  reads.push_back(store::make_command("HGETALL", std::string(scheduler::kUtilizationKey)));
  reads.push_back(store::make_command("HGETALL", std::string(scheduler::kStrategyKey)));
  for (const auto& a : *snapshot) {
    reads.push_back(store::make_command("HGETALL", scheduler::tokens_key(a.id)));
    reads.push_back(store::make_command("ZCOUNT", scheduler::leases_key(a.id), std::to_string(now), "+inf"));
    reads.push_back(store::make_command("HGETALL", health::circuit_key(a.id)));
    reads.push_back(store::make_command("HGET", health::health_key(a.id), "class"));
  }
  // What this instance saw of each account's answers, for the status views of other processes.
  std::vector<std::string> stats{"HSET", std::string(scheduler::kStatsKey)};
  for (const auto& a : *snapshot) {
    auto load = book_.load_of(a.id);
    if (load.ttfb_ms <= 0 && load.success_rate >= 1) continue;
    stats.push_back(a.id);
    stats.push_back(fmt::format("{:.1f},{:.4f}", load.ttfb_ms, load.success_rate));
  }
  if (stats.size() > 2) reads.push_back(std::move(stats));
  auto replies = co_await redis_.pipeline(std::move(reads));
  constexpr size_t kPerAccount = 4;
  if (!replies || replies->size() < first_read + 3 + kPerAccount * snapshot->size()) {
    // Lost with the connection: counted again from Redis's view at the next round.
    if (!replies) spdlog::debug("load-balancing state not read: {}", replies.error().message);
    co_return;
  }
  const auto* r = replies->data() + first_read;
  auto last_used = store::to_record(r[0]);
  auto used = store::to_record(r[1]);
  if (strategies_) strategies_->set_runtime(store::to_record(r[2]));
  for (size_t i = 0; i < snapshot->size(); ++i) {
    const auto& a = (*snapshot)[i];
    int64_t window = scheduler::usage_window_ms(a);
    const auto* mine = r + 3 + kPerAccount * i;
    int64_t tokens = scheduler::window_tokens(mine[0], now, window);
    int in_flight = a.scheduling.max_concurrency > 0 ? static_cast<int>(mine[1].integer) : -1;
    auto recorded = scheduler::Utilization::decode(used[a.id]);
    book_.refreshed(a.id, tokens, in_flight, std::atoll(last_used[a.id].c_str()), recorded);
    health_.circuit_read(a.id, health::Circuit::from_record(store::to_record(mine[2])), read);
    health_.health_class(a.id, health::parse_health_class(mine[3].str));
  }
}

}  // namespace crs::app
