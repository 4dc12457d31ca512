#pragma once
// Opens a ready-to-use Redis connection: (ask the sentinels where the primary is,) resolve,
// connect, TLS handshake, AUTH and SELECT, each step within options.connect_timeout. Shared by
// the command client and the pub/sub subscriber.
#include "core/net.hpp"
#include "core/result.hpp"
#include "store/redis_options.hpp"
#include "store/redis_stream.hpp"

namespace crs::store {

Task<Result<RedisStream>> open_redis_connection(asio::any_io_executor executor, const RedisOptions& options);

// The primary the sentinels name now ("host:port" parts), from the first that answers.
Task<Result<std::pair<std::string, int>>> ask_sentinels(asio::any_io_executor executor, const RedisOptions& options);

}  // namespace crs::store
