// Claude subscription (Pro / Max) accounts: an OAuth access token sent as a bearer with the
// oauth beta flag, kept fresh `refreshBeforeExpiry` seconds before it expires (or when the API
// answers 401) by one instance at a time: the refresher holds a Redis lock; the others wait
// for the new token to appear in the account record. Two refreshes with the same refresh token
// would invalidate each other (spec/claude-oauth.md §4.2).
#include <spdlog/spdlog.h>

#include "accounts/account_store.hpp"
#include "accounts/oauth.hpp"
#include "adapters/anthropic_wire.hpp"
#include "adapters/builtin.hpp"
#include "core/crypto.hpp"
#include "upstream/http_call.hpp"

namespace crs::adapters {
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
  // Not released (Redis away): the lock expires on its own.
  (void)co_await redis.command(make_command("EVAL", kScript, "1", lock, token));
}

Task<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(use_nothrow);
}


// One refresh in progress: the account, its lock in Redis, and what it needs to finish.
struct Refresh {
  AdapterContext& d;
  accounts::Account account;
  accounts::AccountStore store;
  std::string lock;
  std::string token;  // ours, in the lock
  std::chrono::milliseconds call_timeout;
  std::chrono::milliseconds lock_ttl;

  Refresh(AdapterContext& context, accounts::Account a)
      : d(context),
        account(std::move(a)),
        store(context.redis, context.config.security.encryptionKey),
        lock("oauth:refresh_lock:" + account.id),
        token(crypto::random_hex(16)),
        call_timeout(refresh_call_timeout(context.config)),
        lock_ttl(call_timeout + std::chrono::duration_cast<std::chrono::milliseconds>(kLockMargin)) {}

  // The tokens another instance stored are the answer: in this instance's snapshot too.
  accounts::Account adopt(accounts::Account stored) {
    d.accounts.set_credentials(stored.id, stored.credentials);
    return stored;
  }
};

// Another instance holds the lock: wait for its result in the account record.
Task<Result<accounts::Account>> wait_for_other_instance(Refresh& r, bool usable_as_is) {
  auto deadline = std::chrono::steady_clock::now() + r.lock_ttl;
  while (std::chrono::steady_clock::now() < deadline) {
    co_await sleep_for(std::chrono::milliseconds(100));
    auto current = co_await r.store.get(r.account.id);
    if (current && *current && (*current)->credentials.access_token != r.account.credentials.access_token)
      co_return r.adopt(std::move(**current));
  }
  if (usable_as_is) co_return r.account;
  co_return Error{"token refresh by another instance did not finish in time"};
}

// The token endpoint refused. invalid_grant because another instance has just used (and
// rotated) this refresh token: its new tokens are in the record, and they are the answer;
// otherwise invalid_grant means the grant is gone (revoked, logged out, or the refresh token
// was used twice) and the account needs a new login.
Task<Result<accounts::Account>> refresh_refused(Refresh& r, const upstream::CallResult& answer,
                                                const std::string& refresh_token, bool usable_as_is) {
  std::string why = answer.status ? "token endpoint answered " + std::to_string(answer.status)
                                  : "token endpoint unreachable: " + answer.error;
  std::string code = accounts::oauth::oauth_error_code(answer.body);
  if (!code.empty()) why += " (" + code + ")";
  if (code == "invalid_grant") {
    auto stored = co_await r.store.get(r.account.id);
    if (stored && *stored && !(*stored)->credentials.refresh_token.empty() &&
        (*stored)->credentials.refresh_token != refresh_token) {
      spdlog::info("account {} ({}): refreshed by another instance meanwhile; its tokens are used", r.account.name,
                   r.account.id);
      co_return r.adopt(std::move(**stored));
    }
    std::string reason = "OAuth: " + why;
    r.d.accounts.set_status(r.account.id, std::string(accounts::kStatusUnauthorized), 0, reason);
    // This instance knows already; a status Redis did not take is set again by the next failure.
    (void)co_await r.store.set_status(r.account.id, std::string(accounts::kStatusUnauthorized), 0, reason);
  }
  spdlog::warn("account {} ({}): OAuth refresh failed: {}", r.account.name, r.account.id, why);
  if (usable_as_is && code != "invalid_grant") co_return r.account;  // retried on a later request
  co_return Error{"OAuth refresh failed: " + why};
}

