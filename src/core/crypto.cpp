#include "core/crypto.hpp"

// SHA-256 uses OpenSSL's low-level SHA256_* functions, deprecated in 3.0 in favour of EVP: the
// EVP one-shot fetches the algorithm from the provider on every call (about 14 allocations),
// and a key digest is computed for every relayed request.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <atomic>
#include <memory>
#include <stdexcept>

namespace crs::crypto {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string to_hex(std::string_view raw) {
  std::string out(raw.size() * 2, '0');
  for (size_t i = 0; i < raw.size(); ++i) {
    auto b = static_cast<unsigned char>(raw[i]);
    out[2 * i] = kHex[b >> 4];
    out[2 * i + 1] = kHex[b & 15];
  }
  return out;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

constexpr size_t kNonce = 12, kTag = 16;
constexpr std::string_view kSealPrefix = "v1:";

}  // namespace

std::string sha256_raw(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(md, &ctx);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256_raw(data)); }

struct Sha256::State {
  SHA256_CTX ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) { SHA256_Init(&state_->ctx); }
Sha256::~Sha256() = default;

void Sha256::update(std::string_view data) { SHA256_Update(&state_->ctx, data.data(), data.size()); }

std::string Sha256::hex() {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &state_->ctx);
  return to_hex(std::string_view(reinterpret_cast<char*>(md), sizeof md));
}

std::string sha1_hex(std::string_view data) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return to_hex(std::string_view(reinterpret_cast<char*>(md), sizeof md));
}

std::string hmac_sha256_raw(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) { return to_hex(hmac_sha256_raw(key, data)); }

Result<std::string> scrypt_raw(std::string_view password, std::string_view salt, int log2_n, int r, int p,
                               size_t length) {
  if (log2_n < 1 || log2_n > 22 || r < 1 || r > 32 || p < 1 || p > 16 || length == 0 || length > 128)
    return Error{"scrypt parameters out of range"};
  uint64_t n = uint64_t{1} << log2_n;
  uint64_t max_memory = 128 * n * static_cast<uint64_t>(r) * static_cast<uint64_t>(p) + (64u << 20);
  std::string out(length, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), n, static_cast<uint64_t>(r), static_cast<uint64_t>(p), max_memory,
                     reinterpret_cast<unsigned char*>(out.data()), out.size()) != 1)
    return Error{"scrypt failed"};
  return out;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

std::string random_hex(size_t bytes) { return to_hex(random_bytes(bytes)); }

std::string unique_suffix() {
  static const std::string process = random_hex(8);
  static std::atomic<uint64_t> counter{0};
  uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  std::string out = process;
  do {  // the counter in hex, lowest digit first: as unique, and no formatting call
    out += kHex[n & 15];
    n >>= 4;
  } while (n);
  return out;
}

std::string uuid_v4() {
  std::string b = random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string h = to_hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64url(std::string_view data) {
  std::string out = base64(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (auto& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string in(text);
  for (auto& c : in) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
  }
  while (in.size() % 4) in.push_back('=');
  std::string out(3 * in.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return Error{"invalid base64"};
  size_t pad = 0;
  for (auto it = in.rbegin(); it != in.rend() && *it == '='; ++it) ++pad;
  if (pad > 2 || pad > static_cast<size_t>(n)) return Error{"invalid base64"};
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string seal(std::string_view key, std::string_view plaintext) {
  if (key.size() != 32) throw std::invalid_argument("seal: key must be 32 bytes");
  std::string nonce = random_bytes(kNonce);
  std::string out = nonce;
  out.resize(kNonce + plaintext.size() + kTag);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* k = reinterpret_cast<const unsigned char*>(key.data());
  auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + kNonce);
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k, iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), dst, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), dst + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, dst + plaintext.size()) != 1)
    throw std::runtime_error("AES-GCM encryption failed");
  return std::string(kSealPrefix) + base64(out);
}

Result<std::string> open(std::string_view key, std::string_view sealed) {
  if (key.size() != 32) return Error{"decryption key must be 32 bytes"};
  if (!sealed.starts_with(kSealPrefix)) return Error{"unknown ciphertext format"};
  auto raw = base64_decode(sealed.substr(kSealPrefix.size()));
  if (!raw || raw->size() < kNonce + kTag) return Error{"malformed ciphertext"};
  const std::string& r = *raw;
  size_t n = r.size() - kNonce - kTag;
  std::string out(n, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* k = reinterpret_cast<const unsigned char*>(key.data());
  auto* iv = reinterpret_cast<const unsigned char*>(r.data());
  auto* src = reinterpret_cast<const unsigned char*>(r.data() + kNonce);
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  std::string tag = r.substr(kNonce + n);
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k, iv) != 1 ||
      EVP_DecryptUpdate(ctx.get(), dst, &len, src, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), dst + len, &len) != 1)
    return Error{"credentials cannot be decrypted (wrong ENCRYPTION_KEY or tampered data)"};
  return out;
}

Result<std::string> aes_256_cbc_decrypt(std::string_view key, std::string_view iv, std::string_view ciphertext) {
  if (key.size() != 32 || iv.size() != 16) return Error{"AES-256-CBC needs a 32-byte key and a 16-byte IV"};
  if (ciphertext.empty() || ciphertext.size() % 16 != 0) return Error{"ciphertext is not whole AES blocks"};
  std::string out(ciphertext.size() + 16, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0, tail = 0;
  auto* k = reinterpret_cast<const unsigned char*>(key.data());
  auto* v = reinterpret_cast<const unsigned char*>(iv.data());
  auto* src = reinterpret_cast<const unsigned char*>(ciphertext.data());
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  // PKCS#7 padding is checked by the final step: a wrong key fails there (almost always).
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, k, v) != 1 ||
      EVP_DecryptUpdate(ctx.get(), dst, &len, src, static_cast<int>(ciphertext.size())) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), dst + len, &tail) != 1)
    return Error{"bad padding (wrong key or damaged data)"};
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void wipe(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace crs::crypto
