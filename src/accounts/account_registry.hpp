#pragma once
// Every account, held in memory for the hot path: requests pick from a snapshot without
// touching Redis. The snapshot is reloaded when any instance announces an account change,
// when the invalidation channel reconnects, and every 30 s as a safety net. Status changes
// this instance makes are applied to the snapshot at once, before Redis confirms them.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/iterator/indirect_iterator.hpp>

#include "accounts/account.hpp"

namespace crs::accounts {

// Every account of one snapshot, each in a node of its own: a request holds the account it
// was given (share()) for as long as its stream lasts, without holding the whole list, and
// without copying it (a copy is ~1 KB of strings per request).
class AccountList {
 public:
  using Node = std::shared_ptr<const Account>;

  AccountList() = default;
  explicit AccountList(std::vector<Account> accounts) {
    nodes_.reserve(accounts.size());
    for (auto& a : accounts) nodes_.push_back(std::make_shared<const Account>(std::move(a)));
  }
  explicit AccountList(std::vector<Node> nodes) : nodes_(std::move(nodes)) {}

  auto begin() const { return boost::make_indirect_iterator(nodes_.begin()); }
  auto end() const { return boost::make_indirect_iterator(nodes_.end()); }
  size_t size() const { return nodes_.size(); }
  const Account& operator[](size_t i) const { return *nodes_[i]; }
  bool empty() const { return nodes_.empty(); }
  const std::vector<Node>& nodes() const { return nodes_; }

  // The node of `account`, which must be an element of this list.
  Node share(const Account& account) const {
    for (const auto& n : nodes_)
      if (n.get() == &account) return n;
    return std::make_shared<const Account>(account);  // not from this list: a copy of its own
  }

 private:
  std::vector<Node> nodes_;
};

class AccountRegistry {
 public:
  AccountRegistry() : accounts_(std::make_shared<const AccountList>()) {}

  std::shared_ptr<const AccountList> snapshot() const {
    std::lock_guard lock(mutex_);
    return accounts_;
  }
  void replace(std::vector<Account> accounts) {
    auto next = std::make_shared<const AccountList>(std::move(accounts));
    std::lock_guard lock(mutex_);
    accounts_ = std::move(next);
  }
  void set_status(const std::string& id, const std::string& status, int64_t until_ms, const std::string& reason) {
    change(id, [&](Account& a) {
      a.status = status;
      a.unavailable_until_ms = until_ms;
      a.status_reason = reason;
    });
  }
  void set_credentials(const std::string& id, const Credentials& credentials) {
    change(id, [&](Account& a) { a.credentials = credentials; });
  }

 private:
  // A new snapshot where the account `id` is a changed copy; the others are the same nodes.
  template <typename Edit>
  void change(const std::string& id, Edit edit) {
    std::lock_guard lock(mutex_);
    std::vector<AccountList::Node> nodes = accounts_->nodes();
    for (auto& n : nodes) {
      if (n->id != id) continue;
      auto copy = std::make_shared<Account>(*n);
      edit(*copy);
      n = std::move(copy);
    }
    accounts_ = std::make_shared<const AccountList>(std::move(nodes));
  }

  mutable std::mutex mutex_;
  std::shared_ptr<const AccountList> accounts_;
};

}  // namespace crs::accounts
