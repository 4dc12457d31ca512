#pragma once
// Accounts in Redis: crs:account:{id} hashes plus an index set. Secrets (credentials, proxy)
// are sealed before they leave the process. Every change is announced on the invalidation
// channel so every relay instance reloads its account list.
#include <optional>
#include <string>
#include <vector>

#include "accounts/account.hpp"
#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::accounts {

class AccountStore {
 public:
  AccountStore(store::RedisClient& redis, std::string_view encryption_key);

  Task<Result<Account>> add(Account account);
  Task<Result<std::vector<Account>>> list();
  Task<Result<std::optional<Account>>> get(std::string id);
  Task<Status> remove(std::string id);
  Task<Status> set_enabled(std::string id, bool enabled);
  // Writes what an admin edits (name, base URL, proxy, priority, scheduling fields, and the
  // credentials when `with_credentials`), leaving its state alone. Fails if it was removed.
  Task<Status> update(Account account, bool with_credentials);
  // Records why an account is unavailable and until when (0 = until an admin acts).
  Task<Status> set_status(std::string id, std::string status, int64_t until_ms, std::string reason);
  Task<Status> set_credentials(std::string id, Credentials credentials);

 private:
  store::RedisClient& redis_;
  std::string key_;  // 32-byte AES key derived from ENCRYPTION_KEY
};

}  // namespace crs::accounts
