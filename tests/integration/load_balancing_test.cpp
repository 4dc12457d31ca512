// The load balancer with two `crs serve` instances on one Redis and several accounts of the fake
// upstream: caps held across instances, waiting for a slot, sticky sessions, strategies switched
// at runtime, group bindings, model lists and mappings, the status views.
#include <csignal>
#include <future>
#include <map>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "integration/two_instances.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

class LoadBalancingTest : public TwoInstances {};

// Sticky sessions hold for OpenAI clients too: their `user` is the session.
class StickyForBothApis : public TwoInstances, public ::testing::WithParamInterface<ClientApi> {
 protected:
  StickyForBothApis() { api = GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Api, StickyForBothApis, ::testing::Values(ClientApi::Messages, ClientApi::Chat), api_name);

TEST_F(LoadBalancingTest, ACapHoldsAcrossInstancesAndTheExtraRequestsWaitForASlot) {
  start("[loadBalancing]\nselectionTimeout = 30000\n");
  std::string capped = add_account("capped", {"--max-concurrency", "2"});
  make_key();
  ASSERT_TRUE(fake.script("*", R"({"latencyMs":150,"deltas":3})"));
  std::vector<std::future<HttpResponse>> results;
  for (int i = 0; i < 20; ++i)
    results.push_back(std::async(std::launch::async, [this, i] { return post(i, body(true)); }));
  for (auto& f : results) {
    auto r = f.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("event: message_stop"), std::string::npos);
  }
  auto counts = by_credential("capped");
  EXPECT_EQ(counts["total"].as_int64(), 20);
  EXPECT_LE(counts["maxInFlight"].as_int64(), 2);
  EXPECT_EQ(counts["maxInFlight"].as_int64(), 2);  // and the cap was used
  // Every lease was given back.
  EXPECT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "load_balance:{lb}:leases:" + capped}) == "0"; }));
}

TEST_F(LoadBalancingTest, PastTheSelectionTimeoutTheAnswerIs529AndAWaiterThatHangsUpLeavesNoSlot) {
  start("[loadBalancing]\nselectionTimeout = 400\n");
  std::string id = add_account("single", {"--max-concurrency", "1"});
  make_key();
  ASSERT_TRUE(fake.script("*", R"({"latencyMs":2500})", 1));
  auto holder = std::async(std::launch::async, [this] { return post(0, body(false)); });
  ASSERT_TRUE(wait_until([&] { return by_credential("single")["inFlight"].as_int64() == 1; }));
  auto refused = post(1, body(false));
  EXPECT_EQ(refused.status, 529) << refused.body;
  EXPECT_NE(refused.body.find("overloaded_error"), std::string::npos);
  EXPECT_NE(refused.body.find("concurrency cap"), std::string::npos);
  {
    // A waiter that hangs up at once.
    RawConnection c(relays[0]->port());
    ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                       "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body(false).size()) +
                       "\r\n\r\n" + body(false)));
    std::this_thread::sleep_for(50ms);  // let it join the queue, then go
  }
  EXPECT_EQ(holder.get().status, 200);
  // The slot is free at once for the next request, and no lease is left behind.
  EXPECT_EQ(post(1, body(false)).status, 200);
  EXPECT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "load_balance:{lb}:leases:" + id}) == "0"; }));
  EXPECT_EQ(by_credential("single")["maxInFlight"].as_int64(), 1);
}

TEST_F(LoadBalancingTest, WithMaxWaitingZeroAFullPoolAnswers529AtOnce) {
  start("[loadBalancing]\nselectionTimeout = 30000\nmaxWaiting = 0\n");
  add_account("single", {"--max-concurrency", "1"});
  make_key();
  ASSERT_TRUE(fake.script("*", R"({"latencyMs":4000})", 1));
  auto holder = std::async(std::launch::async, [this] { return post(0, body(false)); });
  ASSERT_TRUE(wait_until([&] { return by_credential("single")["inFlight"].as_int64() == 1; }));
  auto started = std::chrono::steady_clock::now();
  auto refused = post(0, body(false));
  EXPECT_EQ(refused.status, 529) << refused.body;
  // No wait: the queue holds nobody (selectionTimeout would have kept it 30 s).
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  EXPECT_EQ(holder.get().status, 200);
}

