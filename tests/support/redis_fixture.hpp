#pragma once
// A fixture for tests of scripts and clients against a real redis-server: the server on a free
// port in a temporary directory, and a connected RedisClient on the test's own io_context.
#include <memory>

#include <gtest/gtest.h>

#include "store/redis_client.hpp"
#include "support/run_task.hpp"
#include "support/support.hpp"

namespace crs::test {

struct RedisFixture : ::testing::Test {
  TempDir dir;
  RedisServer server{dir.file("redis")};
  asio::io_context ctx;
  std::unique_ptr<store::RedisClient> redis;

  // `command_timeout`: how long a call waits for its reply (short for tests that stop Redis).
  void connect(std::chrono::milliseconds command_timeout = std::chrono::seconds(5)) {
    ASSERT_TRUE(server.start());
    store::RedisOptions o;
    o.port = server.port();
    o.command_timeout = command_timeout;
    redis = std::make_unique<store::RedisClient>(ctx.get_executor(), o);
    redis->start();
    ASSERT_TRUE(wait_connected(ctx, *redis));
  }
  void SetUp() override { connect(); }
};

}  // namespace crs::test
