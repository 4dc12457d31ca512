// crs alerts test [--channel NAME]: a test alert to every configured channel (or those whose
// name contains NAME: "email", "webhook 2", "slack"), one attempt each, and what each said.
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "alerts/sender.hpp"
#include "cli/commands.hpp"
#include "core/time.hpp"

namespace crs::cli {
namespace json = boost::json;

namespace {

alerts::Alert test_alert(const config::Config& cfg) {
  alerts::Alert a;
  a.id = "test";
  a.kind = "test";
  a.severity = "info";
  a.title = "Test alert from the Claude Relay Service";
  a.message = "If you read this, alerts reach this channel. Sent by `crs alerts test`.";
  a.at = iso8601_utc();
  a.instance = fmt::format("{}:{}", host_name(), cfg.server.port);
  return a;
}

int test_alerts(const GlobalOptions& options, const std::string& only) {
  auto loaded = load_valid_config(options);
  if (!loaded) return 1;
  const auto& cfg = loaded->config;
  auto settings = alerts::sender_settings(cfg);
  if (!settings) return fail(options, settings.error().message);
  auto alert = test_alert(cfg);
  json::array results;
  bool all_ok = true;
  for (const auto& channel : settings->channels) {
    if (!only.empty() && channel.name.find(only) == std::string::npos) continue;
    auto sent = alerts::deliver(*settings, channel, alert);
    all_ok = all_ok && sent.ok();
    std::string error = sent ? std::string() : sent.error().message;
    results.push_back(json::object{{"channel", channel.name}, {"delivered", sent.ok()}, {"error", error}});
    if (!options.json) std::cout << fmt::format("{}: {}\n", channel.name, sent ? "delivered" : "FAILED: " + error);
  }
  if (results.empty())
    return fail(options, only.empty() ? "no alert channel is configured (monitoring.alerts.webhook, .webhooks, .email)"
                                      : "no configured alert channel matches " + only);
  if (options.json) std::cout << json::serialize(json::object{{"results", results}, {"ok", all_ok}}) << "\n";
  return all_ok ? 0 : 1;
}

}  // namespace

void add_alerts_commands(CLI::App& app, Context& ctx) {
  auto* alerts = app.add_subcommand("alerts", "Alert channels");
  alerts->require_subcommand(1);
  auto* test = alerts->add_subcommand("test", "Send a test alert to every configured channel and report each result "
                                              "(exit 1 if any failed)");
  auto only = std::make_shared<std::string>();
  test->add_option("--channel", *only, "Only the channels whose name contains this (email, webhook 2, slack, ...)");
  test->callback([&ctx, only] { ctx.exit_code = test_alerts(ctx.global, *only); });
}

}  // namespace crs::cli
