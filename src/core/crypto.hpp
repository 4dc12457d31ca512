#pragma once
// The cryptography the relay needs, behind plain-string functions (OpenSSL stays in crypto.cpp).
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace crs::crypto {

std::string sha256_hex(std::string_view data);
std::string sha256_raw(std::string_view data);
// SHA-256 of data given in pieces (an export file as it is written).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex();  // ends the digest

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha1_hex(std::string_view data);  // only for Redis script ids (EVALSHA), never for security
std::string hmac_sha256_raw(std::string_view key, std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// scrypt (RFC 7914), for passwords at rest. n = 2^log2_n; uses about 128 * n * r bytes.
Result<std::string> scrypt_raw(std::string_view password, std::string_view salt, int log2_n, int r, int p,
                               size_t length);

std::string random_bytes(size_t n);
std::string random_hex(size_t bytes);        // 2*bytes lowercase hex characters
std::string uuid_v4();
// 8-4-4-4-12 hex digits (any case): an id this relay or the Node.js service made.
bool is_uuid(std::string_view text);

std::string base64url(std::string_view data);         // no padding
std::string base64(std::string_view data);
Result<std::string> base64_decode(std::string_view text);

// Authenticated encryption for credentials at rest: AES-256-GCM, random 96-bit nonce.
// The output is "v1:" + base64(nonce | ciphertext | tag); `key` must be 32 bytes.
std::string seal(std::string_view key, std::string_view plaintext);
Result<std::string> open(std::string_view key, std::string_view sealed);

// AES-256-CBC with PKCS#7 padding, decryption only: the Node.js service's secrets at rest
// (imported by `crs import crs`). An Error for a padding that does not check out.
Result<std::string> aes_256_cbc_decrypt(std::string_view key, std::string_view iv, std::string_view ciphertext);

// A name no other call, thread or process gets (a random 64-bit token drawn once per process,
// then a counter), without a system call: for leases and other per-request names that must
// not collide across instances. Not a secret: it is guessable within a process.
std::string unique_suffix();

// Constant-time comparison for secrets.
bool equal_constant_time(std::string_view a, std::string_view b);
// Overwrites the string's bytes (OPENSSL_cleanse, not optimised away), then empties it.
void wipe(std::string& secret);

}  // namespace crs::crypto
