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
  // The value as an integer: Integer replies, or String replies holding a number.
  std::optional<int64_t> as_int() const;
  std::optional<std::string> as_string() const;
};

}  // namespace crs::store
