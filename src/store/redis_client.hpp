#pragma once
// A Redis connection on one io_context: our own Asio socket, hiredis only as the RESP codec.
// Commands are pipelined (everything queued while a write is in flight goes out in one write),
// each call has a timeout, and the connection re-establishes itself with backoff (AUTH/SELECT).
// Not thread-safe: use it from its executor's thread (the relay keeps one per I/O thread).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"
#include "store/redis_codec.hpp"
#include "store/redis_options.hpp"
#include "store/redis_reply.hpp"

namespace crs::store {

// How calls fail that were still pending when a replica refused a write on the connection: they
// reached the replica too, so none was applied (usage/spool.hpp replays them as such).
inline constexpr std::string_view kRefusedByReplica = "redis refused: a read-only replica";

class RedisClient {
 public:
  RedisClient(asio::any_io_executor executor, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting in the background; commands fail fast until connected.
  void start();
  // Closes the connection for good; pending commands fail.
  void stop();

  bool connected() const;
  const RedisOptions& options() const;
  uint64_t reconnects() const;  // connections established after the first

  // One command. A Redis error reply is a value (RedisReply::Type::Error), not an Error:
  // Error means the reply never came (not connected, timeout, connection lost, cancelled).
  Task<Result<RedisReply>> command(RedisCommand args);
  // Several commands in one write; the replies in order.
  Task<Result<std::vector<RedisReply>>> pipeline(std::vector<RedisCommand> commands);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace crs::store
