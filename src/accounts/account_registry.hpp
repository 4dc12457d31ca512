#pragma once
// Every account, held in memory for the hot path: requests pick from a snapshot without
// touching Redis. The snapshot is reloaded when any instance announces an account change,
// when the invalidation channel reconnects, and every 30 s as a safety net. Status changes
// this instance makes are applied to the snapshot at once, before Redis confirms them.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "accounts/account.hpp"

namespace crs::accounts {

using AccountList = std::vector<Account>;

class AccountRegistry {
 public:
  AccountRegistry() : accounts_(std::make_shared<const AccountList>()) {}

  std::shared_ptr<const AccountList> snapshot() const {
    std::lock_guard lock(mutex_);
    return accounts_;
  }
  void replace(AccountList accounts) {
    auto next = std::make_shared<const AccountList>(std::move(accounts));
    std::lock_guard lock(mutex_);
    accounts_ = std::move(next);
  }
  void set_status(const std::string& id, const std::string& status, int64_t until_ms, const std::string& reason) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<AccountList>(*accounts_);
    for (auto& a : *next) {
      if (a.id != id) continue;
      a.status = status;
      a.unavailable_until_ms = until_ms;
      a.status_reason = reason;
    }
    accounts_ = std::move(next);
  }
  void set_credentials(const std::string& id, const Credentials& credentials) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<AccountList>(*accounts_);
    for (auto& a : *next)
      if (a.id == id) a.credentials = credentials;
    accounts_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const AccountList> accounts_;
};

}  // namespace crs::accounts
