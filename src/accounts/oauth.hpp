#pragma once
// Claude OAuth (spec/claude-oauth.md) without the network: PKCE, the authorization URL,
// parsing what the operator pastes back, the token endpoint's requests and answers.
#include <cstdint>
#include <string>

#include "accounts/account.hpp"
#include "core/result.hpp"

namespace crs::accounts::oauth {

struct Settings {
  std::string authorize_url, token_url, redirect_uri, client_id, scopes;
};

struct Pkce {
  std::string verifier;   // 43 base64url characters
  std::string challenge;  // BASE64URL(SHA256(verifier))
  std::string state;
};

Pkce make_pkce();
std::string challenge_for(const std::string& verifier);
std::string authorization_url(const Settings& s, const Pkce& pkce);

struct PastedCode {
  std::string code;
  std::string state;  // empty if none was pasted
};
// "code#state", or the whole callback URL.
Result<PastedCode> parse_pasted_code(const std::string& pasted);

std::string exchange_request_json(const Settings& s, const std::string& code, const std::string& verifier,
                                  const std::string& state);
std::string refresh_request_json(const Settings& s, const std::string& refresh_token);

struct TokenAnswer {
  Credentials credentials;
  std::string scope;
  std::string email;
};
// A 200 answer of the token endpoint; expires_at is computed from `now_ms`.
Result<TokenAnswer> parse_token_answer(const std::string& body, int64_t now_ms);
// "invalid_grant" etc. from an error answer (empty if not the OAuth error shape).
std::string oauth_error_code(const std::string& body);

}  // namespace crs::accounts::oauth
