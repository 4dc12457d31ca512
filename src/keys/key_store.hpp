#pragma once
// Relay keys in Redis: apikey:{id} hashes (the Node.js service's field names), the
// digest -> id map, and a creation-time index for listings. Every change is one MULTI and
// is announced on the invalidation channel so every instance drops its cached copy.
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "keys/api_key.hpp"
#include "store/redis_client.hpp"

namespace crs::keys {

struct NewKey {
  ApiKey key;
  std::string plaintext;  // shown once, never stored
};

class KeyStore {
 public:
  KeyStore(store::RedisClient& redis, std::string encryption_key, std::string prefix);

  Task<Result<NewKey>> create(std::string name, std::string description);
  Task<Result<std::vector<ApiKey>>> list();
  Task<Result<std::optional<ApiKey>>> get(std::string id);
  Task<Result<std::optional<ApiKey>>> find_by_digest(std::string digest);
  Task<Status> set_enabled(std::string id, bool enabled);
  Task<Status> remove(std::string id);

  std::string digest(std::string_view plaintext) const { return digest_of(plaintext, encryption_key_); }
  const std::string& prefix() const { return prefix_; }

 private:
  store::RedisClient& redis_;
  std::string encryption_key_;
  std::string prefix_;
};

}  // namespace crs::keys
