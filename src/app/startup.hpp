#pragma once
// What must be in Redis before the first request, and when serving begins: once every I/O
// thread's Redis client is connected (a request must not meet a thread whose connection is
// still opening), or after 3 s when Redis is down (/health says so).
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/blocking.hpp"
#include "limits/limits.hpp"
#include "store/redis_client.hpp"

namespace crs::app {

struct StorePreparation {
  store::RedisClient& redis;
  BlockingPool& blocking;
  const config::Config& cfg;
  const limits::Limits& limits;
  std::atomic<bool>& ready;  // set once the keys' limit counters are seeded
  // The data was written by a newer crs: this one must not serve it (the reason is given).
  std::function<void(const std::string&)> refuse;
};

// The data's schema first (pending migrations run; data of a newer crs is refused), then the
// keys' counters (seeded first: until then the relay answers 503, so no charge can start them
// from zero), then the admin login; tried until all succeed. `first_try_done` runs
// after the first try, successful or not.
Task<void> prepare_store(StorePreparation prep, std::function<void()> first_try_done);

// Calls `start_serving` on `main` once every client is connected and the store's first
// preparation was tried, or after 3 s; the preparation goes on in the background.
void serve_when_ready(asio::io_context& main, std::vector<store::RedisClient*> clients, StorePreparation prep,
                      std::function<void()> start_serving);

}  // namespace crs::app
