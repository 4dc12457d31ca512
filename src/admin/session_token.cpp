#include "admin/session_token.hpp"

#include <boost/json.hpp>

#include "core/crypto.hpp"

namespace crs::admin {
namespace json = boost::json;
namespace {

constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

// base64url that this code would have written: no padding, no other alphabet, no trailing bits.
std::optional<std::string> decode_segment(std::string_view segment) {
  for (char c : segment)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return std::nullopt;
  auto raw = crypto::base64_decode(segment);
  if (!raw || crypto::base64url(*raw) != segment) return std::nullopt;
  return *raw;
}

TokenError error(TokenProblem p, std::string message) { return TokenError{p, std::move(message)}; }

}  // namespace

std::string sign_session(const SessionClaims& c, std::string_view secret) {
  json::object payload{{"sub", c.username}, {"jti", c.jti}, {"iat", c.issued_at}, {"exp", c.expires_at},
                       {"ver", c.version}};
  std::string signing_input = crypto::base64url(kHeader) + "." + crypto::base64url(json::serialize(payload));
  std::string signature = crypto::hmac_sha256_raw(secret, signing_input);
  return signing_input + "." + crypto::base64url(signature);
}

std::variant<SessionClaims, TokenError> verify_session(std::string_view token, std::string_view secret,
                                                       int64_t now_seconds) {
  if (token.size() > 4096) return error(TokenProblem::Malformed, "token too long");
  size_t first = token.find('.');
  size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    return error(TokenProblem::Malformed, "not a signed token");
  auto header = decode_segment(token.substr(0, first));
  auto payload = decode_segment(token.substr(first + 1, second - first - 1));
  auto signature = decode_segment(token.substr(second + 1));
  if (!header || !payload || !signature) return error(TokenProblem::Malformed, "not a signed token");

  boost::system::error_code ec;
  auto h = json::parse(*header, ec);
  if (ec || !h.is_object()) return error(TokenProblem::Malformed, "not a signed token");
  const auto* alg = h.as_object().if_contains("alg");
  if (!alg || !alg->is_string() || alg->as_string() != "HS256")
    return error(TokenProblem::BadSignature, "token algorithm not accepted");

  std::string expected = crypto::hmac_sha256_raw(secret, token.substr(0, second));
  if (!crypto::equal_constant_time(*signature, expected))
    return error(TokenProblem::BadSignature, "token signature does not match");

  auto p = json::parse(*payload, ec);
  if (ec || !p.is_object()) return error(TokenProblem::Malformed, "token payload is not an object");
  const auto& o = p.as_object();
  const auto* sub = o.if_contains("sub");
  const auto* jti = o.if_contains("jti");
  const auto* iat = o.if_contains("iat");
  const auto* exp = o.if_contains("exp");
  const auto* ver = o.if_contains("ver");
  if (!sub || !sub->is_string() || !jti || !jti->is_string() || !iat || !iat->is_int64() || !exp ||
      !exp->is_int64() || !ver || !ver->is_int64())
    return error(TokenProblem::Malformed, "token claims missing");
  SessionClaims c{std::string(sub->as_string()), std::string(jti->as_string()), iat->as_int64(), exp->as_int64(),
                  ver->as_int64()};
  if (c.expires_at <= now_seconds) return error(TokenProblem::Expired, "token expired");
  return c;
}

}  // namespace crs::admin
