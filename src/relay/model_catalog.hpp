#pragma once
// The models the upstream accounts serve, for GET /v1/models: each account's own list (from
// its kind's models endpoint, fetched in the background every 10 minutes and cached here),
// narrowed by the account's `models` allow-list, plus the names its `models` and
// `modelMapping` declare. Any thread may read it.
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "accounts/account_registry.hpp"
#include "core/net.hpp"

namespace crs::relay {

class ModelCatalog {
 public:
  void set(const std::string& account_id, std::vector<std::string> models, int64_t now_ms);
  void failed(const std::string& account_id, int64_t now_ms);  // tried: not again before the next round
  // When the account's list was last tried (0 = never).
  int64_t tried_at(const std::string& account_id) const;
  // Whether the account's own list has been read (at least once).
  bool told(const std::string& account_id) const;

  // The models `account` serves, as far as is known; empty when it told nothing and declares
  // nothing.
  std::set<std::string> models_of(const accounts::Account& account) const;

 private:
  struct Entry {
    std::vector<std::string> models;
    int64_t tried_at = 0;
    bool told = false;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

// Fetches every enabled account's list when it is older than `max_age` (a new account's within
// a second), until `stopped` is set.
Task<void> keep_model_lists(ModelCatalog& catalog, const accounts::AccountRegistry& accounts, asio::ssl::context& tls,
                            std::shared_ptr<bool> stopped, std::chrono::milliseconds max_age);

}  // namespace crs::relay
