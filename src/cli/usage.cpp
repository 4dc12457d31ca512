// `crs usage --key ID | --account ID`: requests, tokens and cost, in total, today and this month;
// with --from/--to, per hour, day or month over that range.
#include <iostream>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "accounts/account.hpp"
#include "cli/commands.hpp"
#include "store/hash_record.hpp"
#include "usage/aggregator.hpp"
#include "usage/usage_reader.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

using usage::UsageTotals;
using usage::totals_of;

// All time, today, this month: the names the aggregator folds into.
std::vector<std::string> hashes(const std::string& kind, const std::string& id, const std::string& day,
                                const std::string& month) {
  auto subject = kind == "key" ? usage::Subject::Key : usage::Subject::Account;
  return {usage::all_time_key(subject, id), usage::bucket_key(subject, id, usage::Granularity::Day, day),
          usage::bucket_key(subject, id, usage::Granularity::Month, month)};
}

std::string usage_json(const std::string& kind, const std::string& id, const std::string& day, const std::string& month,
                       const UsageTotals& total, const UsageTotals& today, const UsageTotals& this_month) {
  json::object out{{kind == "key" ? "keyId" : "accountId", id}, {"day", day},      {"month", month},
                   {"total", usage::to_json(total)},             {"today", usage::to_json(today)},
                   {"thisMonth", usage::to_json(this_month)}};
  return json::serialize(out);
}

void print_table(const UsageTotals& today, const UsageTotals& this_month, const UsageTotals& total) {
  std::cout << fmt::format("{:<12} {:>10} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14}\n", "PERIOD", "REQUESTS", "INPUT",
                           "OUTPUT", "CACHE WRITE", "CACHE READ", "ALL TOKENS", "COST (USD)");
  for (auto [label, t] : {std::pair{"today", today}, std::pair{"this month", this_month}, std::pair{"total", total}})
    std::cout << fmt::format("{:<12} {:>10} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14.6f}\n", label, t.requests,
                             t.input, t.output, t.cache_create, t.cache_read, t.all, t.cost_micro / 1e6);
}

Task<int> show_usage(GlobalOptions options, std::string kind, std::string id, store::RedisClient& redis,
                     const config::Config& cfg) {
  int64_t now = accounts::now_ms();
  std::string day = usage::day_bucket(now, cfg.usage.timezoneOffset);
  std::string month = usage::month_bucket(now, cfg.usage.timezoneOffset);
  std::vector<store::RedisCommand> reads;
  for (const auto& h : hashes(kind, id, day, month)) reads.push_back(store::make_command("HGETALL", h));
  auto replies = co_await redis.pipeline(std::move(reads));
  if (!replies) co_return fail(options, replies.error().message);
  UsageTotals total = totals_of(store::to_record((*replies)[0]), true);
  UsageTotals today = totals_of(store::to_record((*replies)[1]), false);
  UsageTotals this_month = totals_of(store::to_record((*replies)[2]), false);
  if (options.json) {
    std::cout << usage_json(kind, id, day, month, total, today, this_month) << "\n";
    co_return 0;
  }
  std::cout << fmt::format("Usage of {} {} (day {}, month {}, UTC{:+})\n\n", kind, id, day, month,
                           cfg.usage.timezoneOffset);
  print_table(today, this_month, total);
  co_return 0;
}

struct RangeOptions {
  std::string from, to, granularity = "day";
};

std::string range_json(const std::string& kind, const std::string& id, const RangeOptions& r,
                       const std::vector<std::string>& periods, const std::vector<UsageTotals>& buckets) {
  json::array list;
  UsageTotals sum;
  for (size_t i = 0; i < periods.size(); ++i) {
    sum.add(buckets[i]);
    json::object o = usage::to_json(buckets[i]);
    o["period"] = periods[i];
    list.push_back(std::move(o));
  }
  json::object out{{kind == "key" ? "keyId" : "accountId", id}, {"granularity", r.granularity}, {"from", r.from},
                   {"to", r.to}, {"buckets", std::move(list)}, {"range", usage::to_json(sum)}};
  return json::serialize(out);
}

