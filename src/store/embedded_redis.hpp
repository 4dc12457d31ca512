#pragma once
// The redis-server `crs serve` runs for itself when no Redis is configured: bound to
// 127.0.0.1 on its own port, append-only file under <dataDir>/redis, restarted when it dies,
// stopped (cleanly, so the AOF is flushed) when the relay exits.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/net.hpp"
#include "core/result.hpp"
#include "core/subprocess.hpp"

namespace crs::store {

struct EmbeddedRedisOptions {
  std::string binary = "redis-server";
  int port = 6380;
  std::string dir;  // <dataDir>/redis
  std::string password;  // required of every client (written to a 0600 config file, not argv)
  std::chrono::milliseconds check_interval{250};
  std::chrono::milliseconds max_restart_delay{10000};
};

class EmbeddedRedis {
 public:
  EmbeddedRedis(asio::any_io_executor executor, EmbeddedRedisOptions options);
  ~EmbeddedRedis();

  // Starts redis-server and the watchdog. Fails if the binary cannot be run.
  Status start();
  // Stops the watchdog, then redis-server (SIGTERM; it flushes the AOF and exits).
  void stop();

  int port() const { return options_.port; }
  std::optional<int> pid() const;
  uint64_t restarts() const { return restarts_; }

 private:
  Status spawn();
  void schedule_check(std::chrono::milliseconds delay);

  asio::any_io_executor executor_;
  EmbeddedRedisOptions options_;
  std::optional<Subprocess> process_;
  asio::steady_timer timer_;
  std::chrono::milliseconds restart_delay_{125};
  bool restart_pending_ = false;
  std::chrono::steady_clock::time_point started_at_;
  uint64_t restarts_ = 0;
  bool stopping_ = false;
};

}  // namespace crs::store
