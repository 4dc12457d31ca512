#pragma once
// Redis hashes as flat string maps: HGETALL replies in, HSET arguments out.
#include <map>
#include <string>
#include <vector>

#include "store/redis_reply.hpp"

namespace crs::store {

using HashRecord = std::map<std::string, std::string>;

// HGETALL's [field, value, ...] array as a map (empty for nil/empty replies).
HashRecord to_record(const RedisReply& reply);

// {"HSET", key, field, value, ...}
std::vector<std::string> hset_command(const std::string& key, const HashRecord& record);

inline std::string field(const HashRecord& r, const std::string& name, std::string fallback = "") {
  auto it = r.find(name);
  return it == r.end() ? fallback : it->second;
}

}  // namespace crs::store