// The slot of an answered request is free before the client sees the answer's end: a client
// that sends its next request at once never finds its own previous lease (whole and streamed).
TEST_F(LoadBalancingTest, ASequentialClientOnACapOfOneIsNeverRefused) {
  start("[loadBalancing]\nmaxWaiting = 0\n");
  add_account("single", {"--max-concurrency", "1"});
  make_key();
  for (int i = 0; i < 40; ++i) {
    auto r = post(0, body(i % 2 == 1));
    ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.body;
  }
}

TEST_F(LoadBalancingTest, AnAccountPastPauseAtUtilizationIsTheLastResort) {
  start("[loadBalancing]\ndefaultStrategy = \"lowest_cost\"\nstickyTtl = 0\npauseAtUtilization = 0.9\n");
  add_account("cheap", {"--cost-factor", "0.1"});
  add_account("pricey", {"--cost-factor", "1"});
  make_key();
  ASSERT_EQ(post(0, body(false)).status, 200);
  EXPECT_EQ(credentials_seen().back(), credential("cheap"));
  // The upstream says the cheap account's week is 95% used: both instances stop before its 429.
  ASSERT_TRUE(fake.script(credential("cheap"), R"({"utilization5h":"0.40","utilization7d":"0.95"})", 1));
  ASSERT_EQ(post(0, body(false)).status, 200);
  for (size_t instance : {0u, 1u}) {
    ASSERT_TRUE(wait_until([&] {
      return post(instance, body(false)).status == 200 && credentials_seen().back() == credential("pricey");
    })) << instance;
  }
  auto status = json::parse(relays[0]->cli({"load-balance", "status", "--json"}).out).as_object();
  bool paused_seen = false;
  for (const auto& v : status["accounts"].as_array())
    if (v.as_object().at("name").as_string() == "cheap") {
      paused_seen = v.as_object().at("paused").as_bool();
      EXPECT_DOUBLE_EQ(v.as_object().at("utilization7d").as_double(), 0.95);
    }
  EXPECT_TRUE(paused_seen);
  // With the other account out, the paused one still serves (a last resort, not a ban).
  auto accounts = json::parse(relays[0]->cli({"accounts", "list", "--json"}).out).as_array();
  for (const auto& v : accounts) {
    if (v.as_object().at("name").as_string() != "pricey") continue;
    ASSERT_EQ(relays[0]->cli({"accounts", "disable", std::string(v.as_object().at("id").as_string())}).exit_code, 0);
  }
  ASSERT_TRUE(wait_until([&] {
    return post(0, body(false)).status == 200 && credentials_seen().back() == credential("cheap");
  }));
}

