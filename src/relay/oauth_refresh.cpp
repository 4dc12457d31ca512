#include "relay/oauth_refresh.hpp"

#include <spdlog/spdlog.h>

#include "accounts/account_store.hpp"
#include "accounts/oauth.hpp"
#include "core/crypto.hpp"
#include "upstream/http_call.hpp"

namespace crs::relay {
namespace {

using store::make_command;

// The lock outlives the token call by this much, so it cannot lapse while the call is in
// flight (two instances would then refresh with the same rotating token, and one would fail).
constexpr auto kLockMargin = std::chrono::seconds(30);

// How long the token call may take, and so the lock and the wait of the other instances.
std::chrono::milliseconds refresh_call_timeout(const config::Config& c) {
  return std::chrono::milliseconds(c.relay.connectTimeout + 20000);
}

accounts::oauth::Settings settings(const config::Config& c) {
  return {c.oauth.authorizeUrl, c.oauth.tokenUrl, c.oauth.redirectUri, c.oauth.clientId, c.oauth.scopes};
}

Task<void> unlock(store::RedisClient& redis, const std::string& lock, const std::string& token) {
  static const std::string kScript =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
  co_await redis.command(make_command("EVAL", kScript, "1", lock, token));
}

Task<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(use_nothrow);
}

}  // namespace

Task<Result<accounts::Account>> fresh_oauth_account(RelayDeps& d, size_t worker, accounts::Account account,
                                                    bool force) {
  int64_t now = accounts::now_ms();
  int64_t margin = d.config.oauth.refreshBeforeExpiry * 1000LL;
  if (!force && account.credentials.expires_at_ms - margin > now) co_return account;

  store::RedisClient& redis = *d.redis.at(worker);
  accounts::AccountStore store(redis, d.config.security.encryptionKey);
  std::string lock = "oauth:refresh_lock:" + account.id;
  std::string token = crypto::random_hex(16);
  auto call_timeout = refresh_call_timeout(d.config);
  auto lock_ttl = call_timeout + std::chrono::duration_cast<std::chrono::milliseconds>(kLockMargin);
  auto got = co_await redis.command(make_command("SET", lock, token, "NX", "PX", std::to_string(lock_ttl.count())));
  if (!got) co_return got.error();
  bool still_valid = account.credentials.expires_at_ms > now;

  if (got->is_nil()) {
    // Another instance is refreshing: wait for its result in the account record.
    auto deadline = std::chrono::steady_clock::now() + lock_ttl;
    while (std::chrono::steady_clock::now() < deadline) {
      co_await sleep_for(std::chrono::milliseconds(100));
      auto current = co_await store.get(account.id);
      if (current && *current && (*current)->credentials.access_token != account.credentials.access_token) {
        d.accounts.set_credentials(account.id, (*current)->credentials);
        co_return std::move(**current);
      }
    }
    if (still_valid && !force) co_return account;
    co_return Error{"token refresh by another instance did not finish in time"};
  }

  // We hold the lock. Someone may have refreshed just before we took it.
  auto current = co_await store.get(account.id);
  if (current && *current && !force &&
      (*current)->credentials.access_token != account.credentials.access_token &&
      (*current)->credentials.expires_at_ms - margin > now) {
    co_await unlock(redis, lock, token);
    d.accounts.set_credentials(account.id, (*current)->credentials);
    co_return std::move(**current);
  }
  // Arguments are named locals: GCC 12 mishandles temporaries (and ?: on them) inside co_await.
  std::string refresh_token = account.credentials.refresh_token;
  if (current && *current) refresh_token = (*current)->credentials.refresh_token;
  upstream::Proxy proxy;
  if (auto parsed_proxy = upstream::parse_proxy_url(account.proxy)) proxy = *parsed_proxy;
  std::string request = accounts::oauth::refresh_request_json(settings(d.config), refresh_token);
  auto executor = co_await asio::this_coro::executor;
  auto answer = co_await upstream::post_json(executor, d.tls, d.config.oauth.tokenUrl, request, proxy, call_timeout);
  if (answer.status != 200) {
    co_await unlock(redis, lock, token);
    std::string why = answer.status ? "token endpoint answered " + std::to_string(answer.status)
                                    : "token endpoint unreachable: " + answer.error;
    std::string code = accounts::oauth::oauth_error_code(answer.body);
    if (!code.empty()) why += " (" + code + ")";
    // invalid_grant because another instance has just used (and rotated) this refresh token:
    // its new tokens are in the record, and they are the answer.
    if (code == "invalid_grant") {
      auto stored = co_await store.get(account.id);
      if (stored && *stored && !(*stored)->credentials.refresh_token.empty() &&
          (*stored)->credentials.refresh_token != refresh_token) {
        spdlog::info("account {} ({}): refreshed by another instance meanwhile; its tokens are used", account.name,
                     account.id);
        d.accounts.set_credentials(account.id, (*stored)->credentials);
        co_return std::move(**stored);
      }
    }
    if (code == "invalid_grant") {
      // The grant is gone (revoked, logged out, or the refresh token was used twice).
      d.accounts.set_status(account.id, std::string(accounts::kStatusUnauthorized), 0, "OAuth: " + why);
      co_await store.set_status(account.id, std::string(accounts::kStatusUnauthorized), 0, "OAuth: " + why);
    }
    spdlog::warn("account {} ({}): OAuth refresh failed: {}", account.name, account.id, why);
    if (still_valid && !force && code != "invalid_grant") co_return account;  // retry on a later request
    co_return Error{"OAuth refresh failed: " + why};
  }
  auto parsed = accounts::oauth::parse_token_answer(answer.body, accounts::now_ms());
  if (!parsed) {
    co_await unlock(redis, lock, token);
    co_return parsed.error();
  }
  accounts::Credentials creds = parsed->credentials;
  if (creds.refresh_token.empty()) creds.refresh_token = refresh_token;
  auto saved = co_await store.set_credentials(account.id, creds);
  co_await unlock(redis, lock, token);
  if (!saved) co_return saved.error();
  d.accounts.set_credentials(account.id, creds);
  spdlog::info("account {} ({}): OAuth token refreshed, valid for {} s", account.name, account.id,
               (creds.expires_at_ms - accounts::now_ms()) / 1000);
  account.credentials = creds;
  co_return account;
}

}  // namespace crs::relay
