#pragma once
// The Claude OAuth sign-in in two steps, shared by `crs accounts oauth-url/oauth-exchange` and
// the console's /admin/claude-accounts/generate-auth-url and /exchange-code: the PKCE
// verifier and state wait in Redis (oauth_session:<id>, 10 minutes) between the two, so the
// admin can finish on another instance; the pasted code is spent at most once.
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "accounts/oauth.hpp"
#include "store/redis_client.hpp"
#include "upstream/endpoint.hpp"

namespace crs::accounts::oauth {

inline constexpr int kSignInSeconds = 600;

struct SignIn {
  std::string session;  // 32 hex characters
  std::string url;      // where the admin signs in and approves
};

Task<Result<SignIn>> start_sign_in(store::RedisClient& redis, Settings settings);

// Exchanges the pasted "code#state" (or callback URL) of `session` for tokens at the token
// endpoint, through `proxy`. The session ends when tokens come back; after a refusal (a
// mistyped code) the admin may paste again.
Task<Result<TokenAnswer>> finish_sign_in(store::RedisClient& redis, asio::ssl::context& tls, Settings settings,
                                         std::string session, std::string pasted, upstream::Proxy proxy);

}  // namespace crs::accounts::oauth
