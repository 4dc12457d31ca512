#pragma once
// Keeps the concurrency leases of one I/O thread's live requests alive: every lease_ttl/3,
// one pipeline renews them all. A request registers its lease when admitted and removes it
// when it ends; nothing else runs per request (no timer, no coroutine). A renewal that
// crosses a release is harmless: ZADD XX cannot bring a released lease back.
#include <string>
#include <unordered_map>

#include "core/net.hpp"
#include "limits/limits.hpp"
#include "store/redis_client.hpp"

namespace crs::relay {

class LeaseRenewer {
 public:
  LeaseRenewer(asio::any_io_executor executor, store::RedisClient& redis, const limits::Limits& limits);

  // Call on the renewer's I/O thread. A key's lease, and a lease in any other sorted set.
  void add(const std::string& lease, const std::string& key_id);
  void add_in(const std::string& lease, std::string leases_zset);
  void remove(const std::string& lease);

 private:
  Task<void> run();

  asio::any_io_executor executor_;
  store::RedisClient& redis_;
  const limits::Limits& limits_;
  std::unordered_map<std::string, std::string> leases_;  // lease -> its sorted set
  asio::steady_timer timer_;
  bool running_ = false;
};

}  // namespace crs::relay
