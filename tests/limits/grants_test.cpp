// Grants of a key's limits (limits/grants.hpp) against a real redis-server: a grant takes at most
// half of what is free, split among the holders; exact admissions count granted slots and
// budget; what a dead holder held comes back; a given-back share is whole again; a completion
// admitted from a grant turns its share of the reservation into spending.
#include <gtest/gtest.h>

#include "limits/completion_batch.hpp"
#include "limits/grants.hpp"
#include "limits/limits.hpp"
#include "store/redis_client.hpp"
#include "store/redis_script.hpp"
#include "support/redis_fixture.hpp"

namespace crs::limits {
namespace {

using namespace std::chrono_literals;
using test::run_task;

struct GrantsTest : test::RedisFixture {
  Limits limits{0, 60s};
  keys::ApiKey key;

  void SetUp() override {
    connect();
    key.id = "key-g";
  }
  int64_t now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  store::RedisReply run(const ScriptCall& call) {
    auto reply = run_task(ctx, store::run_script(*redis, *call.script, call.command));
    EXPECT_TRUE(reply.ok()) << reply.error().message;
    return reply.ok() ? *reply : store::RedisReply{};
  }
  Granted grant(const std::string& holder, Shares want, Shares least = {1, 1, 1, 1}, Shares back = {},
                int64_t generation = 1) {
    auto g = parse_granted(run(grant_call(limits, key, holder, generation, want, least, back, now())));
    EXPECT_TRUE(g.ok) << g.error;
    return g;
  }
  Decision admit(const std::string& lease, int64_t cost = 0) {
    return limits.decide(key, run(limits.admission(key, lease, now(), cost, 0)), now());
  }
  std::string counter(const std::string& field) { return server.cli({"HGET", Limits::counters_key(key.id), field}); }
};

TEST_F(GrantsTest, AGrantTakesAtMostHalfOfWhatIsFreeSplitAmongHolders) {
  key.limits.concurrency = 40;
  EXPECT_EQ(grant("a", {100}).added.slots, 20) << "half of 40, one holder";
  EXPECT_EQ(grant("b", {100}).added.slots, 5) << "half of the 20 left, split between two";
  EXPECT_EQ(counter("grantSlots"), "25");
  EXPECT_EQ(counter("grants"), "2");
  // Exact admissions get what is left: 15 slots.
  for (int i = 0; i < 15; ++i) EXPECT_TRUE(admit("lease-" + std::to_string(i)).admitted) << i;
  auto refused = admit("lease-15");
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.limit, "concurrency");
  EXPECT_TRUE(grant("c", {8}).tight) << "nothing free: no grant, the holder admits exactly";
}

TEST_F(GrantsTest, AHolderAskingAgainAndAgainGetsNoMoreThanItsFairPart) {
  key.limits.concurrency = 40;
  EXPECT_EQ(grant("a", {100}).added.slots, 20);
  auto again = grant("a", {100});
  EXPECT_TRUE(again.tight) << "(free 20 + held 20) / 2 = 20: it holds its part already";
  EXPECT_EQ(again.added.slots, 0);
  EXPECT_EQ(counter("grantSlots"), "20");
}

TEST_F(GrantsTest, AShareRedisLostIsToldToItsHolder) {
  key.limits.concurrency = 100;
  auto first = grant("a", {10});
  EXPECT_FALSE(first.known) << "a new share";
  EXPECT_TRUE(grant("a", {10}).known);
  server.cli({"HDEL", granted_key(key.id), "a"});  // lost (a failover, a tidy while it was away)
  EXPECT_FALSE(grant("a", {10}).known);
}

TEST_F(GrantsTest, AChargeOfAnEarlierLifeOfAShareTakesNothingFromALaterOne) {
  key.limits.total_cost_micro = 1'000'000;
  grant("a", {0, 0, 100'000, 0}, {0, 0, 1, 0}, {}, 1);
  grant("a", {}, {}, {kAll, kAll, kAll, kAll}, 1);  // given back whole, a charge still unsent
  grant("a", {0, 0, 100'000, 0}, {0, 0, 1, 0}, {}, 2);
  EXPECT_EQ(counter("resCost"), "100000");
  Completion late{key.id, "G:a#1", 30'000, 0, limits.day_label(now()), limits.week_label(key, now()), "event"};
  EXPECT_EQ(run(batch_call(BatchId{"t", 1}, {late})).str, "ok");
  EXPECT_EQ(counter("totalCost"), "30000") << "charged";
  EXPECT_EQ(counter("resCost"), "100000") << "the new share untouched";
  Completion now_one{key.id, "G:a#2", 10'000, 0, limits.day_label(now()), limits.week_label(key, now()), "event"};
  EXPECT_EQ(run(batch_call(BatchId{"t", 2}, {now_one})).str, "ok");
  EXPECT_EQ(counter("resCost"), "90000");
}

TEST_F(GrantsTest, AGivenBackShareIsWholeAgainAndADeadHoldersShareComesBack) {
  key.limits.concurrency = 100;
  key.limits.total_cost_micro = 1'000'000;
  auto g = grant("a", {10, 0, 200'000, 0});
  EXPECT_EQ(g.added.slots, 10);
  EXPECT_EQ(g.added.cost_micro, 200'000);
  EXPECT_EQ(counter("resCost"), "200000");
  grant("a", {}, {}, {kAll, kAll, kAll, kAll});
  EXPECT_EQ(counter("resCost"), "0");
  EXPECT_EQ(counter("grantSlots"), "0");
  EXPECT_EQ(server.cli({"ZCARD", grants_key(key.id)}), "0");

  Limits short_lived{0, 1s};
  auto dying =
      parse_granted(run(grant_call(short_lived, key, "dies", 1, {10, 0, 300'000, 0}, {1, 0, 1, 0}, {}, now())));
  EXPECT_EQ(dying.added.cost_micro, 300'000);
  EXPECT_EQ(counter("resCost"), "300000");
  ASSERT_TRUE(test::wait_until([&] {
    admit("");  // the next admission tidies what expired
    return counter("resCost") == "0";
  }, 5s, 200ms)) << "the dead holder's reservation comes back";
  EXPECT_EQ(counter("grantSlots"), "0");
}

TEST_F(GrantsTest, ACompletionFromAGrantTurnsItsShareIntoSpending) {
  key.limits.total_cost_micro = 1'000'000;
  auto g = grant("a", {0, 0, 100'000, 0});
  ASSERT_EQ(g.added.cost_micro, 100'000);
  Completion c{key.id, "G:a#1", 30'000, 12, limits.day_label(now()), limits.week_label(key, now()), "event"};
  auto reply = run(batch_call(BatchId{"t", 1}, {c, c}));
  EXPECT_EQ(reply.str, "ok");
  EXPECT_EQ(counter("totalCost"), "60000");
  EXPECT_EQ(counter("resCost"), "40000") << "the 60,000 spent no longer reserved";
  EXPECT_EQ(server.cli({"HGET", granted_key(key.id), "a"}), "0|0|0|40000|0|1");
  // Spending beyond the share takes what is left of it, never more.
  Completion big{key.id, "G:a#1", 70'000, 0, limits.day_label(now()), limits.week_label(key, now()), "event"};
  EXPECT_EQ(run(batch_call(BatchId{"t", 2}, {big})).str, "ok");
  EXPECT_EQ(counter("totalCost"), "130000");
  EXPECT_EQ(counter("resCost"), "0");
}

TEST_F(GrantsTest, GrantedRequestsCountInTheirWindowAndAreSpentWhenItEnds) {
  key.limits.rate_window_minutes = 1;
  key.limits.rate_requests = 1000;
  auto g = grant("a", {0, 300});
  EXPECT_EQ(g.added.requests, 300);
  EXPECT_GT(g.window_end_ms, g.now_ms);
  EXPECT_EQ(counter("winRequests"), "300");
  grant("a", {}, {}, {0, 100});
  EXPECT_EQ(counter("winRequests"), "200") << "requests given back in the same window are free again";
  // The window ends: the next grant starts a new one, and what was granted before counts no more.
  server.cli({"HSET", Limits::counters_key(key.id), "winStart", std::to_string(now() - 61'000)});
  auto next = grant("a", {0, 10});
  EXPECT_NE(next.window_start_ms, g.window_start_ms);
  EXPECT_EQ(counter("winRequests"), "10");
}

// A holder giving back after its window ended (perhaps with the key's old limits) opens no new
// window: the key's next request or grant does, with its own start.
TEST_F(GrantsTest, AGiveBackOpensNoWindow) {
  key.limits.rate_window_minutes = 1;
  key.limits.rate_requests = 1000;
  grant("a", {0, 300});
  std::string ended = std::to_string(now() - 61'000);
  server.cli({"HSET", Limits::counters_key(key.id), "winStart", ended});
  grant("a", {}, {}, {kAll, kAll, kAll, kAll});
  EXPECT_EQ(counter("winStart"), ended);
  EXPECT_EQ(server.cli({"ZCARD", grants_key(key.id)}), "0");
  EXPECT_TRUE(admit("lease-1").admitted);
  EXPECT_NE(counter("winStart"), ended) << "the request starts the next window";
  EXPECT_EQ(counter("winRequests"), "1");
}

}  // namespace
}  // namespace crs::limits
