#pragma once
// Relay keys in Redis: apikey:{id} hashes (the Node.js service's field names), the
// digest -> id map, and a creation-time index for listings. Every change is one MULTI and
// is announced on the invalidation channel so every instance drops its cached copy.
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.hpp"
#include "keys/api_key.hpp"
#include "query/query_runner.hpp"
#include "store/redis_client.hpp"

namespace crs::keys {

struct NewKey {
  ApiKey key;
  std::string plaintext;  // shown once, never stored
};

class KeyStore {
 public:
  KeyStore(store::RedisClient& redis, std::string encryption_key, std::string prefix);

  // `fields` carries what the caller set (key_fields.hpp: apply_changes); id, digest and
  // creation time are made here.
  Task<Result<NewKey>> create(ApiKey fields);
  // Every key in creation order, read through the query optimizer.
  Task<Result<std::vector<ApiKey>>> list(const query::QueryRunner& queries);
  Task<Result<std::optional<ApiKey>>> get(std::string id);
  Task<Result<std::optional<ApiKey>>> find_by_digest(std::string digest);
  // Applies `changes` (apply_changes) and writes only the fields that changed.
  Task<Result<ApiKey>> update(std::string id, boost::json::object changes);
  // Why a key may not be bound to `bound_account` ("" if it may): the account must exist.
  // Account groups do not exist yet, so a group binding is refused too (never the pool instead).
  Task<Result<std::string>> binding_problem(std::string bound_account);
  // First use of an "activation" key: sets activatedAt and expiresAt (now + activationDays)
  // once, whichever instance gets there first; returns the key as stored afterwards.
  Task<Result<std::optional<ApiKey>>> activate(std::string id);
  // A new plaintext for the same key (same id, limits and usage); the old one stops working.
  Task<Result<NewKey>> renew(std::string id);
  Task<Status> remove(std::string id);

  std::string digest(std::string_view plaintext) const { return digest_of(plaintext, encryption_key_); }
  const std::string& prefix() const { return prefix_; }

 private:
  store::RedisClient& redis_;
  std::string encryption_key_;
  std::string prefix_;
};

}  // namespace crs::keys
