// `crs pricing check`: the models seen in usage or named by an account (its models list and
// the upstream names of its mapping) that the price table has no exact entry for (they are
// priced by family or by the default, and flagged on their usage records).
// `crs pricing reload`: every running instance reads the price file again.
#include <algorithm>
#include <iostream>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "accounts/account_store.hpp"
#include "cli/commands.hpp"
#include "store/keyspace.hpp"
#include "usage/pricing.hpp"
#include "usage/usage_reader.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

Task<int> check_pricing(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  auto table = usage::PricingTable::load(cfg.usage.pricingFile);
  if (!table) co_return fail(options, table.error().message);
  auto seen = co_await redis.command(store::make_command("SMEMBERS", std::string(usage::kModelsIndex)));
  if (!seen) co_return fail(options, seen.error().message);
  std::set<std::string> named;
  for (const auto& m : seen->elements) named.insert(m.str);
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto all = co_await store.list();
  if (!all) co_return fail(options, all.error().message);
  for (const auto& a : *all) {
    for (const auto& m : a.scheduling.models)
      if (!m.ends_with('*')) named.insert(m);
    for (const auto& [requested, upstream] : a.scheduling.model_map) named.insert(upstream);
  }
  std::vector<std::string> models(named.begin(), named.end());
  json::array missing;
  for (const auto& model : models) {
    auto match = table->find(model);
    if (match.fallback()) missing.push_back(json::object{{"model", model}, {"pricedAs", match.source}});
  }
  if (options.json) {
    std::cout << json::serialize(json::object{{"modelsSeen", models.size()}, {"withoutEntry", missing}}) << "\n";
  } else if (missing.empty()) {
    std::cout << fmt::format("Every model seen in usage or named by an account ({}) has an exact price entry.\n",
                             models.size());
  } else {
    std::cout << "Models seen in usage or named by an account without an exact price entry (add them to the "
                 "pricing file):\n";
    for (const auto& m : missing)
      std::cout << fmt::format("  {:<40} priced as {}\n", std::string(m.at("model").as_string()),
                               std::string(m.at("pricedAs").as_string()));
  }
  co_return missing.empty() ? 0 : 1;
}

// A plain function: GCC 12 miscompiles initializer lists in coroutines.
void print_reloaded(const GlobalOptions& options, const std::string& file, size_t models, int64_t listeners) {
  if (options.json)
    std::cout << json::serialize(json::object{{"file", file}, {"listeners", listeners}}) << "\n";
  else
    std::cout << fmt::format("{} is valid ({} models); announced to {} listener(s): every running instance reloads it.\n",
                             file, models, listeners);
}

// The file is checked here first: a file that does not parse is refused, not announced.
Task<int> reload_pricing(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  auto table = usage::PricingTable::load(cfg.usage.pricingFile);
  if (!table) co_return fail(options, cfg.usage.pricingFile + ": " + table.error().message);
  auto sent = co_await redis.command(store::make_command("PUBLISH", std::string(store::keyspace::kInvalidationChannel),
                                                         std::string(store::keyspace::kPricingReload)));
  if (!sent) co_return fail(options, sent.error().message);
  print_reloaded(options, cfg.usage.pricingFile, table->model_ids().size(), sent->integer);
  co_return 0;
}

}  // namespace

void add_pricing_commands(CLI::App& app, Context& ctx) {
  auto* pricing = app.add_subcommand("pricing", "The price table");
  pricing->require_subcommand(1);
  auto* check = pricing->add_subcommand(
      "check", "List the models seen in usage that have no exact price entry (exit 1 if there are any)");
  check->callback([&ctx] {
    ctx.exit_code = with_redis(ctx.global, false, [&](store::RedisClient& r, const config::Config& c) {
      return check_pricing(ctx.global, r, c);
    });
  });
  pricing->add_subcommand("reload", "Make every running instance read the price file again (also: SIGHUP)")
      ->callback([&ctx] {
        ctx.exit_code = with_redis(ctx.global, false, [&](store::RedisClient& r, const config::Config& c) {
          return reload_pricing(ctx.global, r, c);
        });
      });
}

}  // namespace crs::cli
