#pragma once
// The admin login. Redis holds it for every relay instance (crs:admin:credentials: username,
// scrypt hash, a version that every password change raises, so older login tokens stop
// working). dataDir/init.json (0600) keeps the Node.js service's file shape:
//   first start, nothing configured: a generated username and password, in plaintext, the one
//     place the operator can read them (shown on the terminal too, never logged);
//   after any password change: only the scrypt hash (adminPasswordHash), which restores the
//     login if Redis is ever emptied.
// admin.username/admin.password in the configuration win over both.
#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/blocking.hpp"
#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::admin {

inline constexpr std::string_view kCredentialsKey = "crs:admin:credentials";

struct Credentials {
  std::string username;
  std::string password_hash;
  int64_t version = 0;
};

Task<Result<std::optional<Credentials>>> load_credentials(store::RedisClient& redis);

// Replaces the login (raising its version: every session ends) and rewrites init.json with the
// hash only. `password_hash` comes from hash_password.
Task<Result<Credentials>> replace_credentials(store::RedisClient& redis, BlockingPool& pool,
                                              const std::string& data_dir, std::string username,
                                              std::string password_hash);

// After a login that passed against an imported bcrypt hash: our scrypt hash replaces it.
Task<void> upgrade_imported_hash(store::RedisClient& redis, BlockingPool& pool, std::string data_dir, Credentials current,
                                 std::string password);

// At start: makes sure a login exists (see above).
Task<Status> ensure_credentials(store::RedisClient& redis, BlockingPool& pool, const config::Config& cfg);

std::string init_file_path(const std::string& data_dir);

}  // namespace crs::admin
