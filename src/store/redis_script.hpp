#pragma once
// A Lua script called by its SHA1 (EVALSHA): the body travels once, not with every call.
// Redis forgets scripts on restart or SCRIPT FLUSH; a call answered NOSCRIPT is sent again as
// EVAL with the body, which also loads it for the next calls.
#include <string>
#include <string_view>
#include <vector>

#include "store/redis_client.hpp"

namespace crs::store {

class Script {
 public:
  explicit Script(std::string_view source);

  // EVALSHA <sha> <number of keys> keys... args...
  RedisCommand call(std::vector<std::string> keys, std::vector<std::string> args) const;
  // The same call as EVAL with the body.
  RedisCommand with_source(const RedisCommand& call) const;

  const std::string& sha() const { return sha_; }

 private:
  std::string source_;
  std::string sha_;
};

bool is_noscript(const RedisReply& reply);

// Sends `call` (from script.call) and falls back to EVAL on NOSCRIPT.
Task<Result<RedisReply>> run_script(RedisClient& redis, const Script& script, RedisCommand call);

}  // namespace crs::store
