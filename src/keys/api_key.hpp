#pragma once
// A relay key as stored: never the plaintext, only its digest (spec/crs-compat.md §2.3).
#include <string>
#include <string_view>

namespace crs::keys {

struct ApiKey {
  std::string id;           // UUID
  std::string name;
  std::string description;
  std::string digest;       // lowercase hex SHA-256 of plaintext + ENCRYPTION_KEY
  bool enabled = true;
  std::string created_at;   // ISO 8601
  std::string last_used_at; // ISO 8601 or empty
  std::string expires_at;   // ISO 8601 or empty (no expiry)
};

// "<prefix>" + 64 lowercase hex characters (32 random bytes), as the Node.js service.
std::string generate_plaintext(std::string_view prefix);

// The stored form; identical to the Node.js service's, so imported keys keep working.
std::string digest_of(std::string_view plaintext, std::string_view encryption_key);

// Masked form for listings: prefix, first and last characters only.
std::string masked(std::string_view plaintext);

}  // namespace crs::keys
