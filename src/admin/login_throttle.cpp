#include "admin/login_throttle.hpp"

#include <algorithm>

#include <boost/asio/ip/address.hpp>

#include "core/crypto.hpp"

namespace crs::admin {
namespace {

// KEYS: 1 address counter, 2 username counter, 3 the address's trust mark.
// ARGV: 1 window s, 2 max per address, 3 max per username, 4 "1" if it is the admin's username.
// Returns {1, 0} to go ahead, or {0, seconds until the counter that refused expires}.
constexpr const char* kAttempt = R"LUA(
local window = tonumber(ARGV[1])
local by_address = redis.call('INCR', KEYS[1])
if by_address == 1 then redis.call('EXPIRE', KEYS[1], window) end
if by_address > tonumber(ARGV[2]) then return {0, math.max(redis.call('TTL', KEYS[1]), 1)} end
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then
  local by_user = redis.call('INCR', KEYS[2])
  if by_user == 1 then redis.call('EXPIRE', KEYS[2], window) end
  if by_user > tonumber(ARGV[3]) then return {0, math.max(redis.call('TTL', KEYS[2]), 1)} end
end
return {1, 0}
)LUA";

constexpr int64_t kTrustSeconds = 30 * 86400;

std::string address_key(const std::string& group) { return "crs:admin:login_attempts:ip:" + group; }
std::string trust_key(const std::string& group) { return "crs:admin:trusted_address:" + group; }
// Usernames are hashed: the key names stay short and free of whatever was typed.
std::string user_key(std::string_view username) { return "crs:admin:login_attempts:user:" + crypto::sha256_hex(username); }

}  // namespace

std::string revoked_session_key(std::string_view jti) { return "crs:admin:revoked:" + std::string(jti); }

std::string address_group(const std::string& address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  if (ec) return address;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
  if (a.is_v4()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

store::RedisCommand count_attempt(const config::AdminConfig& cfg, const std::string& group, std::string_view username,
                                  bool is_admin_username) {
  return store::make_command("EVAL", kAttempt, "3", address_key(group), user_key(username), trust_key(group),
                             std::to_string(cfg.loginLockout), std::to_string(cfg.loginFailuresPerIp),
                             std::to_string(cfg.loginFailuresPerUser), is_admin_username ? "1" : "0");
}

LoginAttempt attempt_result(const store::RedisReply& reply) {
  if (!reply.is_array() || reply.elements.size() != 2) return {false, 1};
  return {reply.elements[0].as_int().value_or(0) == 1, reply.elements[1].as_int().value_or(1)};
}

std::vector<store::RedisCommand> login_succeeded(const std::string& group, std::string_view username) {
  std::vector<store::RedisCommand> out;
  out.push_back(store::make_command("DEL", address_key(group), user_key(username)));
  out.push_back(store::make_command("SET", trust_key(group), "1", "EX", std::to_string(kTrustSeconds)));
  return out;
}

store::RedisCommand clear_user_attempts(std::string_view username) {
  return store::make_command("DEL", user_key(username));
}

}  // namespace crs::admin