TEST_F(LoadBalancingTest, WithLoadBalancingOffAccountsGoByPriority) {
  start("[loadBalancing]\nenabled = false\ndefaultStrategy = \"least_recent\"\n");
  add_account("first", {"--priority", "10"});
  add_account("second", {"--priority", "20"});
  make_key();
  for (int i = 0; i < 6; ++i) ASSERT_EQ(post(i, body(false, "claude-sonnet-4-5-20250929", session_user(std::to_string(i)))).status, 200);
  for (const auto& c : credentials_seen()) EXPECT_EQ(c, credential("first"));
  auto refused = relays[0]->cli({"load-balance", "set-strategy", "least_used"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("loadBalancing.enabled is false"), std::string::npos);
  auto status = json::parse(relays[0]->cli({"load-balance", "status", "--json"}).out).as_object();
  EXPECT_EQ(status["strategy"].as_object()["global"].as_string(), "priority");
}

TEST_P(StickyForBothApis, AStickySessionKeepsItsAccountAcrossInstancesAndMovesWhenRateLimitedOrSlow) {
  start("[loadBalancing]\ndefaultStrategy = \"least_recent\"\nstickyMaxTtfb = 300\n[logging.loadBalancing]\nlevel = \"debug\"\n");
  for (auto name : {"a", "b", "c"}) add_account(name);
  make_key();
  std::string user = session_user("0f0e0d0c-1111-2222-3333-444444444444");
  for (int i = 0; i < 50; ++i) ASSERT_EQ(post(i, request(i % 2 == 0, "claude-sonnet-4-5-20250929", user)).status, 200);
  auto seen = credentials_seen();
  ASSERT_EQ(seen.size(), 50u);
  for (const auto& c : seen) EXPECT_EQ(c, seen.front());
  // Another conversation is not glued to it (least_recent moves on).
  ASSERT_EQ(post(0, request(false, "claude-sonnet-4-5-20250929", session_user("other"))).status, 200);
  EXPECT_NE(credentials_seen().back(), seen.front());

  // Rate-limited: the session moves, and the move is logged.
  std::string held = seen.front();
  ASSERT_TRUE(fake.script(held, R"({"status":429,"retryAfter":120})", 1));
  ASSERT_EQ(post(1, request(false, "claude-sonnet-4-5-20250929", user)).status, 200);
  std::string moved_to = credentials_seen().back();
  EXPECT_NE(moved_to, held);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(post(i, request(false, "claude-sonnet-4-5-20250929", user)).status, 200);
  EXPECT_EQ(credentials_seen().back(), moved_to);
  auto logged = [&](const std::string& what) {
    return wait_until([&] {
      std::string logs = read_file(dir_a.file("logs/load-balancing.log")) + read_file(dir_b.file("logs/load-balancing.log"));
      return logs.find("sticky session") != std::string::npos && logs.find(what) != std::string::npos;
    }, 5s);
  };
  EXPECT_TRUE(logged("not_a_candidate"));

  // Slow (time to first byte over stickyMaxTtfb on the last requests): it moves again.
  ASSERT_TRUE(fake.script(moved_to, R"({"latencyMs":450})", 3));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post(0, request(false, "claude-sonnet-4-5-20250929", user)).status, 200);
  ASSERT_EQ(post(0, request(false, "claude-sonnet-4-5-20250929", user)).status, 200);
  EXPECT_NE(credentials_seen().back(), moved_to);
  EXPECT_TRUE(logged("slow_or_paused"));
}

TEST_F(LoadBalancingTest, AStickySessionMovesWhenItsAccountIsFull) {
  start("[loadBalancing]\ndefaultStrategy = \"least_recent\"\nselectionTimeout = 200\n");
  add_account("a", {"--max-concurrency", "1"});
  add_account("b", {"--max-concurrency", "1"});
  make_key();
  std::string user = session_user("77777777-1111-2222-3333-444444444444");
  ASSERT_EQ(post(0, body(false, "claude-sonnet-4-5-20250929", user)).status, 200);
  std::string held = credentials_seen().back();
  ASSERT_TRUE(fake.script(held, R"({"latencyMs":1500})", 1));
  auto holder = std::async(std::launch::async, [&] { return post(0, body(false, "claude-sonnet-4-5-20250929", user)); });
  ASSERT_TRUE(wait_until([&] { return credentials_seen().size() == 2; }));
  // The same conversation while its account is at its cap: served elsewhere, not made to wait.
  ASSERT_EQ(post(1, body(false, "claude-sonnet-4-5-20250929", user)).status, 200);
  EXPECT_NE(credentials_seen().back(), held);
  EXPECT_EQ(holder.get().status, 200);
  EXPECT_TRUE(wait_until([&] {
    std::string logs = read_file(dir_a.file("logs/load-balancing.log")) + read_file(dir_b.file("logs/load-balancing.log"));
    return logs.find("sticky session") != std::string::npos && logs.find(": full") != std::string::npos;
  }, 5s));
}

TEST_F(LoadBalancingTest, LeastUsedEvensTokensAcrossAccounts) {
  start("[loadBalancing]\ndefaultStrategy = \"least_used\"\nstickyTtl = 0\n");
  for (auto name : {"a", "b", "c"}) add_account(name);
  make_key();
  // Answers of 30 to 600 output tokens, varying by request.
  for (int n : {10, 200, 35, 120, 64}) ASSERT_TRUE(fake.script("*", R"({"deltas":)" + std::to_string(n) + "}", 200));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(post(0, body(false)).status, 200) << i;
  std::map<std::string, int64_t> tokens;
  for (const auto& r : recorded()) {
    const auto& o = r.as_object();
    const auto& u = o.at("usage").as_object();
    tokens[std::string(o.at("credential").as_string())] += u.at("input_tokens").as_int64() + u.at("output_tokens").as_int64();
  }
  ASSERT_EQ(tokens.size(), 3u);
  int64_t lo = INT64_MAX, hi = 0;
  for (auto& [c, t] : tokens) {
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  }
  EXPECT_LE(static_cast<double>(hi - lo), 0.10 * static_cast<double>(hi)) << lo << " .. " << hi;
}

