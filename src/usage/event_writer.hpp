#pragma once
// Writes what a finished request leaves behind, for one I/O thread: the limits' completion
// script (its usage event, the charge to its key, the release of a concurrency lease). Commands wait up to `linger` (or until `max_batch` are waiting)
// and go out as one pipeline: Redis then reads and answers a batch in one go instead of
// paying its per-call system calls (about 15 µs of Redis CPU) for every request. The
// response has been sent by then; only a crash in that window can lose one, and shutdown
// waits for `in_flight()` to reach zero. What Redis cannot take (down, or the connection
// dropped with the batch in flight) goes to the spool, to be sent again.
#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "core/net.hpp"
#include "store/redis_client.hpp"
#include "store/redis_script.hpp"
#include "usage/spool.hpp"

namespace crs::usage {

class UsageEventWriter {
 public:
  // `spool`: where commands go that Redis could not take (null: they are logged and lost).
  UsageEventWriter(asio::any_io_executor executor, store::RedisClient& redis, UsageSpool* spool = nullptr,
                   std::chrono::microseconds linger = std::chrono::microseconds(1000), size_t max_batch = 128);
  ~UsageEventWriter();

  // Call on the writer's I/O thread. `what` names the command in the log if it fails; a
  // command of `script` (EVALSHA) answered NOSCRIPT is sent again with the script's body.
  // `request_id` non-empty: the command is a request's completion (spooled as one).
  void append(store::RedisCommand command, std::string what, const store::Script* script = nullptr,
              std::string request_id = {});
  struct Item {
    store::RedisCommand command;
    std::string what;
    const store::Script* script;
    std::string request_id;
  };

  // Commands appended and not yet answered by Redis (any thread may read it).
  int in_flight() const { return in_flight_->load(); }

 private:
  void flush();

  asio::any_io_executor executor_;
  store::RedisClient& redis_;
  UsageSpool* spool_;
  std::chrono::microseconds linger_;
  size_t max_batch_;
  std::vector<Item> waiting_;
  std::unique_ptr<asio::steady_timer> timer_;
  bool timer_armed_ = false;
  std::shared_ptr<std::atomic<int>> in_flight_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace crs::usage
