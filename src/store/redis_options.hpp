#pragma once
#include <chrono>
#include <string>

#include "core/result.hpp"

namespace crs::store {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  std::string username;               // Redis 6 ACL user; empty = default user
  int db = 0;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds command_timeout{5000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};

  std::string address() const { return host + ":" + std::to_string(port); }
};

// redis://[[user]:password@]host[:port][/db]; fields absent from the URL keep `base`'s values.
Result<RedisOptions> parse_redis_url(const std::string& url, RedisOptions base = {});

}  // namespace crs::store
