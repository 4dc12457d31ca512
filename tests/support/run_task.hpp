#pragma once
// For tests that drive a RedisClient on their own io_context: run a coroutine to its end, or
// wait for the connection, with a deadline so a hang fails the test instead of the suite.
#include <chrono>
#include <future>
#include <stdexcept>

#include "core/net.hpp"
#include "store/redis_client.hpp"

namespace crs::test {

template <class T>
T run_task(asio::io_context& ctx, Task<T> task, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto future = asio::co_spawn(ctx, std::move(task), asio::use_future);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("task did not finish in time");
    ctx.run_one_for(std::chrono::milliseconds(50));
  }
  return future.get();
}

inline bool wait_connected(asio::io_context& ctx, store::RedisClient& client,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!client.connected() && std::chrono::steady_clock::now() < deadline)
    ctx.run_one_for(std::chrono::milliseconds(20));
  return client.connected();
}

}  // namespace crs::test
