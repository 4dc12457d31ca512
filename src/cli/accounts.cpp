// `crs accounts ...`: upstream accounts. Credentials go in once and are only shown masked.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <boost/asio/ssl.hpp>

#include "accounts/account_fields.hpp"
#include "accounts/account_store.hpp"
#include "accounts/oauth.hpp"
#include "accounts/oauth_signin.hpp"
#include "upstream/http_call.hpp"
#include "cli/commands.hpp"
#include "core/crypto.hpp"
#include "core/secret.hpp"
#include "health/view.hpp"
#include "relay/health_check.hpp"
#include "store/hash_record.hpp"
#include "upstream/endpoint.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

// The account fields given on the command line, as the admin API would take them
// (accounts/account_fields.hpp).
struct AccountFlags {
  json::object given;

  void flag(CLI::App* cmd, const std::string& name, const char* member, const std::string& help) {
    cmd->add_option_function<std::string>(
        name, [this, member](const std::string& v) { given[member] = v; }, help);
  }
  // A field's error as the command line's user knows it: "baseUrl: ..." -> "--base-url: ...".
  static std::string in_flags(std::string message) {
    static const std::pair<const char*, const char*> kFlags[] = {
        {"type", "--type"}, {"name", "--name"}, {"baseUrl", "--base-url"}, {"apiKey", "--api-key"},
        {"accessToken", "--access-token"}, {"refreshToken", "--refresh-token"}, {"expiresAt", "--expires-at"},
        {"proxy", "--proxy"}, {"priority", "--priority"}, {"maxConcurrency", "--max-concurrency"},
        {"weight", "--weight"}, {"costFactor", "--cost-factor"}, {"plan", "--plan"},
        {"schedulable", "--schedulable"}, {"models", "--models"}, {"modelMapping", "--model-map"},
        {"region", "--region"}, {"awsAccessKeyId", "--aws-access-key-id"},
        {"awsSecretAccessKey", "--aws-secret-access-key"}, {"awsSessionToken", "--aws-session-token"}};
    for (auto [member, flag] : kFlags)
      if (message.starts_with(std::string(member) + ":")) return flag + message.substr(std::strlen(member));
    return message;
  }
  void add_to(CLI::App* cmd, bool creating) {
    if (creating) flag(cmd, "--type", "type", "claude-console, claude-oauth, bedrock or openai-compatible");
    flag(cmd, "--name", "name", "Name shown in listings");
    flag(cmd, "--base-url", "baseUrl",
         "API base URL (claude-oauth default: oauth.apiBaseUrl; bedrock: https://bedrock-runtime.<region>.amazonaws.com)");
    flag(cmd, "--api-key", "apiKey",
         "Console API key (claude-console), a Bedrock API key (bedrock), the provider's key (openai-compatible)");
    flag(cmd, "--region", "region", "AWS region of a bedrock account, e.g. us-east-1");
    flag(cmd, "--aws-access-key-id", "awsAccessKeyId", "bedrock: access key id to sign requests with (SigV4)");
    flag(cmd, "--aws-secret-access-key", "awsSecretAccessKey", "bedrock: its secret access key");
    flag(cmd, "--aws-session-token", "awsSessionToken", "bedrock: session token of temporary credentials");
    flag(cmd, "--access-token", "accessToken", "OAuth access token (claude-oauth)");
    flag(cmd, "--refresh-token", "refreshToken", "OAuth refresh token (claude-oauth)");
    flag(cmd, "--expires-at", "expiresAt", "Access token expiry, Unix ms (claude-oauth)");
    flag(cmd, "--proxy", "proxy", "http://user:pass@host:port or socks5://user:pass@host:port (\"\" for none)");
    flag(cmd, "--priority", "priority", "1-100, lower is preferred (default 50)");
    add_scheduling_flags(cmd);
  }
  void add_scheduling_flags(CLI::App* cmd) {
    flag(cmd, "--max-concurrency", "maxConcurrency", "Requests in flight on this account, all instances (0 = no cap)");
    flag(cmd, "--weight", "weight", "Share for weighted_random and balanced (default: from --plan, else 1)");
    flag(cmd, "--cost-factor", "costFactor",
         "What a token costs here relative to list price (default 1.0; claude-oauth 0.1)");
    flag(cmd, "--plan", "plan", "claude-oauth subscription: pro, max5, max20 or a number (capacity relative to pro)");
    flag(cmd, "--schedulable", "schedulable", "true, or false to keep it for bound keys only");
    flag(cmd, "--models", "models", "Models it serves, comma-separated; \"prefix*\" matches a prefix (\"\" = any)");
    flag(cmd, "--model-map", "modelMapping", "requested=upstream,... model names to send up instead");
  }
};

