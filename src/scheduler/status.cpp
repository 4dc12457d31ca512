#include "scheduler/status.hpp"

#include <map>

#include <boost/json.hpp>

#include "core/time.hpp"
#include "scheduler/selection.hpp"
#include "store/hash_record.hpp"

namespace crs::scheduler {
namespace json = boost::json;
namespace {


std::pair<double, double> two_numbers(const std::string& text, double fallback_a, double fallback_b) {
  double a = fallback_a, b = fallback_b;
  if (std::sscanf(text.c_str(), "%lf,%lf", &a, &b) != 2) return {fallback_a, fallback_b};
  return {a, b};
}

std::vector<store::RedisCommand> reads(const std::vector<accounts::Account>& accounts, int64_t now) {
  std::vector<store::RedisCommand> out;
  for (auto key : {kStrategyKey, kLastUsedKey, kUtilizationKey, kStatsKey})
    out.push_back(store::make_command("HGETALL", std::string(key)));
  for (const auto& a : accounts) {
    out.push_back(store::make_command("HGETALL", tokens_key(a.id)));
    out.push_back(store::make_command("ZCOUNT", leases_key(a.id), std::to_string(now), "+inf"));
    out.push_back(store::make_command("ZCOUNT", sessions_key(a.id), std::to_string(now), "+inf"));
  }
  return out;
}

json::value number_or_null(double v) { return v < 0 ? json::value(nullptr) : json::value(v); }

json::object strategy_view(const StatusSettings& s, const std::map<std::string, std::string>& runtime) {
  json::object groups;
  for (const auto& [scope, name] : runtime)
    if (scope.starts_with("group:")) groups[scope.substr(6)] = name;
  auto global = runtime.find("global");
  return json::object{
      {"enabled", s.enabled},
      {"global", s.enabled ? (global != runtime.end() ? global->second : std::string(strategy_name(s.strategies.fallback)))
                           : "priority"},
      {"setAtRuntime", global != runtime.end()},
      {"configured", strategy_name(s.strategies.fallback)},
      {"groups", std::move(groups)}};
}

// Plain functions: GCC 12 miscompiles initializer lists and conditional temporaries in
// coroutine frames.
json::object account_view(const Candidate& c, const Ranked& k, size_t place, int64_t sticky_sessions, int64_t now) {
  const auto& a = *c.account;
  const auto& s = a.scheduling;
  json::object o{{"id", a.id},
                 {"name", a.name},
                 {"type", a.type},
                 {"status", a.status},
                 {"usable", a.usable(now)},
                 {"schedulable", s.schedulable},
                 {"priority", a.priority},
                 // Requests in flight are shared through Redis for capped accounts only.
                 {"inFlight", s.max_concurrency > 0 ? json::value(c.load.in_flight) : json::value(nullptr)},
                 {"maxConcurrency", s.max_concurrency},
                 {"weight", s.effective_weight()},
                 {"costFactor", s.effective_cost_factor(a.type)},
                 {"plan", s.plan.empty() ? json::value(nullptr) : json::value(s.plan)},
                 {"windowTokens", c.load.window_tokens},
                 {"utilization5h", number_or_null(c.load.utilization_5h)},
                 {"utilization7d", number_or_null(c.load.utilization_7d)},
                 {"paused", k.paused},
                 {"lastUsedAt", c.load.last_used_ms ? json::value(iso8601_utc(std::chrono::system_clock::time_point(
                                                          std::chrono::milliseconds(c.load.last_used_ms))))
                                                    : json::value(nullptr)},
                 {"stickySessions", sticky_sessions},
                 {"ttfbMs", c.load.ttfb_ms > 0 ? json::value(c.load.ttfb_ms) : json::value(nullptr)},
                 {"successRate", c.load.success_rate},
                 {"rank", static_cast<int64_t>(place + 1)}};
  o["score"] = json::object{{"total", k.score},
                            {"cost", k.cost},
                            {"performance", k.performance},
                            {"load", k.load},
                            {"reliability", k.reliability}};
  return o;
}

json::object status_view(const StatusSettings& settings, const std::map<std::string, std::string>& runtime,
                         const std::vector<Candidate>& cs, const std::vector<store::RedisReply>& r) {
  StrategyScheduler strategies(settings.strategies);
  strategies.set_runtime(runtime);
  PriorityLruScheduler priority;
  std::vector<Ranked> ranked;
  if (settings.enabled) ranked = strategies.order(cs, {});
  else ranked = priority.order(cs, {});
  int64_t now = accounts::now_ms();
  json::array list;
  for (size_t place = 0; place < ranked.size(); ++place) {
    const auto& k = ranked[place];
    list.push_back(account_view(cs[k.index], k, place, r[6 + 3 * k.index].integer, now));
  }
  return json::object{{"strategy", strategy_view(settings, runtime)}, {"accounts", std::move(list)}};
}

}  // namespace

StrategySettings strategy_settings(const config::LoadBalancingConfig& lb) {
  StrategySettings settings;
  settings.fallback = parse_strategy(lb.defaultStrategy).value_or(Strategy::Balanced);
  settings.weights = {lb.algorithmWeights.costPriority, lb.algorithmWeights.performance,
                      lb.algorithmWeights.loadBalance, lb.algorithmWeights.reliability};
  settings.pause_at = lb.pauseAtUtilization;
  settings.ttfb_threshold_ms = lb.healthCheck.responseTimeThreshold;
  return settings;
}

Task<Result<json::object>> load_balance_status(store::RedisClient& redis, std::vector<accounts::Account> accounts,
                                               StatusSettings settings) {
  int64_t now = accounts::now_ms();
  auto replies = co_await redis.pipeline(reads(accounts, now));
  if (!replies) co_return replies.error();
  const auto& r = *replies;
  auto runtime = store::to_record(r[0]);
  auto last_used = store::to_record(r[1]);
  auto utilization = store::to_record(r[2]);
  auto stats = store::to_record(r[3]);
  std::vector<Candidate> cs;
  for (size_t i = 0; i < accounts.size(); ++i) {
    const auto& a = accounts[i];
    AccountLoad load;
    int64_t window = scheduler::usage_window_ms(a);
    load.window_tokens = window_tokens(r[4 + 3 * i], now, window);
    load.in_flight = static_cast<int>(r[5 + 3 * i].integer);
    load.last_used_ms = std::atoll(last_used[a.id].c_str());
    auto reported = Utilization::decode(utilization[a.id]);
    load.utilization_5h = reported.five_hour_at(now);
    load.utilization_7d = reported.seven_day_at(now);
    std::tie(load.ttfb_ms, load.success_rate) = two_numbers(stats[a.id], 0, 1);
    cs.push_back(Candidate{&accounts[i], load, 1});
  }
  co_return status_view(settings, runtime, cs, r);
}

Task<Status> set_runtime_strategy(store::RedisClient& redis, std::string group, std::string strategy) {
  std::string scope = group.empty() ? "global" : "group:" + group;
  std::vector<store::RedisCommand> cmds;
  cmds.push_back(store::make_command("MULTI"));
  if (strategy.empty()) cmds.push_back(store::make_command("HDEL", std::string(kStrategyKey), scope));
  else cmds.push_back(store::make_command("HSET", std::string(kStrategyKey), scope, strategy));
  cmds.push_back(store::make_command("PUBLISH", std::string(kChangedChannel), scope));
  cmds.push_back(store::make_command("EXEC"));
  co_return store::transaction_status(co_await redis.pipeline(std::move(cmds)));
}

}  // namespace crs::scheduler
