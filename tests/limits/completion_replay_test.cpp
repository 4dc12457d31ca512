// A completion whose reply was lost is spooled and replayed (usage/spool.hpp). The replay must
// apply it exactly once: not at all when the first attempt had reached Redis (say, replicated
// before a failover), once when it had not, whether or not the key holds a lease.
#include <gtest/gtest.h>

#include "limits/limits.hpp"
#include "store/redis_client.hpp"
#include "store/redis_script.hpp"
#include "support/redis_fixture.hpp"

namespace crs::limits {
namespace {

using namespace std::chrono_literals;
using test::run_task;

struct CompletionReplay : test::RedisFixture {
  Limits limits{0, 60s};
  keys::ApiKey key;

  void SetUp() override {
    connect();
    key.id = "key-1";
  }

  usage::UsageEvent event(const std::string& request_id) {
    usage::UsageEvent e;
    e.timestamp_ms = 1'764'000'000'000;
    e.key_id = key.id;
    e.model = "claude-sonnet-4-5-20250929";
    e.usage.input_tokens = 10;
    e.usage.output_tokens = 5;
    e.cost_micro = 123;
    e.status = 200;
    e.request_id = request_id;
    return e;
  }

  store::RedisReply run(store::RedisCommand command) {
    auto reply = run_task(ctx, redis->command(std::move(command)));
    EXPECT_TRUE(reply.ok()) << reply.error().message;
    return reply.ok() ? *reply : store::RedisReply{};
  }
  // The first attempt, as the relay sends it (EVALSHA, its source on NOSCRIPT).
  void apply(const ScriptCall& call) {
    auto reply = run_task(ctx, store::run_script(*redis, *call.script, call.command));
    ASSERT_TRUE(reply.ok() && !reply->is_error()) << (reply.ok() ? reply->str : reply.error().message);
  }
  std::string replay(const ScriptCall& call, const std::string& request_id, bool ambiguous) {
    return run(Limits::replay_form(usage::SpoolEntry{true, ambiguous, request_id, call.command})).str;
  }
  std::string cli(const std::vector<std::string>& args) { return server.cli(args); }
  int64_t events() { return std::stoll(cli({"XLEN", "usage:events"})); }
  std::string total_tokens() { return cli({"HGET", Limits::counters_key(key.id), "totalTokens"}); }
};

TEST_F(CompletionReplay, ALeaselessCompletionThatHadBeenAppliedIsNotAppliedAgain) {
  auto call = limits.completion(key, "", event("req-a"));
  apply(call);
  EXPECT_EQ(replay(call, "req-a", true), "applied");
  EXPECT_EQ(events(), 1);
  EXPECT_EQ(total_tokens(), "15");
}

TEST_F(CompletionReplay, ALeaselessCompletionThatHadNotReachedRedisIsAppliedOnce) {
  auto applied = limits.completion(key, "", event("req-a"));
  auto lost = limits.completion(key, "", event("req-b"));
  apply(applied);  // its neighbour's bit must not stand for it
  EXPECT_NE(replay(lost, "req-b", true), "applied");
  EXPECT_EQ(replay(lost, "req-b", true), "duplicate");
  EXPECT_EQ(events(), 2);
  EXPECT_EQ(total_tokens(), "30");
}

// Redis stalled past the client's timeout with the first attempt still in its queue: the
// replay goes first by another connection, then the first attempt runs. Counted once.
TEST_F(CompletionReplay, AFirstAttemptRunningAfterItsReplayIsNotCountedAgain) {
  auto call = limits.completion(key, "", event("req-a"));
  EXPECT_NE(replay(call, "req-a", true), "applied");
  auto late = run_task(ctx, store::run_script(*redis, *call.script, call.command));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->str, "applied");
  EXPECT_EQ(events(), 1);
  EXPECT_EQ(total_tokens(), "15");
}

TEST_F(CompletionReplay, AnUnambiguousReplayIsAppliedOnce) {
  auto call = limits.completion(key, "", event("req-a"));
  EXPECT_NE(replay(call, "req-a", false), "applied");
  EXPECT_EQ(replay(call, "req-a", false), "duplicate");
  EXPECT_EQ(events(), 1);
}

// A replay whose first attempt was applied after all, though it looked refused before sending:
// the bit still keeps it from counting twice.
TEST_F(CompletionReplay, AReplayWronglyThoughtUnambiguousIsStillCountedOnce) {
  auto call = limits.completion(key, "", event("req-a"));
  apply(call);
  EXPECT_EQ(replay(call, "req-a", false), "applied");
  EXPECT_EQ(events(), 1);
}

TEST_F(CompletionReplay, ACompletionWhoseLeaseExpiredMeanwhileIsStillCharged) {
  // The lease was reaped (its instance was slow to replay): only the bit can tell.
  auto lease = Limits::lease_member("lease-1", 0, 0);
  auto call = limits.completion(key, lease, event("req-a"));
  EXPECT_NE(replay(call, "req-a", true), "applied");
  EXPECT_EQ(total_tokens(), "15");
}

TEST_F(CompletionReplay, BitsOfTwoInstancesAreApart) {
  Limits other{0, 60s};
  auto mine = limits.completion(key, "", event("req-a"));
  auto theirs = other.completion(key, "", event("req-b"));
  apply(theirs);  // the same bit number in another instance's bitmap
  EXPECT_NE(replay(mine, "req-a", true), "applied");
  EXPECT_EQ(events(), 2);
}

TEST_F(CompletionReplay, ACompletionSpooledByAVersionWithoutBitsIsStillReplayed) {
  // EVALSHA <sha> 3 <counters> <leases> <stream> <7 args>: the form spooled before bits.
  auto call = limits.completion(key, "", event("req-a"));
  store::RedisCommand old(call.command.begin(), call.command.end());
  old[2] = "3";
  old.erase(old.begin() + 6);  // the bitmap key
  old.pop_back();              // the bit
  ASSERT_EQ(old.size(), 13u);
  EXPECT_NE(replay(ScriptCall{call.script, old}, "req-a", false), "applied");
  EXPECT_EQ(events(), 1);
  EXPECT_EQ(total_tokens(), "15");
}

}  // namespace
}  // namespace crs::limits
