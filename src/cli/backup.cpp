// `crs backup` and `crs restore`: a consistent, checksummed copy of everything the relay keeps
// in Redis, and its restore (src/ops/).
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "accounts/account_store.hpp"
#include "cli/commands.hpp"
#include "core/time.hpp"
#include "ops/backup_file.hpp"
#include "ops/restore.hpp"
#include "ops/schema.hpp"
#include "ops/snapshot.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

struct BackupArgs {
  std::string out;
  bool no_pause = false;
  int max_pause_ms = 2000;
};

struct RestoreArgs {
  std::string in;
  bool dry_run = false;
  bool into_live = false;
  bool include_deleted = false;
};

struct AccountCheck {
  size_t total = 0, unreadable = 0;
};

ops::SnapshotOptions snapshot_options(const config::Config& cfg, const BackupArgs& args) {
  ops::SnapshotOptions o;
  o.pause_writes = !args.no_pause;
  o.max_pause = std::chrono::milliseconds(args.max_pause_ms);
  o.excluded_prefixes.push_back(cfg.queryOptimizer.cache.prefix);
  o.excluded_prefixes.push_back("crs:restore:scratch:");  // a merge's leftovers (they expire)
  o.excluded_prefixes.push_back("crs:schema:lock");
  return o;
}

json::object backup_header(const config::Config& cfg, const store::RedisOptions& redis, const ops::Snapshot& snap,
                           const AccountCheck& accounts) {
  json::object families;
  for (const auto& r : snap.records) {
    auto& n = families[ops::key_family(r.name)];
    n = n.is_int64() ? n.as_int64() + 1 : 1;
  }
  json::object header;
  header["format"] = ops::kBackupFormat;
  header["createdAt"] = iso8601_utc();
  header["crsVersion"] = CRS_VERSION;
  header["host"] = host_name();
  header["redis"] = json::object{{"address", redis.address()}, {"db", redis.db}, {"version", snap.redis_version}};
  header["consistent"] = snap.consistent;
  header["writesPausedMs"] = snap.pause_ms;
  json::array excluded;
  for (const auto& p : snapshot_options(cfg, BackupArgs{}).excluded_prefixes) excluded.push_back(json::value(p));
  header["excludedPrefixes"] = std::move(excluded);
  header["encryptionKeyCheck"] = ops::encryption_key_check(cfg.security.encryptionKey);
  header["accounts"] = json::object{{"total", static_cast<int64_t>(accounts.total)},
                                    {"credentialsUnreadable", static_cast<int64_t>(accounts.unreadable)}};
  header["families"] = std::move(families);
  return header;
}

json::object backup_report(const std::string& file, uint64_t keys, const std::string& sha, const ops::Snapshot& snap,
                           json::object& header) {
  return json::object{{"file", file},       {"keys", static_cast<int64_t>(keys)},   {"sha256", sha},
                      {"consistent", snap.consistent}, {"writesPausedMs", snap.pause_ms},
                      {"accounts", header["accounts"]}, {"families", header["families"]}};
}

Task<AccountCheck> check_accounts(store::RedisClient& redis, const config::Config& cfg) {
  AccountCheck out;
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto all = co_await store.list();
  if (!all) co_return out;
  out.total = all->size();
  for (const auto& a : *all)
    if (a.credentials_unreadable) ++out.unreadable;
  co_return out;
}


Task<int> backup(GlobalOptions options, BackupArgs args, store::RedisClient& redis, const config::Config& cfg) {
  auto accounts = co_await check_accounts(redis, cfg);
  auto schema = co_await ops::read_schema(redis);
  if (!schema) co_return fail(options, schema.error().message);
  auto snap = co_await ops::take_snapshot(redis, snapshot_options(cfg, args));
  if (!snap) co_return fail(options, snap.error().message);
  auto header = backup_header(cfg, redis.options(), *snap, accounts);
  header["schemaVersion"] = schema->stored;
  ops::BackupWriter writer;
  if (auto s = writer.open(args.out, header, cfg.security.encryptionKey); !s) co_return fail(options, s.error().message);
  for (const auto& r : snap->records)
    if (auto s = writer.add(r); !s) co_return fail(options, s.error().message);
  auto sha = writer.commit();
  if (!sha) co_return fail(options, sha.error().message);
  auto out = backup_report(args.out, writer.records(), *sha, *snap, header);
  if (options.json) {
    std::cout << json::serialize(out) << "\n";
  } else {
    std::cout << fmt::format("Backed up {} keys to {} (sha256 {}).\n", writer.records(), args.out, *sha);
    if (snap->consistent) std::cout << fmt::format("Writes waited {} ms for a consistent copy.\n", snap->pause_ms);
    else std::cout << "Taken while writes went on (--no-pause): check a restore with `crs data verify`.\n";
    std::cout << "The file is 0600; keep it with the ENCRYPTION_KEY: without that key its credentials cannot be "
                 "opened and its relay keys do not authenticate.\n";
  }
  if (accounts.unreadable > 0)
    std::cerr << fmt::format("warning: {} of {} accounts have credentials this ENCRYPTION_KEY cannot open\n",
                             accounts.unreadable, accounts.total);
  co_return 0;
}

