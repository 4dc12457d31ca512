// /admin/claude-accounts, /admin/account-groups and /admin/load-balance: upstream accounts,
// their groups and the load balancer, for admins and the web console. Fields and validation
// are accounts::apply_account_changes', shared with `crs accounts`; credentials are never
// returned, only masked.
#include <spdlog/spdlog.h>

#include "accounts/account_fields.hpp"
#include "accounts/account_store.hpp"
#include "accounts/oauth_signin.hpp"
#include "admin/admin_http.hpp"
#include "health/view.hpp"
#include "relay/health_check.hpp"
#include "core/time.hpp"
#include "scheduler/decision_log.hpp"
#include "scheduler/status.hpp"
#include "upstream/endpoint.hpp"

namespace crs::admin {
namespace json = boost::json;
using http_server::Exchange;

namespace {

accounts::AccountStore account_store(const AdminDeps& d, Exchange& ex) {
  return accounts::AccountStore(d.redis_for(ex), d.cfg.security.encryptionKey);
}

http_server::Response unavailable(const std::string& why) {
  return admin_error(http::status::service_unavailable, "Service unavailable", why);
}
http_server::Response not_found(std::string_view what) { return admin_error(http::status::not_found, "Not found", what); }
http_server::Response invalid(const std::string& why) {
  return admin_error(http::status::bad_request, "Invalid request", why);
}

// A store error as the admin sees it: "no ... with id" is a 404, anything else Redis's fault.
http_server::Response store_error(const std::string& message) {
  if (message.starts_with("no account")) return not_found(message);
  return unavailable(message);
}

// The account named by the route, or nullopt after answering 404 / 503.
Task<std::optional<accounts::Account>> find_account(Exchange& ex, const AdminDeps& deps) {
  std::string id = ex.params().at("accountId");
  if (!is_uuid(id)) {
    co_await ex.send(not_found("Account not found"));
    co_return std::nullopt;
  }
  auto store = account_store(deps, ex);
  auto found = co_await store.get(id);
  if (!found) {
    co_await ex.send(unavailable(found.error().message));
    co_return std::nullopt;
  }
  if (!*found) co_await ex.send(not_found("Account not found"));
  co_return std::move(*found);
}

// The account's admin view with its health (health/view.hpp).
json::object with_health(const accounts::Account& a, std::map<std::string, json::object>& health) {
  auto o = accounts::account_json(a);
  o["health"] = std::move(health[a.id]);
  return o;
}

Task<void> list_accounts(Exchange& ex, AdminDepsPtr deps) {
  auto store = account_store(*deps, ex);
  auto all = co_await store.list();
  if (!all) {
    co_await ex.send(unavailable(all.error().message));
    co_return;
  }
  std::vector<std::string> ids;
  for (const auto& a : *all) ids.push_back(a.id);
  auto health = co_await health::health_views(deps->redis_for(ex), std::move(ids));
  if (!health) {
    co_await ex.send(unavailable(health.error().message));
    co_return;
  }
  json::array out;
  for (const auto& a : *all) {
    auto o = with_health(a, *health);
    json::array groups;
    for (const auto& g : a.groups) groups.emplace_back(g);
    o["groups"] = std::move(groups);
    out.push_back(std::move(o));
  }
  co_await ex.send(admin_data(std::move(out)));
}

Task<void> show_account(Exchange& ex, AdminDepsPtr deps) {
  auto account = co_await find_account(ex, *deps);
  if (!account) co_return;
  std::vector<std::string> ids;
  ids.push_back(account->id);
  auto health = co_await health::health_views(deps->redis_for(ex), std::move(ids));
  if (!health) {
    co_await ex.send(unavailable(health.error().message));
    co_return;
  }
  co_await ex.send(admin_data(with_health(*account, *health)));
}

Task<void> create_account(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  accounts::Account a;
  if (string_member(*body, "type") == accounts::kClaudeOauth && !body->contains("baseUrl"))
    (*body)["baseUrl"] = deps->cfg.oauth.apiBaseUrl;
  if (auto s = accounts::apply_account_changes(a, *body, true); !s) {
    co_await ex.send(invalid(s.error().message));
    co_return;
  }
  auto store = account_store(*deps, ex);
  auto added = co_await store.add(std::move(a));
  if (!added) {
    co_await ex.send(unavailable(added.error().message));
    co_return;
  }
  spdlog::info("admin {} added account {} ({})", session.username, added->id, added->name);
  co_await ex.send(admin_data(accounts::account_json(*added)));
}

// ---- the Claude OAuth sign-in (accounts/oauth_signin.hpp) ----

accounts::oauth::Settings oauth_settings(const config::Config& c) {
  return {c.oauth.authorizeUrl, c.oauth.tokenUrl, c.oauth.redirectUri, c.oauth.clientId, c.oauth.scopes};
}

// The Node.js service's {proxy} member is not needed here: the exchange goes through the proxy
// given with the account's fields at exchange-code.
Task<void> generate_auth_url(Exchange& ex, AdminDepsPtr deps) {
  accounts::oauth::Settings settings = oauth_settings(deps->cfg);
  auto& redis = deps->redis_for(ex);
  auto signin = co_await accounts::oauth::start_sign_in(redis, settings);
  if (!signin) {
    co_await ex.send(unavailable(signin.error().message));
    co_return;
  }
  json::object data;
  data["authUrl"] = signin->url;
  data["sessionId"] = signin->session;
  data["expiresIn"] = accounts::oauth::kSignInSeconds;
  data["instructions"] =
      "Open the URL, sign in with the Claude Pro or Max account and approve; then paste the code shown "
      "(code#state) or the whole address of the page it lands on, within 10 minutes.";
  co_await ex.send(admin_data(std::move(data)));
}

// The new account's fields from the exchange's body: everything but the sign-in's own members,
// with the tokens (placeholders until the code is spent, so that a mistake in a field is
// told before the single-use code is).
json::object oauth_account_fields(json::object body, const config::Config& cfg, const accounts::Credentials& tokens) {
  for (const char* member : {"sessionId", "authorizationCode", "callbackUrl", "code"}) body.erase(member);
  body["type"] = accounts::kClaudeOauth;
  if (!body.contains("baseUrl")) body["baseUrl"] = cfg.oauth.apiBaseUrl;
  body["accessToken"] = tokens.access_token;
  body["refreshToken"] = tokens.refresh_token;
  body["expiresAt"] = tokens.expires_at_ms;
  return body;
}

// POST /admin/claude-accounts/exchange-code {sessionId, authorizationCode | callbackUrl, name,
// ...account fields}: spends the code and adds the account. Unlike the Node.js service, the
// tokens never leave the relay: the answer is the new account, credentials masked.
Task<void> exchange_code(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  std::string pasted = string_member(*body, "authorizationCode");
  if (pasted.empty()) pasted = string_member(*body, "callbackUrl");
  std::string signin = string_member(*body, "sessionId");
  if (pasted.empty() || signin.empty()) {
    co_await ex.send(invalid("sessionId and authorizationCode (or callbackUrl) are required"));
    co_return;
  }
  accounts::Account probe;
  if (auto s = accounts::apply_account_changes(probe, oauth_account_fields(*body, deps->cfg, accounts::Credentials::oauth_placeholder()), true);
      !s) {
    co_await ex.send(invalid(s.error().message));
    co_return;
  }
  if (!deps->tls) {
    co_await ex.send(unavailable("no TLS context for the token endpoint"));
    co_return;
  }
  // The token endpoint is reached through the account's own proxy, as checked above.
  auto proxy = upstream::parse_proxy_url(probe.proxy);
  if (!proxy) {
    std::string why = "proxy: " + proxy.error().message;
    co_await ex.send(invalid(why));
    co_return;
  }
  accounts::oauth::Settings settings = oauth_settings(deps->cfg);
  auto& redis = deps->redis_for(ex);
  auto tokens = co_await accounts::oauth::finish_sign_in(redis, *deps->tls, settings, signin, pasted, *proxy);
  crypto::wipe(pasted);
  if (!tokens) {
    co_await ex.send(invalid(tokens.error().message));
    co_return;
  }
  accounts::Account a;
  if (auto s = accounts::apply_account_changes(a, oauth_account_fields(*body, deps->cfg, tokens->credentials), true); !s) {
    co_await ex.send(invalid(s.error().message));
    co_return;
  }
  auto store = account_store(*deps, ex);
  auto added = co_await store.add(std::move(a));
  if (!added) {
    // The code is spent: the admin signs in again once Redis takes writes.
    std::string why = "the sign-in succeeded but the account could not be saved: " + added.error().message;
    co_await ex.send(unavailable(why));
    co_return;
  }
  spdlog::info("admin {} signed in OAuth account {} ({})", session.username, added->id, added->name);
  co_await ex.send(admin_data(accounts::account_json(*added)));
}

Task<void> update_account(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  auto account = co_await find_account(ex, *deps);
  if (!account) co_return;
  if (body->empty()) {
    co_await ex.send(invalid("nothing to change"));
    co_return;
  }
  bool credentials = false;
  if (auto s = accounts::apply_account_changes(*account, *body, false, &credentials); !s) {
    co_await ex.send(invalid(s.error().message));
    co_return;
  }
  auto store = account_store(*deps, ex);
  if (auto s = co_await store.update(*account, credentials); !s) {
    co_await ex.send(store_error(s.error().message));
    co_return;
  }
  spdlog::info("admin {} updated account {}", session.username, account->id);
  co_await ex.send(admin_data(accounts::account_json(*account)));
}

// Plain functions: GCC 12 miscompiles initializer lists in coroutine frames.
json::object schedulable_view(bool schedulable) { return json::object{{"schedulable", schedulable}}; }

json::object strategy_view(const std::string& name, const std::string& group) {
  return json::object{{"strategy", name.empty() ? json::value(nullptr) : json::value(name)},
                      {"groupId", group.empty() ? json::value(nullptr) : json::value(group)}};
}

std::string done_message(const std::string& action) {
  if (action == "reset-state") return "Account state reset";
  return "Account " + (action == "delete" ? std::string("deleted") : action + "d");
}

std::string param_or_empty(const Exchange& ex, const char* name) {
  auto it = ex.params().find(name);
  return it == ex.params().end() ? std::string() : it->second;
}

void log_strategy_set(const std::string& admin, const std::string& name, const std::string& group) {
  spdlog::info("admin {} set the load-balancing strategy{} to {}", admin, group.empty() ? "" : " of group " + group,
               name.empty() ? "the configured default" : name);
}

// enable | disable | delete | toggle-schedulable | reset-state
Task<void> change_account(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps, std::string action) {
  auto account = co_await find_account(ex, *deps);
  if (!account) co_return;
  auto store = account_store(*deps, ex);
  Status s = Ok{};
  if (action == "delete") {
    s = co_await store.remove(account->id);
  } else if (action == "toggle-schedulable") {
    account->scheduling.schedulable = !account->scheduling.schedulable;
    s = co_await store.update(*account, false);
  } else if (action == "reset-state") {
    s = co_await store.clear_state(account->id);
  } else {
    s = co_await store.set_enabled(account->id, action == "enable");
  }
  // Enabling, resetting and deleting clear the circuit and health class on every instance.
  if (s && (action == "enable" || action == "reset-state" || action == "delete"))
    s = co_await health::reset_health(deps->redis_for(ex), account->id);
  if (!s) {
    co_await ex.send(store_error(s.error().message));
    co_return;
  }
  spdlog::info("admin {}: {} account {}", session.username, action, account->id);
  if (action == "toggle-schedulable")
    co_await ex.send(admin_data(schedulable_view(account->scheduling.schedulable)));
  else
    co_await ex.send(admin_message(done_message(action)));
}

// Probes the account now (no tokens spent) and answers its health (relay::health_check).
Task<void> health_check(Exchange& ex, AdminDepsPtr deps) {
  auto account = co_await find_account(ex, *deps);
  if (!account) co_return;
  if (!deps->tls || !deps->accounts) {
    co_await ex.send(unavailable("health checks are not available on this server"));
    co_return;
  }
  adapters::AdapterContext context{deps->cfg, deps->redis_for(ex), *deps->accounts, *deps->tls};
  auto checked = co_await relay::health_check(context, std::move(*account));
  if (!checked) {
    co_await ex.send(unavailable(checked.error().message));
    co_return;
  }
  co_await ex.send(admin_data(std::move(*checked)));
}

// ---- groups ----

Task<void> list_groups(Exchange& ex, AdminDepsPtr deps) {
  auto store = account_store(*deps, ex);
  auto groups = co_await store.list_groups();
  if (!groups) {
    co_await ex.send(unavailable(groups.error().message));
    co_return;
  }
  json::array out;
  for (const auto& g : *groups) out.push_back(accounts::group_json(g));
  co_await ex.send(admin_data(std::move(out)));
}

Task<void> create_group(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  std::string name = string_member(*body, "name");
  if (name.empty() || name.size() > 100) {
    co_await ex.send(invalid("name: must be 1 to 100 characters"));
    co_return;
  }
  auto store = account_store(*deps, ex);
  auto g = co_await store.create_group(name);
  if (!g) {
    co_await ex.send(unavailable(g.error().message));
    co_return;
  }
  spdlog::info("admin {} created account group {} ({})", session.username, g->id, g->name);
  co_await ex.send(admin_data(accounts::group_json(*g)));
}

Task<void> change_group(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps, std::string action) {
  std::string group = ex.params().at("groupId");
  std::string account = param_or_empty(ex, "accountId");
  if (!is_uuid(group) || (action != "delete" && !is_uuid(account))) {
    co_await ex.send(not_found("Account group or account not found"));
    co_return;
  }
  auto store = account_store(*deps, ex);
  Status s = Ok{};
  if (action == "delete") s = co_await store.delete_group(group);
  else s = co_await store.set_membership(group, account, action == "add");
  if (!s) {
    co_await ex.send(store_error(s.error().message));
    co_return;
  }
  spdlog::info("admin {}: {} account group {} {}", session.username, action, group, account);
  co_await ex.send(admin_message("Account group updated"));
}

// ---- the load balancer ----

Task<void> load_balance_status(Exchange& ex, AdminDepsPtr deps) {
  auto store = account_store(*deps, ex);
  auto all = co_await store.list();
  if (!all) {
    co_await ex.send(unavailable(all.error().message));
    co_return;
  }
  auto view = co_await health::balancer_status(deps->redis_for(ex), std::move(*all), deps->balancer());
  if (!view) {
    co_await ex.send(unavailable(view.error().message));
    co_return;
  }
  co_await ex.send(admin_data(std::move(*view)));
}

// {"strategy": NAME | null, "groupId"?: ID}: null clears the runtime choice.
Task<void> set_strategy(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  std::string name = string_member(*body, "strategy");
  std::string group = string_member(*body, "groupId");
  if (!deps->cfg.loadBalancing.enabled) {
    co_await ex.send(invalid("loadBalancing.enabled is false: the strategies are off"));
    co_return;
  }
  if (!name.empty() && !scheduler::parse_strategy(name)) {
    co_await ex.send(invalid("strategy: least_used, least_recent, lowest_cost, balanced, weighted_random or null"));
    co_return;
  }
  auto store = account_store(*deps, ex);
  if (!group.empty()) {
    auto exists = co_await store.group_exists(group);
    if (!exists) {
      co_await ex.send(unavailable(exists.error().message));
      co_return;
    }
    if (!*exists) {
      co_await ex.send(invalid("groupId: no account group with id " + group));
      co_return;
    }
  }
  if (auto s = co_await scheduler::set_runtime_strategy(deps->redis_for(ex), group, name); !s) {
    co_await ex.send(unavailable(s.error().message));
    co_return;
  }
  log_strategy_set(session.username, name, group);
  co_await ex.send(admin_data(strategy_view(name, group)));
}

// GET /admin/load-balance/decisions?limit=N: this instance's latest choices, newest first.
json::object decision_json(const scheduler::Decision& d) {
  json::array options;
  for (size_t i = 0; i < d.option_count; ++i) {
    const auto& o = d.options[i];
    options.push_back(json::object{{"accountId", o.account},
                                   {"score", o.score},
                                   {"cost", o.cost},
                                   {"performance", o.performance},
                                   {"load", o.load},
                                   {"reliability", o.reliability},
                                   {"paused", o.paused},
                                   {"degraded", o.degraded}});
  }
  return json::object{{"at", iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(d.at_ms)))},
                      {"requestId", d.request_id},
                      {"keyId", d.key_id},
                      {"model", d.model},
                      {"group", d.group},
                      {"strategy", d.strategy},
                      {"picked", d.picked[0] ? json::value(d.picked) : json::value(nullptr)},
                      {"how", d.how},
                      {"candidates", d.candidates},
                      {"ranked", std::move(options)}};
}

