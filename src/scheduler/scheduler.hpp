#pragma once
// Picks the upstream account for a request. This is the simple strategy of the relay core:
// usable accounts only, lowest priority number first, then the least recently used. The
// intelligent strategies (loadBalancing.*) will come behind this same interface.
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "accounts/account_registry.hpp"

namespace crs::scheduler {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // An account that is usable at `now_ms` and not in `exclude` (accounts this request tried).
  virtual std::optional<accounts::Account> pick(const accounts::AccountList& all, const std::set<std::string>& exclude,
                                                int64_t now_ms) = 0;
};

class PriorityLruScheduler final : public Scheduler {
 public:
  std::optional<accounts::Account> pick(const accounts::AccountList& all, const std::set<std::string>& exclude,
                                        int64_t now_ms) override;

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, uint64_t> last_pick_;  // account id -> pick sequence number
  uint64_t sequence_ = 0;
};

}  // namespace crs::scheduler
