#include <malloc.h>

#include <future>

#include <gtest/gtest.h>

#include "store/redis_client.hpp"
#include "store/redis_codec.hpp"
#include "store/redis_options.hpp"
#include "support/run_task.hpp"
#include "support/support.hpp"

namespace crs::store {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::TempDir;
using test::run_task;
using test::wait_connected;

RedisOptions options_for(int port) {
  RedisOptions o;
  o.port = port;
  o.min_backoff = 20ms;
  o.max_backoff = 200ms;
  return o;
}

Task<Result<RedisReply>> cmd(RedisClient& c, RedisCommand args) { co_return co_await c.command(std::move(args)); }
Task<Result<std::vector<RedisReply>>> pipe(RedisClient& c, std::vector<RedisCommand> cmds) {
  co_return co_await c.pipeline(std::move(cmds));
}

struct RedisFixture : ::testing::Test {
  TempDir dir;
  RedisServer server{dir.file("redis")};
  asio::io_context ctx;
  void SetUp() override { ASSERT_TRUE(server.start()); }
};

// Found by fuzzing: hiredis 0.14 allocated an array from the length a reply announces, so a
// reply claiming a billion elements asked for 8 GB. Elements now take memory as they arrive.
TEST(ReplyReader, AnAnnouncedLengthAllocatesNothingAndNestedRepliesAreWhole) {
  ReplyReader reader;
  size_t before = mallinfo2().hblkhd + mallinfo2().uordblks;
  std::string bogus = "*1000000000\r\n:1\r\n*2\r\n$1\r\na\r\n";
  ASSERT_TRUE(reader.feed(bogus.data(), bogus.size()));
  EXPECT_FALSE(reader.next()) << "incomplete: more elements announced";
  EXPECT_LT(mallinfo2().hblkhd + mallinfo2().uordblks, before + (16u << 20));
  EXPECT_FALSE(reader.failed());

  ReplyReader nested;
  std::string bytes = "*3\r\n:7\r\n*2\r\n$3\r\nabc\r\n$-1\r\n-ERR no\r\n+OK\r\n";
  ASSERT_TRUE(nested.feed(bytes.data(), bytes.size()));
  auto r = nested.next();
  ASSERT_TRUE(r && r->is_array());
  ASSERT_EQ(r->elements.size(), 3u);
  EXPECT_EQ(r->elements[0].integer, 7);
  ASSERT_EQ(r->elements[1].elements.size(), 2u);
  EXPECT_EQ(r->elements[1].elements[0].str, "abc");
  EXPECT_TRUE(r->elements[1].elements[1].is_nil());
  EXPECT_TRUE(r->elements[2].is_error());
  auto ok = nested.next();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->type, RedisReply::Type::Status);
  EXPECT_FALSE(nested.next());
}

TEST_F(RedisFixture, CommandsAndErrorReplies) {
  RedisClient client(ctx.get_executor(), options_for(server.port()));
  client.start();
  ASSERT_TRUE(wait_connected(ctx, client));
  auto set = run_task(ctx, cmd(client, {"SET", "greeting", "hello\r\nworld"}));
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->type, RedisReply::Type::Status);
  auto get = run_task(ctx, cmd(client, {"GET", "greeting"}));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, "hello\r\nworld");  // binary-safe
  auto missing = run_task(ctx, cmd(client, {"GET", "nothing"}));
  EXPECT_TRUE(missing->is_nil());
  auto err = run_task(ctx, cmd(client, {"INCR", "greeting"}));
  ASSERT_TRUE(err.ok());
  EXPECT_TRUE(err->is_error());
  EXPECT_NE(err->str.find("not an integer"), std::string::npos);
  auto arr = run_task(ctx, cmd(client, {"MGET", "greeting", "nothing"}));
  ASSERT_TRUE(arr->is_array());
  ASSERT_EQ(arr->elements.size(), 2u);
  EXPECT_TRUE(arr->elements[1].is_nil());
}

TEST_F(RedisFixture, PipelineRepliesInOrder) {
  RedisClient client(ctx.get_executor(), options_for(server.port()));
  client.start();
  ASSERT_TRUE(wait_connected(ctx, client));
  std::vector<RedisCommand> cmds;
  for (int i = 0; i < 500; ++i) cmds.push_back({"INCRBY", "counter", std::to_string(i)});
  auto replies = run_task(ctx, pipe(client, cmds));
  ASSERT_TRUE(replies.ok());
  ASSERT_EQ(replies->size(), 500u);
  int64_t expected = 0;
  for (int i = 0; i < 500; ++i) {
    expected += i;
    EXPECT_EQ((*replies)[i].integer, expected);
  }
}

