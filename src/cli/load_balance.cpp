// `crs load-balance ...`: the strategy in force and every account's load, as all instances
// share them in Redis; the strategy changed at runtime on every instance.
#include <iostream>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "accounts/account_store.hpp"
#include "cli/commands.hpp"
#include "health/view.hpp"
#include "scheduler/status.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

std::string text(const json::value& v, int decimals = 2) {
  if (v.is_null()) return "-";
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_double()) return fmt::format("{:.{}f}", v.get_double(), decimals);
  if (v.is_bool()) return v.get_bool() ? "yes" : "no";
  return json::serialize(v);
}

// Each account's health: class, circuit (state/consecutive failures), window stats, last error.
void print_health(const json::object& status) {
  std::cout << fmt::format("\n{:<36} {:<10} {:<10} {:<20} {:>8} {:>8} {:>8}  {}\n", "ACCOUNT", "HEALTH", "CIRCUIT",
                           "NEXT TRY", "P95 TTFB", "SUCCESS", "ERRORS", "LAST ERROR");
  for (const auto& v : status.at("accounts").as_array()) {
    const auto& a = v.as_object();
    const auto& h = a.at("health").as_object();
    const auto& c = h.at("circuit").as_object();
    const auto& w = h.at("window").as_object();
    std::string last = "-";
    if (h.at("lastError").is_object()) {
      const auto& e = h.at("lastError").as_object();
      last = text(e.at("at")) + " " + text(e.at("class")) + " " + text(e.at("status")) + " " + text(e.at("message"));
    }
    std::string circuit = text(c.at("state")) + (c.at("failures").as_int64() > 0 ? "/" + text(c.at("failures")) : "");
    std::cout << fmt::format("{:<36} {:<10} {:<10} {:<20} {:>8} {:>8} {:>8}  {}\n", text(a.at("id")), text(h.at("class")),
                             circuit, text(c.at("nextTryAt")), text(w.at("ttfbP95Ms"), 0), text(w.at("successRate")),
                             text(w.at("errorRate")), last.substr(0, 120));
  }
}

void print_status(const json::object& status) {
  const auto& st = status.at("strategy").as_object();
  std::cout << "Strategy: " << text(st.at("global"))
            << (st.at("setAtRuntime").as_bool() ? " (set at runtime)" : " (from the configuration)") << "\n";
  for (const auto& [group, name] : st.at("groups").as_object())
    std::cout << "  group " << std::string(group) << ": " << text(name) << "\n";
  std::cout << fmt::format("\n{:<4} {:<36} {:<16} {:<12} {:>9} {:>6} {:>5} {:>9} {:>6} {:>6} {:>6} {:>7} {:>6}\n", "RANK",
                           "ACCOUNT", "NAME", "STATUS", "IN FLIGHT", "WEIGHT", "COST", "TOKENS", "5H", "7D",
                           "STICKY", "TTFB", "SCORE");
  for (const auto& v : status.at("accounts").as_array()) {
    const auto& a = v.as_object();
    std::string cap = a.at("maxConcurrency").as_int64() > 0 ? "/" + text(a.at("maxConcurrency")) : "";
    std::string state = text(a.at("status")) + (a.at("paused").as_bool() ? "*" : "");
    std::cout << fmt::format("{:<4} {:<36} {:<16} {:<12} {:>9} {:>6} {:>5} {:>9} {:>6} {:>6} {:>6} {:>7} {:>6}\n",
                             text(a.at("rank")), text(a.at("id")), text(a.at("name")).substr(0, 16), state,
                             text(a.at("inFlight")) + cap, text(a.at("weight"), 1), text(a.at("costFactor")),
                             text(a.at("windowTokens")), text(a.at("utilization5h")), text(a.at("utilization7d")),
                             text(a.at("stickySessions")), text(a.at("ttfbMs"), 0),
                             text(a.at("score").as_object().at("total"), 3));
  }
  std::cout << "\n* paused: over loadBalancing.pauseAtUtilization, used only when nothing else is left\n";
  print_health(status);
}

// A plain function: GCC 12 miscompiles conditional temporaries in coroutines.
void print_strategy_set(const GlobalOptions& options, const std::string& name, const std::string& group,
                        const std::string& configured) {
  if (options.json) {
    std::cout << json::serialize(json::object{{"group", group.empty() ? json::value(nullptr) : json::value(group)},
                                              {"strategy", name.empty() ? json::value(nullptr) : json::value(name)}})
              << "\n";
    return;
  }
  std::string scope = group.empty() ? "every instance" : "group " + group + " on every instance";
  if (name.empty())
    std::cout << "Runtime strategy cleared for " << scope << ": loadBalancing.defaultStrategy (" << configured
              << ") applies.\n";
  else
    std::cout << "Strategy " << name << " set for " << scope << ".\n";
}

Task<int> status(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto all = co_await store.list();
  if (!all) co_return fail(options, all.error().message);
  scheduler::StatusSettings settings{cfg.loadBalancing.enabled, scheduler::strategy_settings(cfg.loadBalancing)};
  auto view = co_await health::balancer_status(redis, std::move(*all), settings);
  if (!view) co_return fail(options, view.error().message);
  if (options.json) std::cout << json::serialize(*view) << "\n";
  else print_status(*view);
  co_return 0;
}

Task<int> set_strategy(GlobalOptions options, std::string name, std::string group, store::RedisClient& redis,
                       const config::Config& cfg) {
  if (!cfg.loadBalancing.enabled)
    co_return fail(options, "loadBalancing.enabled is false: the strategies are off (accounts go by priority)");
  if (!name.empty() && !scheduler::parse_strategy(name))
    co_return fail(options, "unknown strategy \"" + name +
                                "\": least_used, least_recent, lowest_cost, balanced or weighted_random");
  if (!group.empty()) {
    accounts::AccountStore store(redis, cfg.security.encryptionKey);
    auto exists = co_await store.group_exists(group);
    if (!exists) co_return fail(options, exists.error().message);
    if (!*exists) co_return fail(options, "no account group with id " + group);
  }
  if (auto s = co_await scheduler::set_runtime_strategy(redis, group, name); !s) co_return fail(options, s.error().message);
  print_strategy_set(options, name, group, cfg.loadBalancing.defaultStrategy);
  co_return 0;
}

}  // namespace

void add_load_balance_commands(CLI::App& app, Context& ctx) {
  auto* lb = app.add_subcommand("load-balance", "The load balancer: strategy and account load, on every instance");
  lb->require_subcommand(1);
  lb->add_subcommand("status", "The strategy in force and every account's load, score and sticky sessions")
      ->callback([&ctx] {
        ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
          return status(ctx.global, r, c);
        });
      });
  auto name = std::make_shared<std::string>();
  auto group = std::make_shared<std::string>();
  auto* set = lb->add_subcommand("set-strategy", "Change the strategy at runtime on every instance (within 2 s)");
  set->add_option("strategy", *name, "least_used, least_recent, lowest_cost, balanced or weighted_random")->required();
  set->add_option("--group", *group, "Only for this account group");
  set->callback([&ctx, name, group] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return set_strategy(ctx.global, *name, *group, r, c);
    });
  });
  auto clear_group = std::make_shared<std::string>();
  auto* clear = lb->add_subcommand("clear-strategy", "Drop the runtime strategy: loadBalancing.defaultStrategy applies");
  clear->add_option("--group", *clear_group, "Only for this account group");
  clear->callback([&ctx, clear_group] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return set_strategy(ctx.global, "", *clear_group, r, c);
    });
  });
}

}  // namespace crs::cli
