// run_query against a real redis-server: the same replies with and without the optimizer, in
// pipelines of the asked size, and a deadline that holds.
#include <future>

#include <gtest/gtest.h>

#include "store/query.hpp"
#include "store/redis_codec.hpp"
#include "store/redis_options.hpp"
#include "support/run_task.hpp"
#include "support/support.hpp"

namespace crs::store {
namespace {

using namespace std::chrono_literals;
using test::run_task;

Task<Result<std::vector<RedisReply>>> query(RedisClient& c, std::vector<RedisCommand> cmds, QueryOptions o,
                                            QueryProfile* p) {
  co_return co_await run_query(c, std::move(cmds), o, p);
}

struct QueryTest : ::testing::Test {
  test::TempDir dir;
  test::RedisServer server{dir.file("redis")};
  asio::io_context ctx;
  std::unique_ptr<RedisClient> client;

  void SetUp() override {
    ASSERT_TRUE(server.start());
    RedisOptions o;
    o.port = server.port();
    client = std::make_unique<RedisClient>(ctx.get_executor(), o);
    client->start();
    ASSERT_TRUE(test::wait_connected(ctx, *client));
  }
};

std::vector<RedisCommand> reads(int n) {
  std::vector<RedisCommand> cmds;
  for (int i = 0; i < n; ++i) cmds.push_back(make_command("HGETALL", "h:" + std::to_string(i)));
  cmds.push_back(make_command("INCR", "h:0"));  // a WRONGTYPE error reply, kept in its place
  return cmds;
}

TEST_F(QueryTest, PipelinedAndOneByOneGiveTheSameReplies) {
  std::vector<RedisCommand> writes;
  for (int i = 0; i < 1000; ++i) writes.push_back(make_command("HSET", "h:" + std::to_string(i), "n", std::to_string(i)));
  QueryOptions fast{true, 50, 100, 4, 10s};
  ASSERT_TRUE(run_task(ctx, query(*client, writes, fast, nullptr)));

  QueryProfile piped, single;
  auto a = run_task(ctx, query(*client, reads(1000), fast, &piped));
  QueryOptions slow = fast;
  slow.optimize = false;
  auto b = run_task(ctx, query(*client, reads(1000), slow, &single));
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->size(), 1001u);
  ASSERT_EQ(b->size(), 1001u);
  for (size_t i = 0; i < 1000; ++i) {
    ASSERT_EQ((*a)[i].elements.size(), 2u) << i;
    EXPECT_EQ((*a)[i].elements[1].str, std::to_string(i));
    EXPECT_EQ((*b)[i].elements[1].str, std::to_string(i));
  }
  EXPECT_TRUE(a->back().is_error());
  EXPECT_TRUE(b->back().is_error());
  EXPECT_EQ(piped.round_trips, 21u);  // ceil(1001 / 50)
  EXPECT_EQ(single.round_trips, 1001u);
  EXPECT_EQ(piped.commands, 1001u);
  EXPECT_EQ(piped.reply_bytes, single.reply_bytes);
  EXPECT_GT(piped.reply_bytes, 0u);
}

// A batch goes as pipelines of pipeline_size, one after the other: a batch smaller than a
// pipeline is one round trip, a larger one ends with a short pipeline.
TEST_F(QueryTest, BatchesAreCutIntoPipelines) {
  auto trips = [&](size_t pipeline, size_t batch) {
    QueryProfile p;
    auto r = run_task(ctx, query(*client, reads(1000), QueryOptions{true, pipeline, batch, 3, 10s}, &p));
    EXPECT_TRUE(r && r->size() == 1001u);
    return p.round_trips;
  };
  EXPECT_EQ(trips(50, 30), 34u);    // ceil(1001 / 30)
  EXPECT_EQ(trips(50, 120), 25u);   // 8 batches of 50+50+20, then 41
  EXPECT_EQ(trips(500, 1000), 3u);  // 500+500, then 1
}

TEST_F(QueryTest, APastDeadlineFailsClearly) {
  QueryOptions o{true, 10, 10, 2, 200ms};
  QueryProfile p;
  auto began = std::chrono::steady_clock::now();
  // BLPOP on an empty list holds the connection for a second: longer than the deadline.
  auto r = run_task(ctx, query(*client, {make_command("BLPOP", "nothing", "1")}, o, &p));
  auto took = std::chrono::steady_clock::now() - began;
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("query timed out after 200 ms"), std::string::npos) << r.error().message;
  EXPECT_TRUE(p.timed_out);
  EXPECT_LT(took, 900ms);
  // The connection serves the next query once Redis answers the blocked one.
  auto after = run_task(ctx, query(*client, {make_command("PING")}, QueryOptions{}, nullptr));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->at(0).str, "PONG");
}

// Without a connection every pipeline fails at once: the query says so at once too, not when
// its deadline passes.
TEST_F(QueryTest, WithoutRedisAQueryFailsAtOnce) {
  RedisOptions o;
  o.port = test::free_port();  // nothing listens there
  RedisClient nowhere(ctx.get_executor(), o);
  auto began = std::chrono::steady_clock::now();
  QueryProfile p;
  auto r = run_task(ctx, query(nowhere, reads(500), QueryOptions{true, 50, 100, 4, 30s}, &p));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not connected"), std::string::npos) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
  EXPECT_FALSE(p.timed_out);
}

}  // namespace
}  // namespace crs::store
