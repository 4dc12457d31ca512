#include "store/hash_record.hpp"

namespace crs::store {

HashRecord to_record(const RedisReply& reply) {
  HashRecord r;
  if (!reply.is_array()) return r;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) r[reply.elements[i].str] = reply.elements[i + 1].str;
  return r;
}

std::vector<std::string> hset_command(const std::string& key, const HashRecord& record) {
  std::vector<std::string> cmd{"HSET", key};
  cmd.reserve(2 + record.size() * 2);
  for (const auto& [k, v] : record) {
    cmd.push_back(k);
    cmd.push_back(v);
  }
  return cmd;
}

Status transaction_status(const Result<std::vector<RedisReply>>& replies) {
  if (!replies) return replies.error();
  if (replies->empty()) return Error{"redis: empty transaction"};
  const auto& exec = replies->back();
  if (exec.is_error()) return Error{"redis: " + exec.str};
  if (exec.is_nil()) return Error{"redis transaction aborted"};
  for (const auto& r : exec.elements)
    if (r.is_error()) return Error{"redis: " + r.str};
  return Ok{};
}

}  // namespace crs::store
