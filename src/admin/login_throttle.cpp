#include "admin/login_throttle.hpp"

#include <algorithm>

#include "core/crypto.hpp"

namespace crs::admin {
namespace {

// KEYS: per-address counter, per-user counter. ARGV: window s, max per address, max per user.
// Returns {1, 0} to go ahead, or {0, seconds until the longer-locked counter expires}.
constexpr const char* kAttempt = R"LUA(
local window = tonumber(ARGV[1])
local counts = {}
for i = 1, 2 do
  counts[i] = redis.call('INCR', KEYS[i])
  if counts[i] == 1 then redis.call('EXPIRE', KEYS[i], window) end
end
if counts[1] > tonumber(ARGV[2]) or counts[2] > tonumber(ARGV[3]) then
  local wait = math.max(redis.call('TTL', KEYS[1]), redis.call('TTL', KEYS[2]), 1)
  return {0, wait}
end
return {1, 0}
)LUA";

std::string address_key(std::string_view ip) { return "crs:admin:login_attempts:ip:" + std::string(ip); }
// Usernames are hashed: the key names stay short and free of whatever was typed.
std::string user_key(std::string_view username) {
  std::string lower(username);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return "crs:admin:login_attempts:user:" + crypto::sha256_hex(lower);
}

}  // namespace

std::string revoked_session_key(std::string_view jti) { return "crs:admin:revoked:" + std::string(jti); }

store::RedisCommand count_attempt(const config::AdminConfig& cfg, std::string_view ip, std::string_view username) {
  return store::make_command("EVAL", kAttempt, "2", address_key(ip), user_key(username),
                             std::to_string(cfg.loginLockout), std::to_string(cfg.loginFailuresPerIp),
                             std::to_string(cfg.loginFailuresPerUser));
}

LoginAttempt attempt_result(const store::RedisReply& reply) {
  if (!reply.is_array() || reply.elements.size() != 2) return {false, 1};
  return {reply.elements[0].as_int().value_or(0) == 1, reply.elements[1].as_int().value_or(1)};
}

store::RedisCommand clear_attempts(std::string_view ip, std::string_view username) {
  return store::make_command("DEL", address_key(ip), user_key(username));
}

}  // namespace crs::admin
