#pragma once
// Wrong admin passwords are limited per client address and per username, across instances.
// Every attempt is counted before the password is checked (one Lua script), so parallel
// guesses cannot slip past the limit; a correct password clears both counters.
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "store/redis_codec.hpp"
#include "store/redis_reply.hpp"

namespace crs::admin {

std::string revoked_session_key(std::string_view jti);

struct LoginAttempt {
  bool allowed = false;
  int64_t retry_after_seconds = 0;  // when refused
};

store::RedisCommand count_attempt(const config::AdminConfig& cfg, std::string_view ip, std::string_view username);
LoginAttempt attempt_result(const store::RedisReply& reply);
store::RedisCommand clear_attempts(std::string_view ip, std::string_view username);

}  // namespace crs::admin