TEST_F(RedisFixture, ManyConcurrentCallersShareTheConnection) {
  RedisClient client(ctx.get_executor(), options_for(server.port()));
  client.start();
  ASSERT_TRUE(wait_connected(ctx, client));
  std::vector<std::future<Result<RedisReply>>> futures;
  for (int i = 0; i < 1000; ++i)
    futures.push_back(asio::co_spawn(ctx, cmd(client, {"ECHO", "value-" + std::to_string(i)}), asio::use_future));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (futures.back().wait_for(0s) != std::future_status::ready && std::chrono::steady_clock::now() < deadline)
    ctx.run_one_for(20ms);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(futures[i].wait_for(0s), std::future_status::ready);
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->str, "value-" + std::to_string(i));
  }
}

TEST_F(RedisFixture, TimeoutThenRecovers) {
  auto o = options_for(server.port());
  o.command_timeout = 200ms;
  RedisClient client(ctx.get_executor(), o);
  client.start();
  ASSERT_TRUE(wait_connected(ctx, client));
  auto start = std::chrono::steady_clock::now();
  auto slow = run_task(ctx, cmd(client, {"DEBUG", "SLEEP", "1"}));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.error().message.find("timed out"), std::string::npos);
  EXPECT_LT(took, 900ms);
  EXPECT_FALSE(client.connected());  // a timed-out connection is dropped, not reused
  // Redis is still asleep for a while; the client keeps reconnecting until it answers again.
  Result<RedisReply> ping = Error{"not tried"};
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!ping.ok() && std::chrono::steady_clock::now() < deadline) {
    wait_connected(ctx, client, 1s);
    ping = run_task(ctx, cmd(client, {"PING"}));
  }
  ASSERT_TRUE(ping.ok()) << ping.error().message;
  EXPECT_EQ(ping->str, "PONG");
}

TEST_F(RedisFixture, ReconnectsAfterServerRestart) {
  RedisClient client(ctx.get_executor(), options_for(server.port()));
  client.start();
  ASSERT_TRUE(wait_connected(ctx, client));
  server.kill_hard();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (client.connected() && std::chrono::steady_clock::now() < deadline) ctx.run_one_for(20ms);
  EXPECT_FALSE(client.connected());
  auto down = run_task(ctx, cmd(client, {"PING"}));
  EXPECT_FALSE(down.ok());  // fails fast while disconnected
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(wait_connected(ctx, client));
  EXPECT_TRUE(run_task(ctx, cmd(client, {"PING"})).ok());
  EXPECT_GE(client.reconnects(), 1u);
}

TEST(RedisClientAuth, AuthAndSelect) {
  TempDir dir;
  RedisServer server(dir.file("redis"), 0, "s3cret-pass");
  ASSERT_TRUE(server.start());
  asio::io_context ctx;
  auto o = options_for(server.port());
  o.password = "s3cret-pass";
  o.db = 3;
  RedisClient client(ctx.get_executor(), o);
  client.start();
  ASSERT_TRUE(wait_connected(ctx, client));
  ASSERT_TRUE(run_task(ctx, cmd(client, {"SET", "in-db-3", "yes"})).ok());
  EXPECT_EQ(server.cli({"-n", "3", "GET", "in-db-3"}), "yes");
  EXPECT_EQ(server.cli({"-n", "0", "EXISTS", "in-db-3"}), "0");

  o.password = "wrong";
  RedisClient refused(ctx.get_executor(), o);
  refused.start();
  EXPECT_FALSE(wait_connected(ctx, refused, 1s));
}

TEST(RedisClientUnreachable, FailsFastAndNeverThrows) {
  asio::io_context ctx;
  RedisClient client(ctx.get_executor(), options_for(test::free_port()));
  client.start();
  EXPECT_FALSE(wait_connected(ctx, client, 300ms));
  auto r = run_task(ctx, cmd(client, {"PING"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not connected"), std::string::npos);
}

TEST(RedisCodec, WritesResp) {
  std::string out = "x";
  store::append_command(out, store::make_command("SET", "k", "", std::string("a\r\nb", 4)));
  EXPECT_EQ(out, "x*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n$4\r\na\r\nb\r\n");
}

TEST(RedisUrl, Parses) {
  auto o = parse_redis_url("redis://:pw@redis.example:6390/4");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->host, "redis.example");
  EXPECT_EQ(o->port, 6390);
  EXPECT_EQ(o->password, "pw");
  EXPECT_EQ(o->db, 4);
  auto user = parse_redis_url("redis://app:pw2@h");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->username, "app");
  EXPECT_EQ(user->password, "pw2");
  EXPECT_EQ(user->port, 6379);
  EXPECT_FALSE(parse_redis_url("http://h").ok());
  EXPECT_FALSE(parse_redis_url("redis://h/x").ok());
}

}  // namespace
}  // namespace crs::store
