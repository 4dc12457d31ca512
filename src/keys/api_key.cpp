#include "keys/api_key.hpp"

#include "core/crypto.hpp"
#include "core/secret.hpp"

namespace crs::keys {

std::string generate_plaintext(std::string_view prefix) { return std::string(prefix) + crypto::random_hex(32); }

std::string digest_of(std::string_view plaintext, std::string_view encryption_key) {
  std::string material;
  material.reserve(plaintext.size() + encryption_key.size());
  material.append(plaintext).append(encryption_key);
  return crypto::sha256_hex(material);
}

std::string masked(std::string_view plaintext) { return mask_secret(plaintext); }

}  // namespace crs::keys