TEST_F(LoadBalancingTest, BalancedPrefersTheCheapFastAccountAndLeavesItWhenItSlows) {
  start("[loadBalancing]\ndefaultStrategy = \"balanced\"\nstickyTtl = 0\n"
        "[loadBalancing.healthCheck]\nresponseTimeThreshold = 400\n"
        "[loadBalancing.algorithmWeights]\ncostPriority = 0.3\nperformance = 0.5\nloadBalance = 0.1\nreliability = 0.1\n");
  add_account("cheap", {"--cost-factor", "0.2"});
  add_account("pricey", {"--cost-factor", "1"});
  make_key();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(post(0, body(false)).status, 200);
  EXPECT_GE(by_credential("cheap")["total"].as_int64(), 9);
  // Its time to first byte rises past responseTimeThreshold: the requests shift away.
  ASSERT_TRUE(fake.script(credential("cheap"), R"({"latencyMs":600})"));
  ASSERT_TRUE(wait_until([&] {
    return post(0, body(false)).status == 200 && credentials_seen().back() == credential("pricey");
  }, 20s));
  reset_fake();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(post(0, body(false)).status, 200);
  EXPECT_EQ(by_credential("pricey")["total"].as_int64(), 5);
}

TEST_F(LoadBalancingTest, LeastRecentRotatesStrictlyAcrossBothInstances) {
  start("[loadBalancing]\ndefaultStrategy = \"least_recent\"\nstickyTtl = 0\n");
  for (auto name : {"a", "b", "c"}) add_account(name);
  make_key();
  for (int i = 0; i < 12; ++i) ASSERT_EQ(post(i, body(false)).status, 200);
  auto seen = credentials_seen();
  ASSERT_EQ(seen.size(), 12u);
  for (size_t i = 3; i < seen.size(); ++i) EXPECT_EQ(seen[i], seen[i - 3]) << i;
  std::set<std::string> first_three(seen.begin(), seen.begin() + 3);
  EXPECT_EQ(first_three.size(), 3u);
}

