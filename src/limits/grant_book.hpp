#pragma once
// One I/O thread's grants (limits/grants.hpp): per key, the share of its limits this thread
// holds and what its requests in flight use of it. A request admitted from the share costs no
// Redis round trip. The share is topped up ahead of need (a grant call in the background when
// a quarter is left, asking for twice as much), given back when the key has been idle for
// 2 s, as soon as the key's limits change, and at shutdown, and kept alive (the lease TTL)
// while held. Not thread-safe: its thread's requests only.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/net.hpp"
#include "keys/api_key.hpp"
#include "limits/grants.hpp"
#include "store/redis_client.hpp"

namespace crs::limits {

struct GrantTicket {
  std::string key_id;
  std::string lease;            // "G:<holder>#<generation>": its completion record's lease
  int64_t reserved_cost = 0;    // micro-USD taken from the share for this request
  int64_t reserved_tokens = 0;
};

class GrantBook {
 public:
  // `giving_back`: counts the give-backs not finished yet, of every book (shutdown waits for them).
  GrantBook(asio::any_io_executor executor, store::RedisClient& redis, const Limits& limits, std::string holder,
            std::shared_ptr<std::atomic<int>> giving_back);
  ~GrantBook();
  GrantBook(const GrantBook&) = delete;
  GrantBook& operator=(const GrantBook&) = delete;

  // Whether a key's limits are wide enough to share out: a concurrency under 32 or a window of
  // under 256 requests is admitted exactly, request by request.
  static bool leasable(const keys::ApiKey& key);

  // Admits one request of `key` from this thread's share, asking Redis for more when it ran
  // out (one round trip). nullopt: admit it exactly instead (its limits are nearly reached,
  // more is already being asked for, the share is out of date, or Redis did not answer).
  Task<std::optional<GrantTicket>> admit(const keys::ApiKey& key, int64_t reserve_cost, int64_t reserve_tokens);
  // The request ended: its slot and reservation come back to the share, less what it was
  // charged (its completion record, with ticket.lease, takes that from the share in Redis).
  void finish(const GrantTicket& ticket, int64_t charged_cost, int64_t charged_tokens);
  // Gives every share back as its requests end; admits nothing after. Call on the book's thread.
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace crs::limits
