// The console's settings page: GET /admin/config (the configuration in force, each value's
// source, secrets masked), GET /admin/alerts/channels and POST /admin/alerts/test (a test alert
// to every channel, or one, from this instance, and what each said).
#include <atomic>

#include <spdlog/spdlog.h>

#include "admin/admin_http.hpp"
#include "admin/config_view.hpp"
#include "alerts/sender.hpp"
#include "core/time.hpp"

namespace crs::admin {
namespace json = boost::json;
using http_server::Exchange;

namespace {

const config::InForceSnapshot& snapshot_or(const AdminDeps& deps, std::shared_ptr<const config::InForceSnapshot>& held) {
  if (deps.in_force) held = deps.in_force->get();
  if (!held) {
    auto made = std::make_shared<config::InForceSnapshot>();
    made->config = deps.cfg;
    held = std::move(made);
  }
  return *held;
}

json::value text_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

// Secrets as set or not only: over HTTP not even their ends are shown.
json::object config_json(const config::InForceSnapshot& in_force) {
  json::object data;
  data["configFile"] = text_or_null(in_force.config_path);
  data["reloadedAt"] = text_or_null(in_force.reloaded_at);
  json::array applied;
  for (const auto& k : in_force.last_applied) applied.emplace_back(k);
  data["lastReloadApplied"] = std::move(applied);
  data["keys"] = config_keys_json(in_force.config, in_force.origins, SecretView::kSetOrNot);
  return data;
}

Task<void> show_config(Exchange& ex, AdminDepsPtr deps) {
  std::shared_ptr<const config::InForceSnapshot> held;
  json::object data = config_json(snapshot_or(*deps, held));
  co_await ex.send(admin_data(std::move(data)));
}

json::object channel_json(const alerts::Channel& c) {
  json::object o;
  o["name"] = c.name;  // names the host only, never the path or token of a webhook
  o["kind"] = c.email ? "email" : alerts::format_name(c.hook.format);
  return o;
}

Task<void> list_channels(Exchange& ex, AdminDepsPtr deps) {
  std::shared_ptr<const config::InForceSnapshot> held;
  const auto& cfg = snapshot_or(*deps, held).config;
  auto channels = alerts::configured_channels(cfg);
  if (!channels) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Alerts unavailable", channels.error().message));
    co_return;
  }
  json::array out;
  for (const auto& c : *channels) out.push_back(channel_json(c));
  json::object data;
  data["enabled"] = cfg.monitoring.alerts.enabled;
  data["channels"] = std::move(out);
  co_await ex.send(admin_data(std::move(data)));
}

alerts::Alert test_alert(const std::string& instance, const std::string& admin) {
  alerts::Alert a;
  a.id = "test";
  a.kind = "test";
  a.severity = "info";
  a.title = "Test alert from the Claude Relay Service";
  a.message = "If you read this, alerts reach this channel. Sent from the web console by " + admin + ".";
  a.at = iso8601_utc();
  a.instance = instance;
  return a;
}

// One attempt per channel, on the blocking pool (libcurl blocks): at most about 20 s each.
json::array deliver_test(const alerts::SenderSettings& settings, const std::string& only, const alerts::Alert& alert) {
  json::array results;
  for (const auto& channel : settings.channels) {
    if (!only.empty() && channel.name != only) continue;
    auto sent = alerts::deliver(settings, channel, alert);
    json::object r = channel_json(channel);
    r["delivered"] = sent.ok();
    r["error"] = sent ? std::string() : sent.error().message;
    results.push_back(std::move(r));
  }
  return results;
}

std::string no_channel(const std::string& only) {
  if (only.empty()) return "no alert channel is configured (monitoring.alerts.webhook, .webhooks, .email)";
  return "no configured alert channel is named " + only;
}

// One test at a time per instance: each holds the blocking pool (which logins share) for up to
// about 20 s per channel.
std::atomic<bool> test_running{false};

struct TestSlot {
  bool held = !test_running.exchange(true);
  ~TestSlot() {
    if (held) test_running = false;
  }
};

Task<void> test_channels(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  TestSlot slot;
  if (!slot.held) {
    auto busy = admin_error(http::status::too_many_requests, "Too many requests", "a test alert is being sent; try again when it is done");
    busy.set(http::field::retry_after, "5");
    co_await ex.send(std::move(busy));
    co_return;
  }
  std::string only;
  if (!ex.request().body().empty()) {
    auto body = co_await read_json_object(ex);
    if (!body) co_return;
    only = string_member(*body, "channel");
  }
  std::shared_ptr<const config::InForceSnapshot> held;
  auto settings = alerts::sender_settings(snapshot_or(*deps, held).config);
  if (!settings) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Alerts unavailable", settings.error().message));
    co_return;
  }
  auto alert = test_alert(deps->instance, session.username);
  auto send = [s = *settings, only, alert] { return deliver_test(s, only, alert); };
  json::array results = co_await deps->pool.run(send);
  if (results.empty()) {
    std::string why = no_channel(only);
    co_await ex.send(admin_error(http::status::not_found, "Not found", why));
    co_return;
  }
  spdlog::info("admin {} sent a test alert to {} channel(s)", session.username, results.size());
  json::object data;
  data["results"] = std::move(results);
  co_await ex.send(admin_data(std::move(data)));
}

}  // namespace

void register_settings_routes(http_server::Router& router, AdminDepsPtr deps) {
  using http::verb;
  add_admin_route(router, verb::get, "/admin/config", deps, [deps](Exchange& ex, const SessionClaims&) { return show_config(ex, deps); });
  add_admin_route(router, verb::get, "/admin/alerts/channels", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return list_channels(ex, deps); });
  add_admin_route(router, verb::post, "/admin/alerts/test", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return test_channels(ex, s, deps); });
}

}  // namespace crs::admin