TEST_F(LoadBalancingTest, AStrategySwitchedByTheCliTakesEffectOnBothInstances) {
  start("[loadBalancing]\ndefaultStrategy = \"least_recent\"\nstickyTtl = 0\n");
  add_account("pricey", {"--cost-factor", "1"});
  add_account("cheap", {"--cost-factor", "0.1"});
  make_key();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(post(i, body(false)).status, 200);
  EXPECT_EQ(by_credential("pricey")["total"].as_int64(), 2);  // rotating
  auto set = relays[1]->cli({"load-balance", "set-strategy", "lowest_cost"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(relays[1]->cli({"load-balance", "set-strategy", "fastest"}).exit_code, 1);
  // Announced at once (pub/sub), read again every second anyway: within 2 s on an idle machine;
  // the test allows more for a busy one.
  for (size_t instance : {0u, 1u}) {
    ASSERT_TRUE(wait_until([&] {
      reset_fake();
      return post(instance, body(false)).status == 200 && credentials_seen().back() == credential("cheap") &&
             post(instance, body(false)).status == 200 && credentials_seen().back() == credential("cheap");
    }, 5s)) << "instance " << instance;
  }
  auto status = json::parse(relays[0]->cli({"load-balance", "status", "--json"}).out).as_object();
  EXPECT_EQ(status["strategy"].as_object()["global"].as_string(), "lowest_cost");
  EXPECT_TRUE(status["strategy"].as_object()["setAtRuntime"].as_bool());
  // Cleared: the configured default is back.
  ASSERT_EQ(relays[0]->cli({"load-balance", "clear-strategy"}).exit_code, 0);
  status = json::parse(relays[0]->cli({"load-balance", "status", "--json"}).out).as_object();
  EXPECT_EQ(status["strategy"].as_object()["global"].as_string(), "least_recent");
}

TEST_F(LoadBalancingTest, AKeyBoundToAGroupUsesOnlyItsAccounts) {
  start("[loadBalancing]\ndefaultStrategy = \"least_recent\"\nstickyTtl = 0\n");
  std::string a = add_account("in-a");
  std::string b = add_account("in-b");
  add_account("outside");
  auto g = relays[0]->cli({"groups", "create", "--name", "team", "--json"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  std::string group(json::parse(g.out).as_object().at("id").as_string());
  EXPECT_EQ(relays[0]->cli({"groups", "add", group, a}).exit_code, 0);
  EXPECT_EQ(relays[0]->cli({"groups", "add", group, b}).exit_code, 0);
  EXPECT_EQ(relays[0]->cli({"groups", "add", group, "00000000-0000-4000-8000-000000000000"}).exit_code, 1);
  EXPECT_EQ(relays[0]->cli({"keys", "create", "--name", "x", "--group", "no-such-group"}).exit_code, 1);
  make_key({"--group", group});
  for (int i = 0; i < 10; ++i) ASSERT_EQ(post(i, body(false)).status, 200);
  for (const auto& c : credentials_seen()) EXPECT_NE(c, credential("outside"));
  EXPECT_GT(by_credential("in-a")["total"].as_int64(), 0);
  EXPECT_GT(by_credential("in-b")["total"].as_int64(), 0);
  // With both of its accounts out, the answer names the group; the outside account stays unused.
  ASSERT_EQ(relays[0]->cli({"accounts", "disable", a}).exit_code, 0);
  ASSERT_EQ(relays[0]->cli({"accounts", "disable", b}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] {
    auto r = post(0, body(false));
    return r.status == 503 && r.body.find("account group " + group) != std::string::npos;
  }));
  EXPECT_EQ(by_credential("outside")["total"].as_int64(), 0);
}

TEST_F(LoadBalancingTest, AccountModelListsAndMappings) {
  start();
  add_account("haiku-only", {"--models", "claude-haiku*"});
  add_account("mapped", {"--models", "claude-sonnet-4*", "--model-map", "team-default=claude-sonnet-4-5-20250929"});
  make_key();
  auto unknown = post(0, body(false, "claude-opus-4-1"));
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_NE(unknown.body.find("not_found_error"), std::string::npos);
  EXPECT_TRUE(recorded().empty());  // nothing went upstream
  ASSERT_EQ(post(0, body(false, "claude-haiku-4-5")).status, 200);
  EXPECT_EQ(credentials_seen().back(), credential("haiku-only"));
  reset_fake();
  auto mapped = post(1, body(true, "team-default"));
  ASSERT_EQ(mapped.status, 200) << mapped.body;
  auto req = recorded().back().as_object();
  EXPECT_EQ(req["credential"].as_string(), credential("mapped"));
  std::string sent(req["body"].as_string());
  EXPECT_NE(sent.find(R"("model":"claude-sonnet-4-5-20250929")"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("team-default"), std::string::npos);
  // The rest of the body went up byte for byte.
  EXPECT_EQ(sent.size(), body(true, "team-default").size() - std::string("team-default").size() +
                             std::string("claude-sonnet-4-5-20250929").size());
}

TEST_F(LoadBalancingTest, TheModelListComesFromTheAccounts) {
  start();
  std::string open = add_account("open");
  std::string narrow = add_account("narrow", {"--models", "claude-haiku*", "--model-map", "team-fast=claude-haiku-4-5-20251001"});
  make_key();
  auto ids = [&](const std::string& k, size_t instance) {
    auto r = http_request(relays[instance]->port(), "GET", "/v1/models", "", {{"x-api-key", k}});
    std::set<std::string> out;
    if (r.status != 200) return out;
    auto parsed = json::parse(r.body);
    for (const auto& m : parsed.as_object().at("data").as_array()) {
      EXPECT_EQ(m.as_object().at("object").as_string(), "model");  // the OpenAI shape too
      EXPECT_EQ(m.as_object().at("type").as_string(), "model");
      out.emplace(m.as_object().at("id").as_string());
    }
    return out;
  };
  // A model only the upstream's own list has, on both instances (fetched in the background).
  for (size_t instance : {0u, 1u})
    ASSERT_TRUE(wait_until([&] { return ids(key, instance).count("claude-fake-upstream-only-20260101") == 1; }))
        << instance;
  auto all = ids(key, 0);
  EXPECT_TRUE(all.count("team-fast"));
  EXPECT_TRUE(all.count("claude-sonnet-4-5-20250929"));
  // A key bound to the narrow account sees what it serves only.
  auto bound = relays[0]->cli({"keys", "create", "--name", "narrow", "--account", narrow, "--json"});
  ASSERT_EQ(bound.exit_code, 0) << bound.err;
  std::string bound_key(json::parse(bound.out).as_object().at("key").as_string());
  // The narrow account's own list is fetched in the background (before it, the list holds its
  // mapped name only).
  ASSERT_TRUE(wait_until([&] { return ids(bound_key, 0).count("claude-haiku-4-5-20251001") == 1; }));
  auto narrow_ids = ids(bound_key, 0);
  EXPECT_TRUE(narrow_ids.count("claude-haiku-4-5-20251001"));
  EXPECT_TRUE(narrow_ids.count("team-fast"));
  EXPECT_FALSE(narrow_ids.count("claude-sonnet-4-5-20250929"));
  // The key's own model rules apply on top.
  auto limited = relays[0]->cli({"keys", "create", "--name", "l", "--models", "claude-fake*", "--json"});
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  std::string limited_key(json::parse(limited.out).as_object().at("key").as_string());
  ASSERT_TRUE(wait_until([&] { return ids(limited_key, 0) == std::set<std::string>{"claude-fake-upstream-only-20260101"}; }));
  (void)open;
}

TEST_F(LoadBalancingTest, AReloadedPriceFileReachesEveryInstanceWithoutARestart) {
  auto prices = [](int input_usd) {
    return R"({"models":{"claude-sonnet-4-5-20250929":{"input":)" + std::to_string(input_usd) +
           R"(,"output":15,"cacheWrite5m":3.75,"cacheWrite1h":6,"cacheRead":0.3}},"aliases":{},"families":{},)"
           R"("default":{"input":3,"output":15,"cacheWrite5m":3.75,"cacheWrite1h":6,"cacheRead":0.3}})";
  };
  dir_a.write("config/pricing.json", prices(3));
  dir_b.write("config/pricing.json", prices(3));
  start();
  add_account("a");
  make_key();
  auto total = [&] { return std::atoll(redis.cli({"HGET", "usage:" + key_id, "totalCostMicro"}).c_str()); };
  auto requests = [&] { return std::atoll(redis.cli({"HGET", "usage:" + key_id, "totalRequests"}).c_str()); };
  ASSERT_TRUE(wait_until([&] { return requests() == 2; }));  // make_key's two
  int64_t before = total();
  ASSERT_TRUE(fake.script("*", R"({"inputTokens":1000000,"outputTokens":0})"));
  ASSERT_EQ(post(0, body(false)).status, 200);
  ASSERT_TRUE(wait_until([&] { return requests() == 3; }));
  EXPECT_EQ(total() - before, 3000000);  // $3 per million input tokens
  // A broken file is refused before it is announced.
  dir_a.write("config/pricing.json", "{not json");
  EXPECT_EQ(relays[0]->cli({"pricing", "reload"}).exit_code, 1);
  dir_a.write("config/pricing.json", prices(6));
  dir_b.write("config/pricing.json", prices(6));
  auto reloaded = relays[0]->cli({"pricing", "reload", "--json"});
  ASSERT_EQ(reloaded.exit_code, 0) << reloaded.err;
  EXPECT_EQ(json::parse(reloaded.out).as_object().at("listeners").as_int64(), 2);
  for (size_t instance : {0u, 1u})
    ASSERT_TRUE(wait_until([&] { return relays[instance]->log().find("pricing.json reloaded") != std::string::npos; }));
  ASSERT_EQ(post(0, body(false)).status, 200);
  ASSERT_EQ(post(1, body(false)).status, 200);
  ASSERT_TRUE(wait_until([&] { return requests() == 5; }));
  EXPECT_EQ(total() - before, 3000000 + 2 * 6000000);
  // SIGHUP does the same on one instance.
  dir_a.write("config/pricing.json", prices(9));
  relays[0]->process().send_signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] {
    auto log = relays[0]->log();
    size_t first = log.find("pricing.json reloaded");
    return first != std::string::npos && log.find("pricing.json reloaded", first + 1) != std::string::npos;
  }));
  ASSERT_EQ(post(0, body(false)).status, 200);
  ASSERT_TRUE(wait_until([&] { return requests() == 6; }));
  EXPECT_EQ(total() - before, 3000000 + 2 * 6000000 + 9000000);
}

TEST_F(LoadBalancingTest, AdminRoutesForAccountsGroupsAndTheBalancer) {
  start();
  std::string token = admin_token();
  ASSERT_FALSE(token.empty());
  auto call = [&](const std::string& method, const std::string& path, const std::string& payload = "") {
    return http_request(relays[1]->port(), method, path, payload,
                        {{"authorization", "Bearer " + token}, {"content-type", "application/json"}});
  };
  auto created = call("POST", "/admin/claude-accounts",
                      R"({"type":"claude-console","name":"web","baseUrl":")" + fake.url() +
                          R"(","apiKey":"sk-ant-api03-admin-made-secret-0000","maxConcurrency":3,"models":["claude-sonnet*"]})");
  ASSERT_EQ(created.status, 200) << created.body << " token " << token.size();
  EXPECT_EQ(created.body.find("admin-made-secret"), std::string::npos);  // masked
  std::string id(json::parse(created.body).as_object().at("data").as_object().at("id").as_string());
  auto bad = call("PUT", "/admin/claude-accounts/" + id, R"({"weight":-2})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("weight"), std::string::npos);
  auto updated = call("PUT", "/admin/claude-accounts/" + id, R"({"weight":4,"modelMapping":{"short":"claude-sonnet-4-5-20250929"}})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_DOUBLE_EQ(json::parse(updated.body).as_object().at("data").as_object().at("weight").as_double(), 4.0);
  auto toggled = call("PUT", "/admin/claude-accounts/" + id + "/toggle-schedulable");
  ASSERT_EQ(toggled.status, 200);
  EXPECT_FALSE(json::parse(toggled.body).as_object().at("data").as_object().at("schedulable").as_bool());
  auto shown = json::parse(relays[0]->cli({"accounts", "show", id, "--json"}).out).as_object();
  EXPECT_EQ(shown["maxConcurrency"].as_int64(), 3);
  EXPECT_FALSE(shown["schedulable"].as_bool());
  // Groups and the balancer.
  auto group = call("POST", "/admin/account-groups", R"({"name":"team"})");
  ASSERT_EQ(group.status, 200) << group.body;
  std::string gid(json::parse(group.body).as_object().at("data").as_object().at("id").as_string());
  EXPECT_EQ(call("POST", "/admin/account-groups/" + gid + "/accounts/" + id).status, 200);
  auto groups = call("GET", "/admin/account-groups");
  EXPECT_NE(groups.body.find(id), std::string::npos);
  EXPECT_EQ(call("PUT", "/admin/load-balance/strategy", R"({"strategy":"fastest"})").status, 400);
  EXPECT_EQ(call("PUT", "/admin/load-balance/strategy", R"({"strategy":"least_recent","groupId":")" + gid + R"("})").status, 200);
  auto status = call("GET", "/admin/load-balance/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(json::parse(status.body).as_object().at("data").as_object().at("strategy").as_object().at("groups")
                .as_object().at(gid).as_string(), "least_recent");
  EXPECT_EQ(call("DELETE", "/admin/claude-accounts/" + id).status, 200);
  EXPECT_EQ(call("GET", "/admin/claude-accounts/" + id).status, 404);
  EXPECT_EQ(http_request(relays[1]->port(), "GET", "/admin/claude-accounts").status, 401);  // no token
}

// The console's load-balancing page lists an instance's latest decisions: the request, the
// strategy, the ranked accounts with their score parts, the pick.
TEST_F(LoadBalancingTest, RecentDecisionsShowTheRankedAccountsAndThePick) {
  start();
  std::string a = add_account("a", {"--cost-factor", "0.5"});
  std::string b = add_account("b", {});
  make_key();
  std::string token = admin_token();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = http_request(relays[0]->port(), "POST", "/v1/messages", body(false), {{"x-api-key", key}});
    ASSERT_EQ(r.status, 200) << r.body;
    ids.push_back(r.header("x-request-id"));
  }
  // Token counts are not listed: Claude Code sends many, and they would drown the messages.
  auto counted = http_request(relays[0]->port(), "POST", "/v1/messages/count_tokens",
                              R"({"model":"claude-sonnet-4-5-20250929","messages":[{"role":"user","content":"hi"}]})",
                              {{"x-api-key", key}});
  ASSERT_EQ(counted.status, 200) << counted.body;
  auto get = [&](int relay, const std::string& path) {
    return http_request(relays[relay]->port(), "GET", path, "", {{"authorization", "Bearer " + token}});
  };
  auto answer = get(0, "/admin/load-balance/decisions?limit=2");
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto decisions = json::parse(answer.body).as_object().at("data").as_object().at("decisions").as_array();
  ASSERT_EQ(decisions.size(), 2u);
  auto newest = decisions[0].as_object();
  EXPECT_EQ(newest.at("requestId").as_string(), ids[2]);
  EXPECT_EQ(decisions[1].as_object().at("requestId").as_string(), ids[1]);
  EXPECT_EQ(newest.at("strategy").as_string(), "balanced");
  EXPECT_EQ(newest.at("keyId").as_string(), key_id);
  EXPECT_EQ(newest.at("model").as_string(), json::parse(body(false)).as_object().at("model").as_string());
  EXPECT_EQ(newest.at("candidates").as_int64(), 2);
  auto ranked = newest.at("ranked").as_array();
  ASSERT_EQ(ranked.size(), 2u);
  std::string picked(newest.at("picked").as_string());
  EXPECT_TRUE(picked == a || picked == b) << picked;
  for (const auto& o : ranked) {
    auto option = o.as_object();
    for (const char* part : {"score", "cost", "performance", "load", "reliability"}) EXPECT_TRUE(option.contains(part));
  }
  // The cheaper account scores higher on cost.
  auto cost_of = [&](const std::string& id) {
    for (const auto& o : ranked)
      if (o.as_object().at("accountId").as_string() == id) return o.as_object().at("cost").to_number<double>();
    return -1.0;
  };
  EXPECT_GT(cost_of(a), cost_of(b)) << answer.body;
  // Each instance tells its own decisions.
  auto other = get(1, "/admin/load-balance/decisions?limit=256");
  ASSERT_EQ(other.status, 200);
  for (const auto& id : ids) EXPECT_EQ(other.body.find(id), std::string::npos);
  EXPECT_EQ(get(0, "/admin/load-balance/decisions?limit=0").status, 400);
  EXPECT_EQ(get(0, "/admin/load-balance/decisions?limit=257").status, 400);
}

