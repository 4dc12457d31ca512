// `crs data verify [--repair]`: the relay's indexes against their records and its usage totals
// against their buckets (src/ops/integrity.hpp); `crs data migrate` (src/ops/schema.hpp).
#include <algorithm>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "ops/integrity.hpp"
#include "ops/schema.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

json::object report_json(const ops::IntegrityReport& r) {
  json::object checked;
  for (const auto& [kind, n] : r.checked) checked[kind] = n;
  json::array findings;
  for (const auto& f : r.findings)
    findings.push_back(json::object{{"check", f.check},
                                    {"subject", f.subject},
                                    {"problem", f.problem},
                                    {"repairable", f.repairable},
                                    {"repaired", f.repaired}});
  return json::object{{"checked", std::move(checked)},
                      {"findings", std::move(findings)},
                      {"unrepaired", static_cast<int64_t>(r.unrepaired())}};
}

void print_report(const ops::IntegrityReport& r, bool repair) {
  std::string checked;
  for (const auto& [kind, n] : r.checked) checked += fmt::format("{}{} {}", checked.empty() ? "" : ", ", n, kind);
  std::cout << "Checked " << checked << ".\n";
  if (r.findings.empty()) {
    std::cout << "Every index matches its records and every usage total its buckets.\n";
    return;
  }
  std::cout << fmt::format("{:<22} {:<38} {:<9} {}\n", "CHECK", "SUBJECT", "STATE", "PROBLEM");
  for (const auto& f : r.findings) {
    const char* state = f.repaired ? "repaired" : f.repairable ? "repairable" : "manual";
    std::cout << fmt::format("{:<22} {:<38} {:<9} {}\n", f.check, f.subject, state, f.problem);
  }
  if (!repair && r.unrepaired() > 0) std::cout << "Run `crs data verify --repair` to fix what is repairable.\n";
}

Task<int> verify(GlobalOptions options, bool repair, store::RedisClient& redis, const config::Config& cfg) {
  ops::IntegrityOptions o;
  o.repair = repair;
  o.encryption_key = cfg.security.encryptionKey;
  auto report = co_await ops::verify_data(redis, o);
  if (!report) co_return fail(options, report.error().message);
  if (options.json) std::cout << json::serialize(report_json(*report)) << "\n";
  else print_report(*report, repair);
  co_return report->unrepaired() == 0 ? 0 : 1;
}

json::object migration_json(const ops::MigrationResult& m, bool dry_run) {
  json::array pending, applied;
  for (const auto& step : m.before.pending)
    pending.push_back(json::object{{"version", step.version}, {"name", step.name}, {"what", step.what}});
  for (const auto& name : m.applied) applied.push_back(json::value(name));
  return json::object{{"schemaVersion", m.before.stored}, {"latest", ops::kSchemaVersion},
                      {"fresh", m.before.fresh},          {"dryRun", dry_run},
                      {"pending", std::move(pending)},    {"applied", std::move(applied)},
                      {"versionAfter", m.version}};
}

void print_migration(const ops::MigrationResult& m, bool dry_run) {
  std::cout << fmt::format("Schema version {} (this crs: {}).\n", m.before.stored, ops::kSchemaVersion);
  if (m.before.fresh) {
    std::cout << (dry_run ? "No relay data yet: it would be stamped with the latest version.\n"
                          : "No relay data yet: stamped with the latest version.\n");
    return;
  }
  if (m.before.pending.empty()) {
    std::cout << "Nothing to migrate.\n";
    return;
  }
  for (const auto& step : m.before.pending) {
    bool done = std::find(m.applied.begin(), m.applied.end(), step.name) != m.applied.end();
    std::cout << fmt::format("  {} {:>3} {}: {}\n", done ? "applied" : dry_run ? "pending" : "NOT applied", step.version,
                             step.name, step.what);
  }
}

Task<int> migrate(GlobalOptions options, bool dry_run, store::RedisClient& redis, const config::Config& cfg) {
  auto result = co_await ops::migrate(redis, cfg.security.encryptionKey, dry_run);
  if (!result) co_return fail(options, result.error().message);
  if (result->before.newer) co_return fail(options, ops::newer_data_message(result->before.stored));
  if (options.json) std::cout << json::serialize(migration_json(*result, dry_run)) << "\n";
  else print_migration(*result, dry_run);
  co_return 0;
}

}  // namespace

void add_data_commands(CLI::App& app, Context& ctx) {
  auto* data = app.add_subcommand("data", "Check (and repair) the relay's data in Redis");
  data->require_subcommand(1);
  auto* v = data->add_subcommand("verify", "Check every index against its records and usage totals against their buckets");
  auto repair = std::make_shared<bool>(false);
  v->add_flag("--repair", *repair, "Fix what is repairable (add what a record proves, remove what no record backs)");
  v->callback([&ctx, repair] {
    auto body = [&ctx, repair](store::RedisClient& redis, const config::Config& cfg) {
      return verify(ctx.global, *repair, redis, cfg);
    };
    ctx.exit_code = with_redis(ctx.global, true, body, true);
  });

  auto* m = data->add_subcommand("migrate", "Bring the data to this crs's schema version (crs serve does it at start)");
  auto dry_run = std::make_shared<bool>(false);
  m->add_flag("--dry-run", *dry_run, "List what is pending; change nothing");
  m->callback([&ctx, dry_run] {
    auto body = [&ctx, dry_run](store::RedisClient& redis, const config::Config& cfg) {
      return migrate(ctx.global, *dry_run, redis, cfg);
    };
    ctx.exit_code = with_redis(ctx.global, true, body, true);
  });
}

}  // namespace crs::cli
