#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crs::store {

// One RESP2 reply, owned (hiredis' redisReply is converted as soon as it is read).
struct RedisReply {
  enum class Type { Nil, Integer, String, Status, Error, Array };
  Type type = Type::Nil;
  int64_t integer = 0;
  std::string str;                    // String, Status and Error
  std::vector<RedisReply> elements;   // Array

  bool is_nil() const { return type == Type::Nil; }
  bool is_error() const { return type == Type::Error; }
  bool is_array() const { return type == Type::Array; }
  // A write refused and not applied because this server is no longer the primary to write to:
  // a replica (READONLY; Redis 6 wraps it in a script's error), or a primary that lost its
  // replicas under min-replicas-to-write (NOREPLICAS), as one cut off by a failover is.
  bool is_read_only() const {
    return type == Type::Error && (str.starts_with("READONLY") || str.starts_with("NOREPLICAS") ||
                                   str.find("-READONLY You can't write") != std::string::npos);
  }
  // The value as an integer: Integer replies, or String replies holding a number.
  std::optional<int64_t> as_int() const;
  std::optional<std::string> as_string() const;
};

}  // namespace crs::store
