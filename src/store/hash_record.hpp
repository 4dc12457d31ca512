#pragma once
// Redis hashes as flat string maps: HGETALL replies in, HSET arguments out.
#include <map>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/redis_reply.hpp"

namespace crs::store {

using HashRecord = std::map<std::string, std::string>;

// HGETALL's [field, value, ...] array as a map (empty for nil/empty replies).
HashRecord to_record(const RedisReply& reply);

// {"HSET", key, field, value, ...}
std::vector<std::string> hset_command(const std::string& key, const HashRecord& record);

// The outcome of a pipeline that ends in EXEC: an error if the transaction or any command failed.
Status transaction_status(const Result<std::vector<RedisReply>>& replies);

inline std::string field(const HashRecord& r, const std::string& name, std::string fallback = "") {
  auto it = r.find(name);
  return it == r.end() ? fallback : it->second;
}

}  // namespace crs::store
