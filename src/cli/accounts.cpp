// `crs accounts ...`: upstream accounts. Credentials go in once and are only shown masked.
#include <iostream>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "accounts/account_store.hpp"
#include "cli/commands.hpp"
#include "core/secret.hpp"
#include "upstream/endpoint.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

struct AddOptions {
  std::string type, name, base_url, api_key, access_token, refresh_token, proxy;
  int64_t expires_at = 0;
  int priority = 50;
};

json::object account_json(const accounts::Account& a) {
  json::object creds;
  if (!a.credentials.api_key.empty()) creds["apiKey"] = mask_secret(a.credentials.api_key);
  if (!a.credentials.access_token.empty()) creds["accessToken"] = mask_secret(a.credentials.access_token);
  if (!a.credentials.refresh_token.empty()) creds["refreshToken"] = mask_secret(a.credentials.refresh_token);
  if (a.credentials.expires_at_ms) creds["expiresAt"] = a.credentials.expires_at_ms;
  return json::object{{"id", a.id},
                      {"name", a.name},
                      {"type", a.type},
                      {"baseUrl", a.base_url},
                      {"proxy", a.proxy.empty() ? json::value(nullptr) : json::value(upstream::redact_proxy_url(a.proxy))},
                      {"priority", a.priority},
                      {"enabled", a.enabled},
                      {"status", a.status},
                      {"statusReason", a.status_reason},
                      {"unavailableUntil", a.unavailable_until_ms},
                      {"createdAt", a.created_at},
                      {"lastUsedAt", a.last_used_at.empty() ? json::value(nullptr) : json::value(a.last_used_at)},
                      {"credentials", std::move(creds)}};
}

// Checks the flags and builds the record; an empty error means it is valid.
std::string build_account(const AddOptions& o, accounts::Account& a) {
  a.name = o.name;
  a.type = o.type;
  a.priority = o.priority;
  a.proxy = o.proxy;
  if (o.priority < 1 || o.priority > 100) return "--priority must be between 1 and 100";
  if (auto p = upstream::parse_proxy_url(o.proxy); !p) return "--proxy: " + p.error().message;
  if (o.type == accounts::kClaudeConsole) {
    if (o.base_url.empty()) return "--base-url is required for claude-console accounts";
    if (o.api_key.empty()) return "--api-key is required for claude-console accounts";
    a.base_url = o.base_url;
    a.credentials.api_key = o.api_key;
  } else if (o.type == accounts::kClaudeOauth) {
    if (o.access_token.empty() || o.refresh_token.empty() || o.expires_at <= 0)
      return "--access-token, --refresh-token and --expires-at are required for claude-oauth accounts";
    a.base_url = o.base_url.empty() ? "https://api.anthropic.com" : o.base_url;
    a.credentials.access_token = o.access_token;
    a.credentials.refresh_token = o.refresh_token;
    a.credentials.expires_at_ms = o.expires_at;
  } else {
    return "--type must be claude-console or claude-oauth";
  }
  if (auto b = upstream::parse_base_url(a.base_url); !b) return "--base-url: " + b.error().message;
  return {};
}

void print_account(const accounts::Account& a) {
  std::cout << fmt::format("{:<36}  {:<20}  {:<14}  {:<8}  {:<3}  {:<12}  {}\n", a.id, a.name, a.type,
                           a.enabled ? "yes" : "no", a.priority, a.status, a.base_url);
}

void print_header() {
  std::cout << fmt::format("{:<36}  {:<20}  {:<14}  {:<8}  {:<3}  {:<12}  {}\n", "ID", "NAME", "TYPE", "ENABLED",
                           "PRI", "STATUS", "BASE URL");
}

Task<int> add(GlobalOptions options, AddOptions o, store::RedisClient& redis, const config::Config& cfg) {
  accounts::Account a;
  if (auto problem = build_account(o, a); !problem.empty()) co_return fail(options, problem);
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto added = co_await store.add(std::move(a));
  if (!added) co_return fail(options, added.error().message);
  if (options.json) {
    std::cout << json::serialize(account_json(*added)) << "\n";
  } else {
    std::cout << "Added account " << added->id << " (" << added->name << ").\n";
  }
  co_return 0;
}

Task<int> list(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto all = co_await store.list();
  if (!all) co_return fail(options, all.error().message);
  if (options.json) {
    json::array arr;
    for (const auto& a : *all) arr.push_back(account_json(a));
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
  auto j = account_json(**a);
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

Task<int> change(GlobalOptions options, std::string action, std::string id, store::RedisClient& redis,
                 const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  Status s = action == "remove" ? co_await store.remove(id) : co_await store.set_enabled(id, action == "enable");
  if (!s) co_return fail(options, s.error().message);
  std::string done = action == "remove" ? "removed" : action + "d";
  if (options.json) std::cout << json::serialize(json::object{{"id", id}, {"result", done}}) << "\n";
  else std::cout << "Account " << id << " " << done << ".\n";
  co_return 0;
}

}  // namespace

void add_accounts_commands(CLI::App& app, Context& ctx) {
  auto* accounts_cmd = app.add_subcommand("accounts", "Upstream accounts (Claude Console keys, Claude OAuth)");
  accounts_cmd->require_subcommand(1);

  auto o = std::make_shared<AddOptions>();
  auto* add_cmd = accounts_cmd->add_subcommand("add", "Add an account");
  add_cmd->add_option("--type", o->type, "claude-console or claude-oauth")->required();
  add_cmd->add_option("--name", o->name, "Name shown in listings")->required();
  add_cmd->add_option("--base-url", o->base_url, "API base URL (claude-oauth default: https://api.anthropic.com)");
  add_cmd->add_option("--api-key", o->api_key, "Console API key (claude-console)");
  add_cmd->add_option("--access-token", o->access_token, "OAuth access token (claude-oauth)");
  add_cmd->add_option("--refresh-token", o->refresh_token, "OAuth refresh token (claude-oauth)");
  add_cmd->add_option("--expires-at", o->expires_at, "Access token expiry, Unix ms (claude-oauth)");
  add_cmd->add_option("--proxy", o->proxy, "http://user:pass@host:port or socks5://user:pass@host:port");
  add_cmd->add_option("--priority", o->priority, "1-100, lower is preferred (default 50)");
  add_cmd->callback([&ctx, o] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return add(ctx.global, *o, r, c);
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

  for (std::string action : {"enable", "disable", "remove"}) {
    const char* help = action == "enable"    ? "Enable an account (also clears its error state)"
                       : action == "disable" ? "Disable an account: it gets no requests"
                                             : "Remove an account for good";
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

}  // namespace crs::cli
