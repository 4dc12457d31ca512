// The usage aggregator against a real redis-server: folding, trimming the stream, and taking
// over the events of an instance that died, without losing or double-counting one.
#include <gtest/gtest.h>

#include <thread>

#include "support/support.hpp"
#include "usage/aggregator.hpp"

namespace crs::usage {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::TempDir;

UsageEvent make_event(int n, std::string key, std::string account, std::string model) {
  UsageEvent e;
  e.timestamp_ms = 1764115200000 + n;
  e.key_id = std::move(key);
  e.account_id = std::move(account);
  e.model = std::move(model);
  e.usage.input_tokens = 10;
  e.usage.output_tokens = 1;
  e.cost_micro = 5;
  e.request_id = std::to_string(n);
  return e;
}

std::string event_line(int n) { return make_event(n, "k1", "a1", "m").to_wire(); }

int folded_requests(RedisServer& redis) {
  std::string v = redis.cli({"HGET", "usage:k1", "totalRequests"});
  return v.empty() ? 0 : std::stoi(v);
}

// An aggregator folding at once, to which a dead instance's events are not stale yet.
AggregatorOptions live_options() {
  AggregatorOptions live;
  live.consumer = "live";
  live.gather = 10ms;
  live.claim_after = std::chrono::minutes(10);
  return live;
}

// Runs an aggregator on its own io_context until `done` holds or the time is up.
bool run_until(RedisServer& redis, AggregatorOptions options, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = 10s) {
  asio::io_context ctx;
  store::RedisOptions ro;
  ro.port = redis.port();
  UsageAggregator aggregator(ctx.get_executor(), ro, options);
  aggregator.start();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ok = false;
  while (std::chrono::steady_clock::now() < deadline) {
    ctx.run_for(50ms);
    if ((ok = done())) break;
  }
  aggregator.stop();
  ctx.run_for(100ms);
  return ok;
}

TEST(UsageAggregator, FoldsTrimsAndTakesOverWhatADeadInstanceLeft) {
  TempDir dir;
  RedisServer redis(dir.file("redis"));
  ASSERT_TRUE(redis.start());
  redis.cli({"XGROUP", "CREATE", "usage:events", "usage-folders", "0", "MKSTREAM"});
  for (int i = 0; i < 3; ++i) redis.cli({"XADD", "usage:events", "*", "u", event_line(i)});
  // An instance reads two events and dies before folding them.
  redis.cli({"XREADGROUP", "GROUP", "usage-folders", "ghost", "COUNT", "2", "STREAMS", "usage:events", ">"});
  for (int i = 3; i < 5; ++i) redis.cli({"XADD", "usage:events", "*", "u", event_line(i)});
  auto requests = [&] { return folded_requests(redis); };
  AggregatorOptions live = live_options();  // the ghost's events are not stale yet
  ASSERT_TRUE(run_until(redis, live, [&] { return requests() == 3; })) << requests();
  // The ghost's two pending events must survive the trimming; the three folded ones are gone.
  EXPECT_EQ(redis.cli({"XLEN", "usage:events"}), "2");
  EXPECT_EQ(redis.cli({"HGET", "usage:k1", "totalInputTokens"}), "30");

  // Once they are stale, another instance takes them over: every event counted exactly once.
  live.claim_after = 200ms;
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(run_until(redis, live, [&] { return requests() == 5; })) << requests();
  EXPECT_EQ(redis.cli({"HGET", "usage:k1", "totalInputTokens"}), "50");
  EXPECT_EQ(redis.cli({"HGET", "usage:k1", "totalCostMicro"}), "25");
  EXPECT_TRUE(run_until(redis, live, [&] { return redis.cli({"XLEN", "usage:events"}) == "0"; }, 3s));
  EXPECT_EQ(requests(), 5);
}

// A completion batch appends its events as one entry of usage:batches (their lines joined by
// '\n'); single events and earlier versions still write usage:events. Both are folded, an entry
// held by a dead instance is taken over whole, a line that is not an event is skipped, and an
// entry without one is dropped.
TEST(UsageAggregator, FoldsBatchEntriesBesideSingleEventsAndTakesThemOver) {
  TempDir dir;
  RedisServer redis(dir.file("redis"));
  ASSERT_TRUE(redis.start());
  redis.cli({"XGROUP", "CREATE", "usage:batches", "usage-folders", "0", "MKSTREAM"});
  redis.cli({"XADD", "usage:batches", "*", "b", event_line(0) + "\n" + event_line(1) + "\n" + event_line(2)});
  // An instance reads the first batch and dies before folding it.
  redis.cli({"XREADGROUP", "GROUP", "usage-folders", "ghost", "COUNT", "1", "STREAMS", "usage:batches", ">"});
  redis.cli({"XADD", "usage:batches", "*", "b", "not an event"});
  redis.cli({"XADD", "usage:batches", "*", "b", event_line(3) + "\nnot an event\n" + event_line(4)});
  redis.cli({"XADD", "usage:events", "*", "u", event_line(5)});
  auto requests = [&] { return folded_requests(redis); };
  AggregatorOptions live = live_options();
  live.events_per_fold = 1;  // one call per entry: an entry is never split between two calls
  ASSERT_TRUE(run_until(redis, live, [&] { return requests() == 3; })) << requests();
  EXPECT_EQ(redis.cli({"XLEN", "usage:batches"}), "1") << "only the dead instance's entry is left";
  EXPECT_EQ(redis.cli({"XLEN", "usage:events"}), "0");
  EXPECT_EQ(redis.cli({"HGET", "usage:k1", "totalInputTokens"}), "30");

  live.claim_after = 200ms;
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(run_until(redis, live, [&] { return requests() == 6; })) << requests();
  EXPECT_TRUE(run_until(redis, live, [&] { return redis.cli({"XLEN", "usage:batches"}) == "0"; }, 3s));
  EXPECT_EQ(requests(), 6);
  EXPECT_EQ(redis.cli({"HGET", "usage:k1", "totalInputTokens"}), "60");
  EXPECT_EQ(redis.cli({"HGET", "usage:k1", "totalCostMicro"}), "30");
}

// A dead instance may hold more entries than one call takes over: one takeover pass follows
// XAUTOCLAIM's cursor to the end (the next pass would come claim_after / 2 later), and every
// event is still counted once.
TEST(UsageAggregator, TakesOverMoreEntriesThanOneCallHoldsInOnePass) {
  TempDir dir;
  RedisServer redis(dir.file("redis"));
  ASSERT_TRUE(redis.start());
  redis.cli({"XGROUP", "CREATE", "usage:batches", "usage-folders", "0", "MKSTREAM"});
  for (int i = 0; i < 7; ++i)
    redis.cli({"XADD", "usage:batches", "*", "b", event_line(2 * i) + "\n" + event_line(2 * i + 1)});
  redis.cli({"XREADGROUP", "GROUP", "usage-folders", "ghost", "COUNT", "7", "STREAMS", "usage:batches", ">"});
  AggregatorOptions live = live_options();
  live.batch = 2;
  live.claim_after = 5s;  // passes 2.5 s apart: a pass of 2 entries would need four of them
  std::this_thread::sleep_for(5100ms);
  ASSERT_TRUE(run_until(redis, live, [&] { return folded_requests(redis) == 14; }, 2300ms))
      << folded_requests(redis) << " of 14 events taken over in the first pass";
  EXPECT_TRUE(run_until(redis, live, [&] { return redis.cli({"XLEN", "usage:batches"}) == "0"; }, 3s));
  EXPECT_EQ(folded_requests(redis), 14);
  EXPECT_EQ(redis.cli({"HGET", "usage:k1", "totalInputTokens"}), "140");
}

TEST(UsageAggregator, FoldsEventsOfThePreviousFieldPairFormat) {
  TempDir dir;
  RedisServer redis(dir.file("redis"));
  ASSERT_TRUE(redis.start());
  redis.cli({"XADD", "usage:events", "*", "ts", "1764115200000", "key", "old", "account", "a1", "model", "m", "in",
             "7", "out", "3", "cc", "0", "cr", "0", "cc5m", "0", "cc1h", "0", "cost", "11", "status", "200", "stream",
             "0", "partial", "0", "ms", "5", "rid", "r", "ep", "/v1/messages"});
  AggregatorOptions o;
  o.consumer = "live";
  o.gather = 10ms;
  ASSERT_TRUE(run_until(redis, o, [&] { return redis.cli({"HGET", "usage:old", "totalRequests"}) == "1"; }));
  EXPECT_EQ(redis.cli({"HGET", "usage:old", "totalInputTokens"}), "7");
  EXPECT_EQ(redis.cli({"HGET", "usage:old", "totalCostMicro"}), "11");
}

}  // namespace
}  // namespace crs::usage