void print_account(const accounts::Account& a) {
  std::cout << fmt::format("{:<36}  {:<20}  {:<14}  {:<8}  {:<3}  {:<12}  {}\n", a.id, a.name, a.type,
                           a.enabled ? "yes" : "no", a.priority, a.status, a.base_url);
}

void print_header() {
  std::cout << fmt::format("{:<36}  {:<20}  {:<14}  {:<8}  {:<3}  {:<12}  {}\n", "ID", "NAME", "TYPE", "ENABLED",
                           "PRI", "STATUS", "BASE URL");
}

Task<int> add(GlobalOptions options, json::object given, store::RedisClient& redis, const config::Config& cfg) {
  accounts::Account a;
  auto* type = given.if_contains("type");
  if (type && type->is_string() && type->get_string() == accounts::kClaudeOauth && !given.contains("baseUrl"))
    given["baseUrl"] = cfg.oauth.apiBaseUrl;
  if (auto s = accounts::apply_account_changes(a, given, true); !s)
    co_return fail(options, AccountFlags::in_flags(s.error().message));
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto added = co_await store.add(std::move(a));
  if (!added) co_return fail(options, added.error().message);
  if (options.json) {
    std::cout << json::serialize(accounts::account_json(*added)) << "\n";
  } else {
    std::cout << "Added account " << added->id << " (" << added->name << ").\n";
  }
  co_return 0;
}

Task<int> update(GlobalOptions options, std::string id, json::object given, store::RedisClient& redis,
                 const config::Config& cfg) {
  if (given.empty()) co_return fail(options, "nothing to change: give at least one field");
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto found = co_await store.get(id);
  if (!found) co_return fail(options, found.error().message);
  if (!*found) co_return fail(options, "no account with id " + id);
  accounts::Account a = std::move(**found);
  bool credentials = false;
  if (auto s = accounts::apply_account_changes(a, given, false, &credentials); !s)
    co_return fail(options, AccountFlags::in_flags(s.error().message));
  if (auto s = co_await store.update(a, credentials); !s) co_return fail(options, s.error().message);
  if (options.json) std::cout << json::serialize(accounts::account_json(a)) << "\n";
  else std::cout << "Account " << id << " updated.\n";
  co_return 0;
}

// The account's admin view with its health (health/view.hpp).
json::object with_health(const accounts::Account& a, std::map<std::string, json::object>& health) {
  auto j = accounts::account_json(a);
  j["health"] = std::move(health[a.id]);
  return j;
}

Task<int> list(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto all = co_await store.list();
  if (!all) co_return fail(options, all.error().message);
  if (options.json) {
    std::vector<std::string> ids;
    for (const auto& a : *all) ids.push_back(a.id);
    auto health = co_await health::health_views(redis, std::move(ids));
    if (!health) co_return fail(options, health.error().message);
    json::array arr;
    for (const auto& a : *all) arr.push_back(with_health(a, *health));
    std::cout << json::serialize(arr) << "\n";
  } else {
    print_header();
    for (const auto& a : *all) print_account(a);
  }
  co_return 0;
}

