#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/host_port.hpp"
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
  // Redis Sentinel: when set, host and port are not used; the sentinels name the primary of
  // `sentinel_name` at every connection (so a failover is followed by reconnecting).
  std::vector<std::pair<std::string, int>> sentinels;
  std::string sentinel_name = "mymaster";
  std::string sentinel_password;  // the sentinels' own requirepass
  // TLS to Redis (and to the sentinels): verified against the system's CAs and tls_ca_file;
  // a client certificate when the server asks for one (tls-auth-clients).
  bool tls = false;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;

  // For logs: where commands go.
  std::string address() const;
};


// redis://[[user]:password@]host[:port][/db] (rediss:// for TLS); fields absent from the URL
// keep `base`'s values.
Result<RedisOptions> parse_redis_url(const std::string& url, RedisOptions base = {});

}  // namespace crs::store
