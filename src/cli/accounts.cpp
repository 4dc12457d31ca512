// `crs accounts ...`: upstream accounts. Credentials go in once and are only shown masked.
#include <iostream>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <boost/asio/ssl.hpp>

#include "accounts/account_store.hpp"
#include "accounts/oauth.hpp"
#include "upstream/http_call.hpp"
#include "cli/commands.hpp"
#include "core/crypto.hpp"
#include "core/secret.hpp"
#include "store/hash_record.hpp"
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
    a.base_url = o.base_url;
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
  if (o.base_url.empty() && o.type == accounts::kClaudeOauth) o.base_url = cfg.oauth.apiBaseUrl;
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
  // No ?: around co_await: GCC 12 miscompiles it (a crash seen here).
  Status s = Ok{};
  if (action == "remove") s = co_await store.remove(id);
  else s = co_await store.set_enabled(id, action == "enable");
  if (!s) co_return fail(options, s.error().message);
  std::string done = action == "remove" ? "removed" : action + "d";
  if (options.json) std::cout << json::serialize(json::object{{"id", id}, {"result", done}}) << "\n";
  else std::cout << "Account " << id << " " << done << ".\n";
  co_return 0;
}

accounts::oauth::Settings oauth_settings(const config::Config& c) {
  return {c.oauth.authorizeUrl, c.oauth.tokenUrl, c.oauth.redirectUri, c.oauth.clientId, c.oauth.scopes};
}

constexpr int kOauthSessionTtl = 600;

Task<int> oauth_url(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  auto pkce = accounts::oauth::make_pkce();
  std::string session = crypto::random_hex(16);
  auto r = co_await redis.command(store::make_command("HSET", "oauth_session:" + session, "verifier", pkce.verifier,
                                                      "state", pkce.state));
  if (!r || r->is_error()) co_return fail(options, "cannot store the OAuth session in Redis");
  co_await redis.command(store::make_command("EXPIRE", "oauth_session:" + session, std::to_string(kOauthSessionTtl)));
  std::string url = accounts::oauth::authorization_url(oauth_settings(cfg), pkce);
  if (options.json) {
    std::cout << json::serialize(json::object{{"session", session}, {"url", url}, {"expiresIn", kOauthSessionTtl}})
              << "\n";
  } else {
    std::cout << "1. Open this URL, sign in with the Claude Pro/Max account and approve:\n\n   " << url
              << "\n\n2. Copy the code shown (code#state) and run, within 10 minutes:\n\n"
              << "   crs accounts oauth-exchange --session " << session << " --code 'CODE#STATE' --name NAME\n";
  }
  co_return 0;
}

struct ExchangeOptions {
  std::string session, code, name, proxy;
  int priority = 50;
};

Task<int> oauth_exchange(GlobalOptions options, ExchangeOptions o, store::RedisClient& redis,
                         const config::Config& cfg) {
  auto pasted = accounts::oauth::parse_pasted_code(o.code);
  if (!pasted) co_return fail(options, pasted.error().message);
  auto stored = co_await redis.command(store::make_command("HGETALL", "oauth_session:" + o.session));
  if (!stored) co_return fail(options, stored.error().message);
  auto session = store::to_record(*stored);
  if (session.empty()) co_return fail(options, "unknown or expired OAuth session: run `crs accounts oauth-url` again");
  if (!pasted->state.empty() && pasted->state != session["state"])
    co_return fail(options, "the pasted state does not belong to this session");
  auto proxy = upstream::parse_proxy_url(o.proxy);
  if (!proxy) co_return fail(options, "--proxy: " + proxy.error().message);
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_default_verify_paths();
  if (!cfg.relay.caFile.empty()) tls.load_verify_file(cfg.relay.caFile);
  std::string request =
      accounts::oauth::exchange_request_json(oauth_settings(cfg), pasted->code, session["verifier"], session["state"]);
  auto executor = co_await asio::this_coro::executor;
  auto answer = co_await upstream::post_json(executor, tls, cfg.oauth.tokenUrl, request, *proxy,
                                             std::chrono::milliseconds(30000));
  if (answer.status != 200) {
    std::string code = accounts::oauth::oauth_error_code(answer.body);
    co_return fail(options, "token exchange failed: " +
                                (answer.status ? "HTTP " + std::to_string(answer.status) : answer.error) +
                                (code.empty() ? "" : " (" + code + ")"));
  }
  auto tokens = accounts::oauth::parse_token_answer(answer.body, accounts::now_ms());
  if (!tokens) co_return fail(options, tokens.error().message);
  co_await redis.command(store::make_command("DEL", "oauth_session:" + o.session));  // codes are single-use
  AddOptions add_options;
  add_options.type = std::string(accounts::kClaudeOauth);
  add_options.name = o.name;
  add_options.base_url = cfg.oauth.apiBaseUrl;
  add_options.access_token = tokens->credentials.access_token;
  add_options.refresh_token = tokens->credentials.refresh_token;
  add_options.expires_at = tokens->credentials.expires_at_ms;
  add_options.proxy = o.proxy;
  add_options.priority = o.priority;
  co_return co_await add(options, add_options, redis, cfg);
}

}  // namespace

void add_accounts_commands(CLI::App& app, Context& ctx) {
  auto* accounts_cmd = app.add_subcommand("accounts", "Upstream accounts (Claude Console keys, Claude OAuth)");
  accounts_cmd->require_subcommand(1);

  auto o = std::make_shared<AddOptions>();
  auto* add_cmd = accounts_cmd->add_subcommand("add", "Add an account");
  add_cmd->add_option("--type", o->type, "claude-console or claude-oauth")->required();
  add_cmd->add_option("--name", o->name, "Name shown in listings")->required();
  add_cmd->add_option("--base-url", o->base_url, "API base URL (claude-oauth default: oauth.apiBaseUrl, https://api.anthropic.com)");
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
  exchange->callback([&ctx, x] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return oauth_exchange(ctx.global, *x, r, c);
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
