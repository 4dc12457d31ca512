#pragma once
// Admin login tokens: JWTs signed with HMAC-SHA256 (RFC 7519) under security.jwtSecret.
// Verification accepts exactly the header this code writes: alg "HS256" (never "none" or
// another algorithm), a 32-byte signature compared in constant time, canonical base64url, an
// expiry in the future. What a signature cannot tell (logout, a password change since) is
// checked against Redis by the caller: `jti` and `version`.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/result.hpp"

namespace crs::admin {

struct SessionClaims {
  std::string username;   // sub
  std::string jti;        // random id, revoked at logout
  int64_t issued_at = 0;  // iat, seconds
  int64_t expires_at = 0; // exp, seconds
  int64_t version = 0;    // the credentials' version when issued: a password change ends old sessions
};

std::string sign_session(const SessionClaims& claims, std::string_view secret);

enum class TokenProblem { Malformed, BadSignature, Expired };
struct TokenError {
  TokenProblem problem;
  std::string message;
};

// The claims of a token this relay signed and that has not expired at `now_seconds`.
std::variant<SessionClaims, TokenError> verify_session(std::string_view token, std::string_view secret,
                                                       int64_t now_seconds);

}  // namespace crs::admin
