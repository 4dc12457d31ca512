#pragma once
// Keep-alive connections per (upstream, proxy), one pool per I/O thread (no locking).
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "upstream/connection.hpp"

namespace crs::upstream {

class ConnectionPool {
 public:
  ConnectionPool(asio::any_io_executor executor, asio::ssl::context& tls, size_t max_idle_per_target = 64,
                 std::chrono::seconds idle_ttl = std::chrono::seconds(30));

  // An idle connection to the target if one is alive, else a new one.
  Task<Result<std::unique_ptr<Connection>>> acquire(const BaseUrl& target, const Proxy& proxy,
                                                     std::chrono::milliseconds connect_timeout);
  // Returns a connection whose response was read completely and that may be kept alive.
  void release(std::unique_ptr<Connection> connection);

 private:
  struct Idle {
    std::unique_ptr<Connection> connection;
    std::chrono::steady_clock::time_point since;
  };
  asio::any_io_executor executor_;
  asio::ssl::context& tls_;
  size_t max_idle_;
  std::chrono::seconds idle_ttl_;
  std::unordered_map<std::string, std::deque<Idle>> idle_;
};

std::string pool_key(const BaseUrl& target, const Proxy& proxy);

}  // namespace crs::upstream
