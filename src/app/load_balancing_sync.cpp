#include "app/load_balancing_sync.hpp"

#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "scheduler/selection.hpp"

namespace crs::app {
namespace {

constexpr auto kEvery = std::chrono::seconds(1);
constexpr int64_t kOauthWindowMs = 5LL * 3600 * 1000;
constexpr int64_t kConsoleWindowMs = 24LL * 3600 * 1000;

std::map<std::string, std::string> pairs(const store::RedisReply& hash) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < hash.elements.size(); i += 2) out[hash.elements[i].str] = hash.elements[i + 1].str;
  return out;
}

// "<5h>,<7d>" as recorded by utilization_record.
std::pair<double, double> utilization(const std::string& text) {
  double five = -1, seven = -1;
  if (std::sscanf(text.c_str(), "%lf,%lf", &five, &seven) != 2) return {-1, -1};
  return {five, seven};
}

}  // namespace

LoadBalancingSync::LoadBalancingSync(asio::any_io_executor ex, store::RedisClient& redis,
                                     const store::RedisOptions& options, const accounts::AccountRegistry& accounts,
                                     scheduler::LoadBook& book, scheduler::SlotWaiters& waiters,
                                     scheduler::StrategyScheduler* strategies)
    : executor_(ex),
      redis_(redis),
      accounts_(accounts),
      book_(book),
      strategies_(strategies),
      timer_(ex),
      subscriber_(
          ex, options, {std::string(scheduler::kSlotFreedChannel), std::string(scheduler::kChangedChannel)},
          [this, &waiters](std::string_view channel, std::string_view message) {
            if (channel == scheduler::kSlotFreedChannel) waiters.freed(std::string(message));
            else timer_.cancel();  // read the change now
          },
          [this] { timer_.cancel(); }) {}

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
    if (redis_.connected()) co_await refresh();
    timer_.expires_after(kEvery);
    co_await timer_.async_wait(use_nothrow);
  }
}

Task<void> LoadBalancingSync::refresh() {
  auto snapshot = accounts_.snapshot();
  int64_t now = accounts::now_ms();
  std::vector<store::RedisCommand> reads;
  reads.push_back(store::make_command("HGETALL", std::string(scheduler::kLastUsedKey)));
  reads.push_back(store::make_command("HGETALL", std::string(scheduler::kUtilizationKey)));
  reads.push_back(store::make_command("HGETALL", std::string(scheduler::kStrategyKey)));
  for (const auto& a : *snapshot) {
    reads.push_back(store::make_command("HGETALL", scheduler::tokens_key(a.id)));
    reads.push_back(store::make_command("ZCOUNT", scheduler::leases_key(a.id), std::to_string(now), "+inf"));
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
  if (!replies || replies->size() < 3 + 2 * snapshot->size()) {
    if (!replies) spdlog::debug("load-balancing state not read: {}", replies.error().message);
    co_return;
  }
  auto last_used = pairs((*replies)[0]);
  auto used = pairs((*replies)[1]);
  if (strategies_) strategies_->set_runtime(pairs((*replies)[2]));
  for (size_t i = 0; i < snapshot->size(); ++i) {
    const auto& a = (*snapshot)[i];
    int64_t window = a.type == accounts::kClaudeOauth ? kOauthWindowMs : kConsoleWindowMs;
    int64_t tokens = scheduler::window_tokens((*replies)[3 + 2 * i], now, window);
    int in_flight = a.scheduling.max_concurrency > 0 ? static_cast<int>((*replies)[4 + 2 * i].integer) : -1;
    auto [five, seven] = used.count(a.id) ? utilization(used[a.id]) : std::pair<double, double>{-1, -1};
    book_.refreshed(a.id, tokens, in_flight, std::atoll(last_used[a.id].c_str()), five, seven);
  }
}

}  // namespace crs::app
