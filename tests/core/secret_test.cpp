#include <gtest/gtest.h>

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/secret.hpp"

namespace crs {
namespace {

const std::string kRelayKey = "cr_" + std::string(64, 'a') + "";
const std::string kAnthropicKey = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

TEST(MaskSecret, ShowsOnlyEnds) {
  EXPECT_EQ(mask_secret(""), "");
  EXPECT_EQ(mask_secret("short"), "***");
  std::string masked = mask_secret(kRelayKey);
  EXPECT_EQ(masked, "cr_aaa...aaaa");
  EXPECT_LT(masked.size(), 16u);
}

// What every secret check relies on (docs/reliability.md, timing-safe comparisons): equal only
// byte for byte, whatever the bytes, a NUL or a difference in the last byte included.
TEST(EqualConstantTime, EqualOnlyByteForByte) {
  using crypto::equal_constant_time;
  EXPECT_TRUE(equal_constant_time("", ""));
  EXPECT_TRUE(equal_constant_time(kRelayKey, std::string(kRelayKey)));
  EXPECT_FALSE(equal_constant_time(kRelayKey, kRelayKey.substr(0, kRelayKey.size() - 1)));
  std::string last = kRelayKey, first = kRelayKey;
  last.back() = 'b';
  first.front() = 'd';
  EXPECT_FALSE(equal_constant_time(kRelayKey, last));
  EXPECT_FALSE(equal_constant_time(kRelayKey, first));
  EXPECT_FALSE(equal_constant_time(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  EXPECT_TRUE(equal_constant_time(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(equal_constant_time("", "x"));
}

TEST(RedactSecrets, RelayAndAnthropicKeys) {
  std::string line = "auth ok for " + kRelayKey + " upstream " + kAnthropicKey + " done";
  redact_secrets(line);
  EXPECT_EQ(line.find(kRelayKey), std::string::npos);
  EXPECT_EQ(line.find(kAnthropicKey), std::string::npos);
  EXPECT_NE(line.find("auth ok for cr_aaa..."), std::string::npos);
  EXPECT_NE(line.find(" done"), std::string::npos);
}

TEST(RedactSecrets, BearerTokensAndHeaders) {
  std::string line = "authorization: Bearer sk-ant-oat01-secretsecretsecret123 x-api-key: abcdefghijklmnop12345";
  redact_secrets(line);
  EXPECT_EQ(line.find("secretsecretsecret123"), std::string::npos) << line;
  EXPECT_EQ(line.find("abcdefghijklmnop12345"), std::string::npos) << line;
  EXPECT_NE(line.find("authorization: Bearer "), std::string::npos) << line;
}

TEST(RedactSecrets, UrlPasswordsAndPairs) {
  std::string line = "redis at redis://user:hunter2pass@db:6379/0, proxy socks5://u:pw12345@p:1080 password=s3cr3t!";
  redact_secrets(line);
  EXPECT_EQ(line.find("hunter2pass"), std::string::npos) << line;
  EXPECT_EQ(line.find("pw12345"), std::string::npos) << line;
  EXPECT_EQ(line.find("s3cr3t!"), std::string::npos) << line;
  EXPECT_NE(line.find("redis://user:***@db:6379/0"), std::string::npos) << line;
}

TEST(RedactSecrets, JsonFields) {
  std::string line = R"({"accessToken":"tok-value-123456","refresh_token": "rt-987654321","name":"visible"})";
  redact_secrets(line);
  EXPECT_EQ(line.find("tok-value-123456"), std::string::npos) << line;
  EXPECT_EQ(line.find("rt-987654321"), std::string::npos) << line;
  EXPECT_NE(line.find("\"name\":\"visible\""), std::string::npos) << line;
}

TEST(RedactSecrets, LeavesCountsAndOrdinaryTextAlone) {
  std::string line = R"(usage {"input_tokens": 12, "output_tokens": 87, "tokenLimit": 0} model=claude-sonnet-4-5)";
  std::string before = line;
  redact_secrets(line);
  EXPECT_EQ(line, before);
}

TEST(SecretName, Recognises) {
  for (auto name : {"password", "REDIS_PASSWORD", "jwtSecret", "encryptionKey", "apiKey", "x-api-key",
                    "accessToken", "refresh_token", "authorization", "smtp.auth.pass", "webhook"})
    EXPECT_TRUE(is_secret_name(name)) << name;
  for (auto name : {"output_tokens", "host", "port", "maxTokens", "tokenLimit", "name"})
    EXPECT_FALSE(is_secret_name(name)) << name;
}

}  // namespace
}  // namespace crs

// The Node.js service's secrets at rest: scrypt(ENCRYPTION_KEY, salt, 32) with Node's defaults
// (N=16384, r=8, p=1), then AES-256-CBC; the vector was made by node:crypto.
TEST(Crypto, DecryptsWhatTheNodeServiceEncrypted) {
  auto key = crs::crypto::scrypt_raw("0123456789abcdef0123456789abcdef", "claude-console-salt", 14, 8, 1, 32);
  ASSERT_TRUE(key.ok());
  std::string hex_key;
  for (unsigned char c : *key) hex_key += fmt::format("{:02x}", c);
  EXPECT_EQ(hex_key, "b6782bcf77316250629d139b6fccfe47eb4d246ccc6fcfee99b92c71d9b36154");
  auto bytes = [](std::string_view hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
  };
  std::string iv = bytes("000102030405060708090a0b0c0d0e0f");
  std::string ct = bytes("e1a462c74635f87c0699b0e96e0a6499e6161f58b0241d4ac9c44e63b321037f");
  auto plain = crs::crypto::aes_256_cbc_decrypt(*key, iv, ct);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(*plain, "sk-ant-api03-vector-\xc3\xbc");
  // Another key: the padding does not check out (an importer must fail loudly, not use the bytes).
  auto other = crs::crypto::scrypt_raw("another-key-another-key-another-k", "claude-console-salt", 14, 8, 1, 32);
  EXPECT_FALSE(crs::crypto::aes_256_cbc_decrypt(*other, iv, ct).ok());
  EXPECT_FALSE(crs::crypto::aes_256_cbc_decrypt(*key, iv, ct.substr(0, 31)).ok());
}
