// `crs import crs`: a Node.js Claude Relay Service's Redis read into ours (src/ops/crs_import.hpp).
#include <cstdlib>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "ops/crs_import.hpp"
#include "store/redis_options.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

struct ImportArgs {
  std::string redis_url;
  std::string crs_encryption_key;
  std::string crs_api_key_prefix = "cr_";
  int crs_timezone_offset = 8;
  bool dry_run = false;
  bool admin = false;
};

json::object report_json(const ops::ImportReport& r, bool dry_run) {
  json::array items;
  for (const auto& i : r.items)
    items.push_back(json::object{{"kind", i.kind}, {"id", i.id}, {"name", i.name}, {"outcome", i.outcome}, {"note", i.note}});
  json::object counts;
  for (const char* kind : {"key", "account", "group", "usage", "account usage", "admin"}) {
    json::object c;
    for (const char* outcome : {"imported", "exists", "skipped", "failed"}) c[outcome] = r.count(kind, outcome);
    std::string name = kind;
    if (name == "account usage") name = "accountUsage";
    else if (name != "usage" && name != "admin") name += "s";
    counts[name] = std::move(c);
  }
  return json::object{{"dryRun", dry_run}, {"counts", std::move(counts)}, {"items", std::move(items)}};
}

void print_report(const ops::ImportReport& r, bool dry_run) {
  std::cout << fmt::format("{:<8} {:<38} {:<22} {:<9} {}\n", "KIND", "ID", "NAME", dry_run ? "WOULD BE" : "OUTCOME",
                           "NOTE");
  for (const auto& i : r.items)
    std::cout << fmt::format("{:<8} {:<38} {:<22} {:<9} {}\n", i.kind, i.id, i.name, i.outcome, i.note);
  for (const char* kind : {"key", "account", "group"})
    std::cout << fmt::format("{}s: {} imported, {} already here, {} skipped, {} failed\n", kind, r.count(kind, "imported"),
                             r.count(kind, "exists"), r.count(kind, "skipped"), r.count(kind, "failed"));
  std::cout << fmt::format("usage: of {} imported key(s) and {} imported account(s)\n", r.count("usage", "imported"),
                           r.count("account usage", "imported"));
}

int failures(const ops::ImportReport& r) {
  int failed = 0;
  for (const char* kind : {"key", "account", "group", "usage", "account usage", "admin"}) failed += r.count(kind, "failed");
  return failed;
}

// The Node.js service's Redis, connected (or why not).
Task<Result<bool>> connect(store::RedisClient& source) {
  source.start();
  asio::steady_timer wait(co_await asio::this_coro::executor);
  auto deadline = std::chrono::steady_clock::now() + source.options().connect_timeout;
  while (!source.connected() && std::chrono::steady_clock::now() < deadline) {
    wait.expires_after(std::chrono::milliseconds(20));
    co_await wait.async_wait(use_nothrow);
  }
  if (!source.connected()) co_return Error{"cannot reach the Node.js service's Redis at " + source.options().address()};
  co_return true;
}

Task<int> run_import(GlobalOptions options, ImportArgs args, store::RedisClient& redis, const config::Config& cfg) {
  // Secrets stay off the command line (other users see it): the URL may come from CRS_REDIS_URL,
  // and the Node.js service's ENCRYPTION_KEY must be this relay's anyway.
  if (args.redis_url.empty())
    if (const char* url = std::getenv("CRS_REDIS_URL")) args.redis_url = url;
  if (args.redis_url.empty()) co_return fail(options, "--redis-url (or CRS_REDIS_URL) names the Node.js service's Redis");
  if (args.crs_encryption_key.empty()) args.crs_encryption_key = cfg.security.encryptionKey;
  auto source_options = store::parse_redis_url(args.redis_url);
  if (!source_options) co_return fail(options, "--redis-url: " + source_options.error().message);
  store::RedisClient source(co_await asio::this_coro::executor, *source_options);
  auto connected = co_await connect(source);
  if (!connected) {
    source.stop();
    co_return fail(options, connected.error().message);
  }
  ops::ImportOptions o;
  o.crs_encryption_key = args.crs_encryption_key;
  o.encryption_key = cfg.security.encryptionKey;
  o.api_key_prefix = cfg.security.apiKeyPrefix;
  o.crs_api_key_prefix = args.crs_api_key_prefix;
  o.oauth_base_url = cfg.oauth.apiBaseUrl;
  o.timezone_offset = cfg.usage.timezoneOffset;
  o.crs_timezone_offset = args.crs_timezone_offset;
  o.lease_ttl = std::chrono::seconds(cfg.relay.concurrencyLeaseTtl);
  o.dry_run = args.dry_run;
  o.admin = args.admin;
  o.data_dir = cfg.server.dataDir;
  auto report = co_await ops::import_crs(source, redis, o);
  source.stop();
  if (!report) co_return fail(options, report.error().message);
  if (options.json) std::cout << json::serialize(report_json(*report, args.dry_run)) << "\n";
  else print_report(*report, args.dry_run);
  co_return failures(*report) == 0 ? 0 : 1;
}

}  // namespace

void add_import_commands(CLI::App& app, Context& ctx) {
  auto* import = app.add_subcommand("import", "Import another relay's data");
  import->require_subcommand(1);
  auto* crs = import->add_subcommand("crs", "Import a Node.js Claude Relay Service's Redis: keys, accounts, groups");
  auto args = std::make_shared<ImportArgs>();
  crs->add_option("--redis-url", args->redis_url,
                  "Its Redis: redis://[[user]:password@]host[:port][/db] (default: $CRS_REDIS_URL, which keeps a "
                  "password off the command line)");
  crs->add_option("--crs-encryption-key", args->crs_encryption_key,
                  "Its ENCRYPTION_KEY (default: this relay's, which must be the same: both hash relay keys with it)");
  crs->add_option("--crs-api-key-prefix", args->crs_api_key_prefix, "Its API_KEY_PREFIX (default cr_)");
  crs->add_option("--crs-timezone-offset", args->crs_timezone_offset,
                  "Its TIMEZONE_OFFSET in hours (default 8, its default); must be this relay's usage.timezoneOffset")
      ->check(CLI::Range(-12, 14));
  crs->add_flag("--dry-run", args->dry_run, "Read and report; write nothing");
  crs->add_flag("--admin", args->admin,
                "Also take its admin login (its password works here) instead of this relay's");
  crs->callback([&ctx, args] {
    auto body = [&ctx, args](store::RedisClient& redis, const config::Config& cfg) {
      return run_import(ctx.global, *args, redis, cfg);
    };
    ctx.exit_code = with_redis(ctx.global, true, body, true);
  });
}

}  // namespace crs::cli