Task<int> show(GlobalOptions options, std::string id, store::RedisClient& redis, const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto a = co_await store.get(id);
  if (!a) co_return fail(options, a.error().message);
  if (!*a) co_return fail(options, "no account with id " + id);
  std::vector<std::string> ids;
  ids.push_back(id);
  auto health = co_await health::health_views(redis, std::move(ids));
  if (!health) co_return fail(options, health.error().message);
  auto j = with_health(**a, *health);
  if (options.json) {
    std::cout << json::serialize(j) << "\n";
  } else {
    for (const auto& [k, v] : j) {
      std::string text = v.is_string() ? std::string(v.get_string()) : json::serialize(v);
      std::cout << fmt::format("{:<18} {}\n", std::string(k) + ":", text);
    }
  }
  co_return 0;
}

// "removed", "reset", "enabled", "disabled" (a plain function: GCC 12 miscompiles ?: with
// strings in coroutines).
std::string done_word(const std::string& action) {
  if (action == "remove") return "removed";
  if (action == "reset-state") return "reset";
  return action + "d";
}

Task<int> change(GlobalOptions options, std::string action, std::string id, store::RedisClient& redis,
                 const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  // No ?: around co_await: GCC 12 miscompiles it (a crash seen here).
  Status s = Ok{};
  if (action == "remove") s = co_await store.remove(id);
  else if (action == "reset-state") s = co_await store.clear_state(id);
  else s = co_await store.set_enabled(id, action == "enable");
  // Enabling and resetting also clear the circuit and health class, for every instance at once.
  if (s && action != "disable") s = co_await health::reset_health(redis, id);
  if (!s) co_return fail(options, s.error().message);
  std::string done = done_word(action);
  if (options.json) std::cout << json::serialize(json::object{{"id", id}, {"result", done}}) << "\n";
  else std::cout << "Account " << id << " " << done << ".\n";
  co_return 0;
}

// One line of `crs accounts health-check` (relay::health_check's view).
void print_check(const json::object& c) {
  auto text = [](const json::value& v) {
    if (v.is_null()) return std::string("-");
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_double()) return fmt::format("{:.2f}", v.get_double());
    return json::serialize(v);
  };
  const auto& probe = c.at("probe").as_object();
  std::string probed = probe.at("ok").as_bool() ? fmt::format("ok {} ms", probe.at("ms").as_int64())
                                                : text(probe.at("outcome")) + " " + text(probe.at("status"));
  std::string last = "-";
  if (c.at("lastError").is_object()) {
    const auto& e = c.at("lastError").as_object();
    last = text(e.at("class")) + " " + text(e.at("status")) + " " + text(e.at("message"));
  }
  std::cout << fmt::format("{:<36} {:<16} {:<14} {:<13} {:<10} {:<10} {:>8} {:>7} {:>5} {:>5} {:<16} {}\n", text(c.at("id")),
                           text(c.at("name")).substr(0, 16), text(c.at("type")), text(c.at("status")),
                           text(c.at("class")), text(c.at("circuit")), text(c.at("ttfbP95Ms")),
                           text(c.at("successRate")), text(c.at("utilization5h")), text(c.at("utilization7d")),
                           probed.substr(0, 16), last.substr(0, 100));
}

// Probes each account (all, or those named) without spending tokens, records and applies what
// the probes say, and prints each one's health. Exit 1 when any is unhealthy, blocked or
// unauthorized.
Task<int> health_check(GlobalOptions options, std::vector<std::string> ids, store::RedisClient& redis,
                       const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto all = co_await store.list();
  if (!all) co_return fail(options, all.error().message);
  std::vector<accounts::Account> chosen;
  for (const auto& id : ids) {
    auto it = std::find_if(all->begin(), all->end(), [&](const accounts::Account& a) { return a.id == id; });
    if (it == all->end()) co_return fail(options, "no account with id " + id);
    chosen.push_back(*it);
  }
  if (ids.empty()) chosen = *all;
  auto tls = upstream::client_tls(cfg.relay.caFile);
  if (!tls) co_return fail(options, tls.error().message);
  accounts::AccountRegistry registry;
  registry.replace(*all);
  adapters::AdapterContext context{cfg, redis, registry, **tls};
  json::array out;
  bool failing = false;
  if (!options.json)
    std::cout << fmt::format("{:<36} {:<16} {:<14} {:<13} {:<10} {:<10} {:>8} {:>7} {:>5} {:>5} {:<16} {}\n", "ACCOUNT",
                             "NAME", "TYPE", "STATE", "HEALTH", "CIRCUIT", "P95 TTFB", "SUCCESS", "5H", "7D", "PROBE",
                             "LAST ERROR");
  for (const auto& account : chosen) {
    auto checked = co_await relay::health_check(context, account);
    if (!checked) co_return fail(options, checked.error().message);
    failing = failing || checked->at("failing").as_bool();
    if (options.json) out.push_back(std::move(*checked));
    else print_check(*checked);
  }
  if (options.json) std::cout << json::serialize(out) << "\n";
  co_return failing ? 1 : 0;
}