Task<void> recent_decisions(Exchange& ex, AdminDepsPtr deps) {
  auto q = query_params(ex.query());
  size_t limit = 50;
  if (q.count("limit")) {
    char* end = nullptr;
    long long v = std::strtoll(q["limit"].c_str(), &end, 10);
    if (q["limit"].empty() || *end || v < 1 || v > static_cast<long long>(scheduler::DecisionLog::kKept)) {
      co_await ex.send(invalid("limit: a number from 1 to 256"));
      co_return;
    }
    limit = static_cast<size_t>(v);
  }
  json::array out;
  for (const auto& d : scheduler::decision_log().recent(limit)) out.push_back(decision_json(d));
  json::object data;
  data["instance"] = deps->instance;
  data["decisions"] = std::move(out);
  co_await ex.send(admin_data(std::move(data)));
}

}  // namespace

void register_account_routes(http_server::Router& router, AdminDepsPtr deps) {
  using http::verb;
  const std::string base = "/admin/claude-accounts";
  add_admin_route(router, verb::get, base, deps, [deps](Exchange& ex, const SessionClaims&) { return list_accounts(ex, deps); });
  add_admin_route(router, verb::post, base, deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return create_account(ex, s, deps); });
  add_admin_route(router, verb::post, base + "/generate-auth-url", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return generate_auth_url(ex, deps); });
  add_admin_route(router, verb::post, base + "/exchange-code", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return exchange_code(ex, s, deps); });
  add_admin_route(router, verb::get, base + "/:accountId", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return show_account(ex, deps); });
  add_admin_route(router, verb::put, base + "/:accountId", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return update_account(ex, s, deps); });
  add_admin_route(router, verb::delete_, base + "/:accountId", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return change_account(ex, s, deps, "delete"); });
  for (std::string action : {"enable", "disable", "toggle-schedulable"}) {
    verb method = action == "toggle-schedulable" ? verb::put : verb::post;
    add_admin_route(router, method, base + "/:accountId/" + action, deps,
                    [deps, action](Exchange& ex, const SessionClaims& s) { return change_account(ex, s, deps, action); });
  }
  // reset-status is the Node.js service's name for it; /admin/accounts/ serves every kind.
  for (std::string path : {base + "/:accountId/reset-status", base + "/:accountId/reset-state",
                           std::string("/admin/accounts/:accountId/reset-state")})
    add_admin_route(router, verb::post, path, deps,
                    [deps](Exchange& ex, const SessionClaims& s) { return change_account(ex, s, deps, "reset-state"); });

  for (std::string path : {base + "/:accountId/health-check", std::string("/admin/accounts/:accountId/health-check")})
    add_admin_route(router, verb::post, path, deps, [deps](Exchange& ex, const SessionClaims&) { return health_check(ex, deps); });

  const std::string groups = "/admin/account-groups";
  add_admin_route(router, verb::get, groups, deps, [deps](Exchange& ex, const SessionClaims&) { return list_groups(ex, deps); });
  add_admin_route(router, verb::post, groups, deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return create_group(ex, s, deps); });
  add_admin_route(router, verb::delete_, groups + "/:groupId", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return change_group(ex, s, deps, "delete"); });
  add_admin_route(router, verb::post, groups + "/:groupId/accounts/:accountId", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return change_group(ex, s, deps, "add"); });
  add_admin_route(router, verb::delete_, groups + "/:groupId/accounts/:accountId", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return change_group(ex, s, deps, "remove"); });

  add_admin_route(router, verb::get, "/admin/load-balance/status", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return load_balance_status(ex, deps); });
  add_admin_route(router, verb::get, "/admin/load-balance/decisions", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return recent_decisions(ex, deps); });
  add_admin_route(router, verb::put, "/admin/load-balance/strategy", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return set_strategy(ex, s, deps); });
}

}  // namespace crs::admin
