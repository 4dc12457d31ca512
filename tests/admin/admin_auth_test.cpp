// Admin passwords at rest and login tokens: what is accepted and, mostly, what is not.
#include <gtest/gtest.h>

#include "admin/password.hpp"
#include "admin/session_token.hpp"
#include "core/crypto.hpp"

namespace crs::admin {
namespace {

const std::string kSecret = "a-test-jwt-secret-of-reasonable-length-0123456789";

SessionClaims claims(int64_t now, int64_t ttl = 3600) {
  SessionClaims c;
  c.username = "cr_admin_test";
  c.jti = "0123456789abcdef";
  c.issued_at = now;
  c.expires_at = now + ttl;
  c.version = 3;
  return c;
}

std::string b64(std::string_view s) { return crypto::base64url(s); }

TEST(Password, HashVerifiesOnlyTheSamePassword) {
  std::string hash = hash_password("correct horse battery staple");
  EXPECT_TRUE(hash.starts_with("$scrypt$ln=15,r=8,p=1$"));
  EXPECT_TRUE(verify_password("correct horse battery staple", hash));
  EXPECT_FALSE(verify_password("correct horse battery stapl", hash));
  EXPECT_FALSE(verify_password("", hash));
  EXPECT_NE(hash, hash_password("correct horse battery staple")) << "salted";
}

TEST(Password, RefusesEditedOrForeignHashes) {
  std::string hash = hash_password("pw");
  std::string costly = hash;
  costly.replace(costly.find("ln=15"), 5, "ln=30");
  EXPECT_FALSE(verify_password("pw", costly)) << "a cost raised by an edit must not run";
  EXPECT_FALSE(verify_password("pw", "$2b$10$abcdefghijklmnopqrstuv"));  // bcrypt: not ours
  EXPECT_FALSE(verify_password("pw", ""));
  EXPECT_FALSE(verify_password("pw", "pw"));
  EXPECT_FALSE(verify_password("pw", "$scrypt$ln=15,r=8,p=1$$"));
}

TEST(Password, GeneratedPasswordsAreLongAndDiffer) {
  std::string a = generate_password(), b = generate_password();
  EXPECT_EQ(a.size(), 24u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
}

TEST(Base64, PaddingAloneIsAnError) {
  EXPECT_FALSE(crypto::base64_decode("===="));
  EXPECT_FALSE(crypto::base64_decode("A==="));
  auto ok = crypto::base64_decode("aGk=");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "hi");
}

TEST(SessionToken, RoundTrip) {
  int64_t now = 1'800'000'000;
  std::string token = sign_session(claims(now), kSecret);
  auto v = verify_session(token, kSecret, now + 10);
  ASSERT_TRUE(std::holds_alternative<SessionClaims>(v));
  auto c = std::get<SessionClaims>(v);
  EXPECT_EQ(c.username, "cr_admin_test");
  EXPECT_EQ(c.jti, "0123456789abcdef");
  EXPECT_EQ(c.version, 3);
  EXPECT_EQ(c.expires_at, now + 3600);
}

TokenProblem problem(const std::string& token, int64_t now, const std::string& secret = kSecret) {
  auto v = verify_session(token, secret, now);
  EXPECT_TRUE(std::holds_alternative<TokenError>(v)) << token;
  return std::holds_alternative<TokenError>(v) ? std::get<TokenError>(v).problem : TokenProblem::Malformed;
}

TEST(SessionToken, RefusesExpiredWrongSecretAndTampering) {
  int64_t now = 1'800'000'000;
  std::string token = sign_session(claims(now), kSecret);
  EXPECT_EQ(problem(token, now + 3600), TokenProblem::Expired);
  EXPECT_EQ(problem(token, now, "another-secret"), TokenProblem::BadSignature);

  // A payload changed after signing (a longer lifetime) keeps the old signature: refused.
  size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  auto forged = claims(now, 10 * 365 * 86400);
  std::string other = sign_session(forged, "attacker-secret");
  std::string spliced = token.substr(0, dot1 + 1) + other.substr(other.find('.') + 1, other.rfind('.') - other.find('.') - 1) +
                        token.substr(dot2);
  EXPECT_EQ(problem(spliced, now), TokenProblem::BadSignature);
}

TEST(SessionToken, RefusesAlgNoneAndOtherAlgorithms) {
  int64_t now = 1'800'000'000;
  std::string token = sign_session(claims(now), kSecret);
  std::string payload = token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  EXPECT_EQ(problem(b64(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".", now), TokenProblem::BadSignature);
  std::string none_signed = b64(R"({"alg":"none","typ":"JWT"})") + "." + payload + "." + b64("x");
  EXPECT_EQ(problem(none_signed, now), TokenProblem::BadSignature);
  // HS512 header signed with the right key and HS256: the header is part of what is signed,
  // but the algorithm alone must already refuse it.
  std::string input = b64(R"({"alg":"HS512","typ":"JWT"})") + "." + payload;
  EXPECT_EQ(problem(input + "." + b64(crypto::hmac_sha256_raw(kSecret, input)), now), TokenProblem::BadSignature);
  std::string no_alg = b64(R"({"typ":"JWT"})") + "." + payload;
  EXPECT_EQ(problem(no_alg + "." + b64(crypto::hmac_sha256_raw(kSecret, no_alg)), now), TokenProblem::BadSignature);
}

TEST(SessionToken, RefusesMalformedTokens) {
  int64_t now = 1'800'000'000;
  std::string token = sign_session(claims(now), kSecret);
  EXPECT_EQ(problem("", now), TokenProblem::Malformed);
  EXPECT_EQ(problem("abc", now), TokenProblem::Malformed);
  EXPECT_EQ(problem(token + ".x", now), TokenProblem::Malformed);
  EXPECT_EQ(problem(token + "=", now), TokenProblem::Malformed) << "padding is not base64url as written";
  EXPECT_EQ(problem(std::string(5000, 'a'), now), TokenProblem::Malformed);
  // Claims of the wrong type, correctly signed.
  std::string input = b64(R"({"alg":"HS256","typ":"JWT"})") + "." + b64(R"({"sub":"a","jti":"b","iat":1,"exp":"never","ver":1})");
  EXPECT_EQ(problem(input + "." + b64(crypto::hmac_sha256_raw(kSecret, input)), now), TokenProblem::Malformed);
}

}  // namespace
}  // namespace crs::admin

// The Node.js service's admin login, imported: its bcrypt hash is accepted (both prefixes its
// libraries write), a wrong password is not, and an edited cost is refused before any work.
TEST(ImportedBcrypt, VerifiesTheNodeServicesHash) {
  const std::string b = "$2b$10$om.0K39rSe/BXrsvyPfDqeery3PR36kwJMog3RQwWIkETUJbEjDGC";
  const std::string a = "$2a$10$om.0K39rSe/BXrsvyPfDqeery3PR36kwJMog3RQwWIkETUJbEjDGC";
  EXPECT_TRUE(crs::admin::is_imported_bcrypt(b));
  EXPECT_TRUE(crs::admin::verify_password("crs-admin-pass-01", b));
  EXPECT_TRUE(crs::admin::verify_password("crs-admin-pass-01", a));
  EXPECT_FALSE(crs::admin::verify_password("crs-admin-pass-02", a));
  EXPECT_FALSE(crs::admin::verify_password("", a));
  std::string costly = a;
  costly.replace(4, 2, "31");
  EXPECT_FALSE(crs::admin::verify_password("crs-admin-pass-01", costly));
  EXPECT_FALSE(crs::admin::is_imported_bcrypt("$2a$10$short"));
}