// We hold the lock: call the token endpoint and store the new tokens.
Task<Result<accounts::Account>> refresh_under_lock(Refresh& r, std::string refresh_token, bool usable_as_is) {
  upstream::Proxy proxy;
  if (auto parsed_proxy = upstream::parse_proxy_url(r.account.proxy)) proxy = *parsed_proxy;
  std::string request = accounts::oauth::refresh_request_json(settings(r.d.config), refresh_token);
  auto executor = co_await asio::this_coro::executor;
  auto answer =
      co_await upstream::post_json(executor, r.d.tls, r.d.config.oauth.tokenUrl, request, proxy, r.call_timeout);
  if (answer.status != 200) {
    co_await unlock(r.d.redis, r.lock, r.token);
    co_return co_await refresh_refused(r, answer, refresh_token, usable_as_is);
  }
  auto parsed = accounts::oauth::parse_token_answer(answer.body, accounts::now_ms());
  if (!parsed) {
    co_await unlock(r.d.redis, r.lock, r.token);
    co_return parsed.error();
  }
  accounts::Credentials creds = parsed->credentials;
  if (creds.refresh_token.empty()) creds.refresh_token = refresh_token;
  auto saved = co_await r.store.set_credentials(r.account.id, creds);
  co_await unlock(r.d.redis, r.lock, r.token);
  if (!saved) co_return saved.error();
  r.d.accounts.set_credentials(r.account.id, creds);
  spdlog::info("account {} ({}): OAuth token refreshed, valid for {} s", r.account.name, r.account.id,
               (creds.expires_at_ms - accounts::now_ms()) / 1000);
  r.account.credentials = creds;
  co_return r.account;
}

// The account with a token valid for at least `refreshBeforeExpiry` seconds (or a new one
// when `force`, after a 401).
Task<Result<accounts::Account>> fresh_oauth_account(AdapterContext& d, accounts::Account account, bool force) {
  int64_t now = accounts::now_ms();
  int64_t margin = d.config.oauth.refreshBeforeExpiry * 1000LL;
  if (!force && account.credentials.expires_at_ms - margin > now) co_return account;
  bool usable_as_is = !force && account.credentials.expires_at_ms > now;
  Refresh r(d, std::move(account));
  auto got = co_await d.redis.command(
      make_command("SET", r.lock, r.token, "NX", "PX", std::to_string(r.lock_ttl.count())));
  if (!got) co_return got.error();
  if (got->is_nil()) co_return co_await wait_for_other_instance(r, usable_as_is);

  // We hold the lock. Someone may have refreshed just before we took it.
  auto current = co_await r.store.get(r.account.id);
  bool have_current = current && *current;
  if (have_current && !force && (*current)->credentials.access_token != r.account.credentials.access_token &&
      (*current)->credentials.expires_at_ms - margin > now) {
    co_await unlock(d.redis, r.lock, r.token);
    co_return r.adopt(std::move(**current));
  }
  std::string refresh_token = have_current ? (*current)->credentials.refresh_token : r.account.credentials.refresh_token;
  co_return co_await refresh_under_lock(r, std::move(refresh_token), usable_as_is);
}

class ClaudeOauthAdapter final : public AnthropicAdapter {
 public:
  std::string_view kind() const override { return accounts::kClaudeOauth; }
  // A refresh after a 401, or a token within `refreshBeforeExpiry` of its expiry.
  bool needs_prepare(const config::Config& cfg, const accounts::Account& account, bool refresh) const override {
    return refresh || account.credentials.expires_at_ms - cfg.oauth.refreshBeforeExpiry * 1000LL <= accounts::now_ms();
  }
  Task<Result<accounts::Account>> prepare(AdapterContext& context, accounts::Account account,
                                          bool refresh) const override {
    return fresh_oauth_account(context, std::move(account), refresh);
  }
  bool refreshes_credentials() const override { return true; }

 protected:
  AnthropicAuth auth() const override { return AnthropicAuth::OauthBearer; }
  const std::string& credential(const accounts::Account& account) const override {
    return account.credentials.access_token;
  }
};

}  // namespace

std::unique_ptr<Adapter> make_claude_oauth_adapter() { return std::make_unique<ClaudeOauthAdapter>(); }

}  // namespace crs::adapters