accounts::oauth::Settings oauth_settings(const config::Config& c) {
  return {c.oauth.authorizeUrl, c.oauth.tokenUrl, c.oauth.redirectUri, c.oauth.clientId, c.oauth.scopes};
}

json::object sign_in_json(const accounts::oauth::SignIn& s) {
  return json::object{{"session", s.session}, {"url", s.url}, {"expiresIn", accounts::oauth::kSignInSeconds}};
}

Task<int> oauth_url(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  accounts::oauth::Settings settings = oauth_settings(cfg);
  auto signin = co_await accounts::oauth::start_sign_in(redis, settings);
  if (!signin) co_return fail(options, signin.error().message);
  if (options.json) {
    std::cout << json::serialize(sign_in_json(*signin)) << "\n";
  } else {
    std::cout << "1. Open this URL, sign in with the Claude Pro/Max account and approve:\n\n   " << signin->url
              << "\n\n2. Copy the code shown (code#state) and run, within 10 minutes:\n\n"
              << "   crs accounts oauth-exchange --session " << signin->session << " --code 'CODE#STATE' --name NAME\n";
  }
  co_return 0;
}

struct ExchangeOptions {
  std::string session, code, name, proxy;
  int priority = 50;
  AccountFlags scheduling;
};

// The new account's fields (a plain function: GCC 12 miscompiles initializer lists in coroutines).
json::object oauth_account_fields(const ExchangeOptions& o, const config::Config& cfg,
                                  const accounts::Credentials& tokens) {
  json::object given{{"type", accounts::kClaudeOauth},
                     {"name", o.name},
                     {"baseUrl", cfg.oauth.apiBaseUrl},
                     {"accessToken", tokens.access_token},
                     {"refreshToken", tokens.refresh_token},
                     {"expiresAt", tokens.expires_at_ms},
                     {"proxy", o.proxy},
                     {"priority", o.priority}};
  for (const auto& [member, value] : o.scheduling.given) given[member] = value;
  return given;
}

// The flags checked before the single-use code is spent: a typo must not cost the sign-in.
std::string exchange_flags_problem(const ExchangeOptions& o, const config::Config& cfg) {
  auto placeholder = accounts::Credentials::oauth_placeholder();
  accounts::Account probe;
  auto s = accounts::apply_account_changes(probe, oauth_account_fields(o, cfg, placeholder), true);
  return s ? std::string() : AccountFlags::in_flags(s.error().message);
}

Task<int> oauth_exchange(GlobalOptions options, ExchangeOptions o, store::RedisClient& redis,
                         const config::Config& cfg) {
  if (auto problem = exchange_flags_problem(o, cfg); !problem.empty()) co_return fail(options, problem);
  auto proxy = upstream::parse_proxy_url(o.proxy);
  if (!proxy) co_return fail(options, "--proxy: " + proxy.error().message);
  auto tls = upstream::client_tls(cfg.relay.caFile);
  if (!tls) co_return fail(options, tls.error().message);
  accounts::oauth::Settings settings = oauth_settings(cfg);
  auto tokens = co_await accounts::oauth::finish_sign_in(redis, **tls, settings, o.session, o.code, *proxy);
  if (!tokens) co_return fail(options, tokens.error().message);
  json::object given = oauth_account_fields(o, cfg, tokens->credentials);
  co_return co_await add(options, std::move(given), redis, cfg);
}

