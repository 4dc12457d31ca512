#pragma once
// Opens a ready-to-use Redis connection: resolve, connect, AUTH and SELECT, all within
// options.connect_timeout. Shared by the command client and the pub/sub subscriber.
#include "core/net.hpp"
#include "core/result.hpp"
#include "store/redis_options.hpp"

namespace crs::store {

Task<Result<tcp::socket>> open_redis_connection(asio::any_io_executor executor, const RedisOptions& options);

}  // namespace crs::store
