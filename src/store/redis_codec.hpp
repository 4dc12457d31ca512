#pragma once
// RESP encoding and decoding, with hiredis doing the work (redisFormatCommandArgv, redisReader).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/redis_reply.hpp"

struct redisReader;

namespace crs::store {

using RedisCommand = std::vector<std::string>;

// Builds a command without an initializer list, so it is safe inside coroutines (GCC 12
// miscompiles initializer lists in coroutine frames).
template <class... Args>
RedisCommand make_command(Args&&... args) {
  RedisCommand c;
  c.reserve(sizeof...(args));
  (c.emplace_back(std::forward<Args>(args)), ...);
  return c;
}

void append_command(std::string& out, const RedisCommand& args);

// Decodes replies from bytes as they arrive; replies may be split across reads.
class ReplyReader {
 public:
  ReplyReader();
  ~ReplyReader();
  bool feed(const char* data, size_t n);
  std::optional<RedisReply> next();   // a complete reply, if one is buffered
  bool failed() const { return failed_; }

 private:
  struct Free {
    void operator()(redisReader* r) const;
  };
  std::unique_ptr<redisReader, Free> reader_;
  bool failed_ = false;
};

}  // namespace crs::store
