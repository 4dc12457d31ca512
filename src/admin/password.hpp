#pragma once
// Admin passwords at rest: scrypt with a random salt, stored as one self-describing string
//   $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>
// so the cost can be raised later without breaking stored hashes. Hashing takes ~100 ms and
// 32 MB on purpose: run it off the I/O threads (core/blocking.hpp).
#include <string>
#include <string_view>

namespace crs::admin {

std::string hash_password(std::string_view password);
// False for a wrong password and for anything that is not a hash made by hash_password
// (including parameters too costly to be ours) or an imported bcrypt hash.
bool verify_password(std::string_view password, std::string_view stored_hash);

// A bcrypt hash of the Node.js service's admin login (`crs import crs --admin`): accepted once,
// and replaced by our scrypt hash at the first login that passes.
bool is_imported_bcrypt(std::string_view stored_hash);

// A strong random password for a generated admin login: 24 characters of [A-Za-z0-9].
std::string generate_password();

}  // namespace crs::admin