// health-check, enable, disable, remove, reset-state.
void add_state_commands(CLI::App* accounts_cmd, Context& ctx) {
  auto check_ids = std::make_shared<std::vector<std::string>>();
  auto* check_cmd = accounts_cmd->add_subcommand(
      "health-check", "Probe accounts without spending tokens (their model list) and show their health; exit 1 "
                      "if any is unhealthy, blocked or unauthorized");
  check_cmd->add_option("ids", *check_ids, "Account ids (default: every account)");
  check_cmd->callback([&ctx, check_ids] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return health_check(ctx.global, *check_ids, r, c);
    });
  });

  for (std::string action : {"enable", "disable", "remove", "reset-state"}) {
    const char* help = action == "enable"    ? "Enable an account (also clears its error and health state)"
                       : action == "disable" ? "Disable an account: it gets no requests"
                       : action == "remove"  ? "Remove an account for good"
                                             : "Clear an account's rate limit, error, block, circuit and health class "
                                               "on every instance (it stays enabled or disabled)";
    auto* cmd = accounts_cmd->add_subcommand(action, help);
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Account id")->required();
    cmd->callback([&ctx, action, id] {
      ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
        return change(ctx.global, action, *id, r, c);
      });
    });
  }
}

}  // namespace

void add_accounts_commands(CLI::App& app, Context& ctx) {
  auto* accounts_cmd = app.add_subcommand("accounts", "Upstream accounts (Claude Console keys, Claude OAuth, Bedrock, OpenAI-compatible)");
  accounts_cmd->require_subcommand(1);

  auto o = std::make_shared<AccountFlags>();
  auto* add_cmd = accounts_cmd->add_subcommand("add", "Add an account");
  o->add_to(add_cmd, true);
  add_cmd->callback([&ctx, o] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return add(ctx.global, o->given, r, c);
    });
  });

  auto u = std::make_shared<AccountFlags>();
  auto update_id = std::make_shared<std::string>();
  auto* update_cmd = accounts_cmd->add_subcommand("update", "Change an account's fields (the others stay)");
  update_cmd->add_option("id", *update_id, "Account id")->required();
  u->add_to(update_cmd, false);
  update_cmd->callback([&ctx, u, update_id] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return update(ctx.global, *update_id, u->given, r, c);
    });
  });

  accounts_cmd->add_subcommand("list", "List accounts (credentials masked)")->callback([&ctx] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return list(ctx.global, r, c);
    });
  });

  auto show_id = std::make_shared<std::string>();
  auto* show_cmd = accounts_cmd->add_subcommand("show", "Show one account (credentials masked)");
  show_cmd->add_option("id", *show_id, "Account id")->required();
  show_cmd->callback([&ctx, show_id] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return show(ctx.global, *show_id, r, c);
    });
  });

  accounts_cmd->add_subcommand("oauth-url", "Start a Claude Pro/Max sign-in: print the authorization URL")
      ->callback([&ctx] {
        ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
          return oauth_url(ctx.global, r, c);
        });
      });
  auto x = std::make_shared<ExchangeOptions>();
  auto* exchange = accounts_cmd->add_subcommand("oauth-exchange", "Finish the sign-in: exchange the code for tokens");
  exchange->add_option("--session", x->session, "Session id printed by oauth-url")->required();
  exchange->add_option("--code", x->code, "The code shown after sign-in (code#state) or the callback URL")->required();
  exchange->add_option("--name", x->name, "Name of the new account")->required();
  exchange->add_option("--proxy", x->proxy, "Proxy for this account (also used for the exchange)");
  exchange->add_option("--priority", x->priority, "1-100, lower is preferred (default 50)");
  x->scheduling.add_scheduling_flags(exchange);
  exchange->callback([&ctx, x] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return oauth_exchange(ctx.global, *x, r, c);
    });
  });

  add_state_commands(accounts_cmd, ctx);
}

}  // namespace crs::cli
