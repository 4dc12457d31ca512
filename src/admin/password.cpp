#include "admin/password.hpp"

#include <crypt.h>

#include <charconv>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/crypto.hpp"

namespace crs::admin {
namespace {

constexpr int kLog2N = 15, kR = 8, kP = 1;
constexpr size_t kSaltBytes = 16, kHashBytes = 32;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool parse_param(std::string_view text, std::string_view name, int& out) {
  if (!text.starts_with(name) || text.size() <= name.size() || text[name.size()] != '=') return false;
  auto digits = text.substr(name.size() + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && end == digits.data() + digits.size();
}

}  // namespace

std::string hash_password(std::string_view password) {
  std::string salt = crypto::random_bytes(kSaltBytes);
  auto hash = crypto::scrypt_raw(password, salt, kLog2N, kR, kP, kHashBytes);
  if (!hash) throw std::runtime_error(hash.error().message);
  return fmt::format("$scrypt$ln={},r={},p={}${}${}", kLog2N, kR, kP, crypto::base64(salt), crypto::base64(*hash));
}

bool is_imported_bcrypt(std::string_view stored_hash) {
  return stored_hash.size() == 60 &&
         (stored_hash.starts_with("$2a$") || stored_hash.starts_with("$2b$") || stored_hash.starts_with("$2y$"));
}

namespace {

// The Node.js service's bcrypt hashes (its admin login, imported), through libxcrypt.
bool verify_bcrypt(std::string_view password, std::string_view stored_hash) {
  int cost = std::atoi(std::string(stored_hash.substr(4, 2)).c_str());
  if (cost < 4 || cost > 14) return false;  // an edited hash must not make a login cost minutes
  if (password.find('\0') != std::string_view::npos || password.size() > 72) return false;
  auto data = std::make_unique<crypt_data>();
  std::string pw(password), setting(stored_hash);
  const char* out = ::crypt_r(pw.c_str(), setting.c_str(), data.get());
  crypto::wipe(pw);
  return out && out[0] != '*' && crypto::equal_constant_time(out, stored_hash);
}

}  // namespace

bool verify_password(std::string_view password, std::string_view stored_hash) {
  if (is_imported_bcrypt(stored_hash)) return verify_bcrypt(password, stored_hash);
  // "", "scrypt", "ln=..,r=..,p=..", salt, hash
  auto parts = split(stored_hash, '$');
  if (parts.size() != 5 || !parts[0].empty() || parts[1] != "scrypt") return false;
  auto params = split(parts[2], ',');
  int log2_n = 0, r = 0, p = 0;
  if (params.size() != 3 || !parse_param(params[0], "ln", log2_n) || !parse_param(params[1], "r", r) ||
      !parse_param(params[2], "p", p))
    return false;
  // A hash someone edited must not make a login cost gigabytes or minutes.
  if (log2_n < 10 || log2_n > 20 || r < 1 || r > 16 || p < 1 || p > 4) return false;
  auto salt = crypto::base64_decode(parts[3]);
  auto expected = crypto::base64_decode(parts[4]);
  if (!salt || !expected || salt->empty() || expected->size() < 16) return false;
  auto actual = crypto::scrypt_raw(password, *salt, log2_n, r, p, expected->size());
  return actual && crypto::equal_constant_time(*actual, *expected);
}

std::string generate_password() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < 24) {
    for (unsigned char b : crypto::random_bytes(32)) {
      if (b >= 248) continue;  // 248 = 4 * 62: keeps every character equally likely
      out += kAlphabet[b % 62];
      if (out.size() == 24) break;
    }
  }
  return out;
}

}  // namespace crs::admin
