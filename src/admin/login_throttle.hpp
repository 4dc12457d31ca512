#pragma once
// Wrong admin passwords are limited per client address and for the admin's username, across
// instances. Every attempt is counted before the password is checked (one Lua script), so
// parallel guesses cannot slip past the limit:
//   - an address over its limit stops there: its attempts count against nothing else;
//   - the username's counter counts only attempts at the real admin username (other names
//     would only fill Redis), and not from an address the admin logged in from lately, so
//     guesses from elsewhere cannot lock the admin out of their usual place;
//   - a correct password clears both counters and marks its address as trusted for 30 days.
// IPv6 addresses count per /64, the block one client usually owns.
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

// The group an address counts in: IPv4 as is, IPv6 by its /64.
std::string address_group(const std::string& address);

store::RedisCommand count_attempt(const config::AdminConfig& cfg, const std::string& address_group,
                                  std::string_view username, bool is_admin_username);
LoginAttempt attempt_result(const store::RedisReply& reply);
// After a correct password: clear the counters, trust the address.
std::vector<store::RedisCommand> login_succeeded(const std::string& address_group, std::string_view username);
// `crs admin reset-password`: lifts the username's lock.
store::RedisCommand clear_user_attempts(std::string_view username);

}  // namespace crs::admin