void print_range(const std::vector<std::string>& periods, const std::vector<UsageTotals>& buckets) {
  std::cout << fmt::format("{:<14} {:>10} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14}\n", "PERIOD", "REQUESTS", "INPUT",
                           "OUTPUT", "CACHE WRITE", "CACHE READ", "ALL TOKENS", "COST (USD)");
  UsageTotals sum;
  auto row = [](const std::string& label, const UsageTotals& t) {
    std::cout << fmt::format("{:<14} {:>10} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14.6f}\n", label, t.requests,
                             t.input, t.output, t.cache_create, t.cache_read, t.all, t.cost_micro / 1e6);
  };
  for (size_t i = 0; i < periods.size(); ++i) {
    sum.add(buckets[i]);
    if (buckets[i].requests || buckets[i].all) row(periods[i], buckets[i]);
  }
  row("range", sum);
}

Task<int> show_range(GlobalOptions options, std::string kind, std::string id, RangeOptions r,
                     store::RedisClient& redis, const config::Config& cfg) {
  usage::Granularity g = r.granularity == "hour"    ? usage::Granularity::Hour
                         : r.granularity == "month" ? usage::Granularity::Month
                                                    : usage::Granularity::Day;
  if (r.to.empty()) r.to = usage::day_bucket(accounts::now_ms(), cfg.usage.timezoneOffset);
  auto periods = usage::periods(g, r.from, r.to, 800);
  if (!periods) co_return fail(options, periods.error().message);
  usage::Subject subject = kind == "key" ? usage::Subject::Key : usage::Subject::Account;
  std::vector<std::string> hashes;
  for (const auto& p : *periods) hashes.push_back(usage::bucket_key(subject, id, g, p));
  query::QueryRunner queries(query::settings_of(cfg));
  auto buckets = co_await usage::read_totals(queries, redis, hashes, false, "usage.report");
  if (!buckets) co_return fail(options, buckets.error().message);
  if (options.json) {
    std::cout << range_json(kind, id, r, *periods, *buckets) << "\n";
    co_return 0;
  }
  std::cout << fmt::format("Usage of {} {} per {} from {} to {} (UTC{:+})\n\n", kind, id, r.granularity, r.from, r.to,
                           cfg.usage.timezoneOffset);
  print_range(*periods, *buckets);
  co_return 0;
}

}  // namespace

void add_usage_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("usage", "Requests, tokens and cost of a key or an account");
  auto key = std::make_shared<std::string>();
  auto account = std::make_shared<std::string>();
  auto* k = cmd->add_option("--key", *key, "Key id");
  auto* a = cmd->add_option("--account", *account, "Account id");
  k->excludes(a);
  auto range = std::make_shared<RangeOptions>();
  auto* from = cmd->add_option("--from", range->from, "First day of a range, YYYY-MM-DD (months: YYYY-MM)");
  cmd->add_option("--to", range->to, "Last day of the range (default: today)")->needs(from);
  cmd->add_option("--granularity", range->granularity, "hour | day | month (default: day)")
      ->check(CLI::IsMember({"hour", "day", "month"}))
      ->needs(from);
  cmd->callback([&ctx, key, account, range] {
    if (key->empty() == account->empty()) {
      ctx.exit_code = fail(ctx.global, "give --key ID or --account ID");
      return;
    }
    std::string kind = key->empty() ? "account" : "key";
    std::string id = key->empty() ? *account : *key;
    ctx.exit_code = with_redis(ctx.global, false, [&](store::RedisClient& r, const config::Config& c) {
      return range->from.empty() ? show_usage(ctx.global, kind, id, r, c)
                                 : show_range(ctx.global, kind, id, *range, r, c);
    });
  });
}

}  // namespace crs::cli