TEST_F(LoadBalancingTest, StatusViewsShowEveryAccountsLoad) {
  start();
  std::string a = add_account("a", {"--max-concurrency", "3", "--weight", "2", "--cost-factor", "0.5"});
  add_account("b", {"--schedulable", "false"});
  make_key();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(post(i, body(false)).status, 200);
  EXPECT_EQ(by_credential("b")["total"].as_int64(), 0);  // kept for bound keys
  auto r = relays[0]->cli({"load-balance", "status", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto status = json::parse(r.out).as_object();
  EXPECT_EQ(status["strategy"].as_object()["global"].as_string(), "balanced");
  json::object first;
  for (const auto& v : status["accounts"].as_array())
    if (v.as_object().at("id").as_string() == a) first = v.as_object();
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first["maxConcurrency"].as_int64(), 3);
  EXPECT_DOUBLE_EQ(first["weight"].as_double(), 2.0);
  EXPECT_DOUBLE_EQ(first["costFactor"].as_double(), 0.5);
  EXPECT_TRUE(wait_until([&] {
    auto again = json::parse(relays[0]->cli({"load-balance", "status", "--json"}).out).as_object();
    for (const auto& v : again["accounts"].as_array())
      if (v.as_object().at("id").as_string() == a) return v.as_object().at("windowTokens").as_int64() > 0;
    return false;
  }));
  EXPECT_TRUE(first["score"].as_object().contains("reliability"));
  auto text = relays[0]->cli({"load-balance", "status"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("Strategy: balanced"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find(credential("a")), std::string::npos);  // never a secret
}

}  // namespace
}  // namespace crs::test
