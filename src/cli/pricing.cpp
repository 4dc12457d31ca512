// `crs pricing check`: the models seen in usage that the price table has no exact entry for
// (they are priced by family or by the default, and flagged on their usage records).
#include <algorithm>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
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
  std::vector<std::string> models;
  for (const auto& m : seen->elements) models.push_back(m.str);
  std::sort(models.begin(), models.end());
  json::array missing;
  for (const auto& model : models) {
    auto match = table->find(model);
    if (match.fallback()) missing.push_back(json::object{{"model", model}, {"pricedAs", match.source}});
  }
  if (options.json) {
    std::cout << json::serialize(json::object{{"modelsSeen", models.size()}, {"withoutEntry", missing}}) << "\n";
  } else if (missing.empty()) {
    std::cout << fmt::format("Every model seen in usage ({}) has an exact price entry.\n", models.size());
  } else {
    std::cout << "Models seen in usage without an exact price entry (add them to the pricing file):\n";
    for (const auto& m : missing)
      std::cout << fmt::format("  {:<40} priced as {}\n", std::string(m.at("model").as_string()),
                               std::string(m.at("pricedAs").as_string()));
  }
  co_return missing.empty() ? 0 : 1;
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
}

}  // namespace crs::cli
