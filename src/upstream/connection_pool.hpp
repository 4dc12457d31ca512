#pragma once
// Keep-alive connections per (upstream, proxy), one pool per I/O thread (no locking).
//
// The pool keeps up to `max_idle_per_target` idle connections per target: enough for every
// request in flight to find one again (at 256 concurrent requests a cap of 64 made a third of
// them open a new connection: bench/results/2026-12-05-profile-64-vs-256.md). Idle connections
// older than `idle_ttl` are closed by a sweep that runs while any are kept, so after a load
// ends its sockets go too.
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "upstream/connection.hpp"

namespace crs::upstream {

class ConnectionPool {
 public:
  static constexpr size_t kMaxIdlePerTarget = 1024;
  static constexpr std::chrono::seconds kIdleTtl{30};

  ConnectionPool(asio::any_io_executor executor, asio::ssl::context& tls, size_t max_idle_per_target = kMaxIdlePerTarget,
                 std::chrono::seconds idle_ttl = kIdleTtl);
  ~ConnectionPool();

  // An idle connection to the target if one is alive, else a new one. `key` is
  // pool_key(target, proxy), which a caller computes once per target, not per request.
  Task<Result<std::unique_ptr<Connection>>> acquire(const BaseUrl& target, const Proxy& proxy, const std::string& key,
                                                     std::chrono::milliseconds connect_timeout);
  // Returns a connection whose response was read completely and that may be kept alive.
  void release(std::unique_ptr<Connection> connection);

  size_t idle_count() const;

 private:
  struct Idle {
    std::unique_ptr<Connection> connection;
    std::chrono::steady_clock::time_point since;
  };
  // Shared with the sweep, which may outlive the pool by one tick at shutdown.
  struct Shelf {
    explicit Shelf(asio::any_io_executor ex) : timer(ex) {}
    std::unordered_map<std::string, std::deque<Idle>> idle;  // oldest first
    asio::steady_timer timer;
    bool sweeping = false;
  };
  static Task<void> sweep(std::shared_ptr<Shelf> shelf, std::chrono::seconds idle_ttl);

  asio::any_io_executor executor_;
  asio::ssl::context& tls_;
  size_t max_idle_;
  std::chrono::seconds idle_ttl_;
  std::shared_ptr<Shelf> shelf_;
};

}  // namespace crs::upstream