void print_restore(const json::object& r) {
  auto n = [&](const char* name) { return r.at(name).as_int64(); };
  bool dry = r.at("dryRun").as_bool();
  std::cout << fmt::format("{} {} ({} keys, sha256 verified) {} Redis {}:\n", dry ? "Would restore" : "Restored",
                           std::string_view(r.at("file").as_string()), n("keys"),
                           r.at("mode").as_string() == "into-live" ? "merged into the live" : "into the empty",
                           std::string_view(r.at("targetRedisVersion").as_string()));
  std::cout << fmt::format("  restored {}  merged {}  kept live {}  type conflicts {}  expired {}  errors {}\n",
                           n("restored"), n("merged"), n("kept"), n("conflicts"), n("expired"), n("errors"));
  if (n("deletedSinceBackup") > 0)
    std::cout << fmt::format("  {} keys, accounts or groups are in the backup but not live (deleted since?): not "
                             "brought back; --include-deleted restores them\n",
                             n("deletedSinceBackup"));
  for (const auto& [family, count] : r.at("families").as_object())
    std::cout << fmt::format("    {:<28} {}\n", std::string_view(family), count.as_int64());
  if (auto* samples = r.if_contains("errorSamples"))
    for (const auto& e : samples->as_array()) std::cout << "  error: " << std::string_view(e.as_string()) << "\n";
}

Task<int> restore(GlobalOptions options, RestoreArgs args, store::RedisClient& redis, const config::Config& cfg) {
  ops::RestoreOptions ro;
  ro.path = args.in;
  ro.encryption_key = cfg.security.encryptionKey;
  ro.into_live = args.into_live;
  ro.include_deleted = args.include_deleted;
  ro.dry_run = args.dry_run;
  auto report = co_await ops::restore_backup(redis, ro);
  if (!report) co_return fail(options, report.error().message);
  if (options.json) std::cout << json::serialize(*report) << "\n";
  else print_restore(*report);
  co_return report->at("errors").as_int64() == 0 ? 0 : 1;
}

}  // namespace

void add_backup_commands(CLI::App& app, Context& ctx) {
  auto* b = app.add_subcommand("backup", "Write a consistent, checksummed copy of everything the relay keeps in Redis");
  auto bargs = std::make_shared<BackupArgs>();
  b->add_option("--out", bargs->out, "The backup file to create (0600; an existing file is refused)")->required();
  b->add_flag("--no-pause", bargs->no_pause,
              "Do not pause Redis writes while copying (for a Redis user without CLIENT PAUSE; not consistent)");
  b->add_option("--max-pause", bargs->max_pause_ms, "Longest write pause in ms; a longer copy is refused")
      ->check(CLI::Range(100, 60000));
  b->callback([&ctx, bargs] {
    auto body = [&ctx, bargs](store::RedisClient& redis, const config::Config& cfg) {
      return backup(ctx.global, *bargs, redis, cfg);
    };
    ctx.exit_code = with_redis(ctx.global, true, body, true);
  });

  auto* r = app.add_subcommand("restore", "Restore a backup: into an empty Redis, or merged into a live one");
  auto rargs = std::make_shared<RestoreArgs>();
  r->add_option("--in", rargs->in, "The backup file")->required()->check(CLI::ExistingFile);
  r->add_flag("--dry-run", rargs->dry_run, "Check the file and say what would be restored; write nothing");
  r->add_flag("--into-live", rargs->into_live,
              "Merge into a database that holds data: add what it lacks, never overwrite or delete");
  r->add_flag("--include-deleted", rargs->include_deleted,
              "With --into-live: also bring back keys, accounts and groups deleted since the backup");
  r->callback([&ctx, rargs] {
    auto body = [&ctx, rargs](store::RedisClient& redis, const config::Config& cfg) {
      return restore(ctx.global, *rargs, redis, cfg);
    };
    ctx.exit_code = with_redis(ctx.global, true, body, true);
  });
}

}  // namespace crs::cli
