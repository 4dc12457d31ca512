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
  // An account with its id and creation time kept (an import): refused if the id exists.
  Task<Status> add_imported(Account account);
  Task<Result<std::vector<Account>>> list();
  Task<Result<std::optional<Account>>> get(std::string id);
  Task<Status> remove(std::string id);
  Task<Status> set_enabled(std::string id, bool enabled);
  // Active again: no rate limit, no error, not blocked (the enabled flag is left as it is).
  Task<Status> clear_state(std::string id);
  // Writes what an admin edits (name, base URL, proxy, priority, scheduling fields, and the
  // credentials when `with_credentials`), leaving its state alone. Fails if it was removed.
  Task<Status> update(Account account, bool with_credentials);
  // Records why an account is unavailable and until when (0 = until an admin acts).
  Task<Status> set_status(std::string id, std::string status, int64_t until_ms, std::string reason);
  Task<Status> set_credentials(std::string id, Credentials credentials);

  // Account groups. Changes are announced like account changes.
  Task<Result<AccountGroup>> create_group(std::string name);
  // A group with its id, creation time and members kept (an import).
  Task<Status> add_imported_group(AccountGroup group);
  Task<Result<std::vector<AccountGroup>>> list_groups();
  Task<Result<bool>> group_exists(std::string id);
  Task<Status> delete_group(std::string id);
  // Adds (or removes) an account to a group; both must exist.
  Task<Status> set_membership(std::string group_id, std::string account_id, bool member);

 private:
  store::RedisClient& redis_;
  std::string key_;  // 32-byte AES key derived from ENCRYPTION_KEY
};

}  // namespace crs::accounts
