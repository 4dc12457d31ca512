// `crs data verify [--repair]`: the relay's indexes against their records and its usage totals
// against their buckets (src/ops/integrity.hpp).
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "ops/integrity.hpp"

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
}

}  // namespace crs::cli
