// Account health with two `crs serve` instances on one Redis and fake upstream accounts scripted
// to fail: the circuit breaker (threshold, one trial across instances, doubling backoff, cap),
// rate limits that end exactly at their reset on both instances, a burst's short cool-down, a
// permanent 403 that blocks the account for good, health classes from slow answers and their
// recovery through probes, and reset-state seen by the other instance at once.
#include <future>
#include <map>
#include <thread>

#include "integration/two_instances.hpp"

namespace crs::test {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class AccountHealthTest : public TwoInstances {
 protected:
  // A field of the account's circuit in Redis ("" when absent).
  std::string circuit(const std::string& id, const std::string& field) {
    return redis.cli({"HGET", "load_balance:circuit:" + id, field});
  }
  int64_t circuit_number(const std::string& id, const std::string& field) {
    std::string v = circuit(id, field);
    return v.empty() ? 0 : std::stoll(v);
  }
  int64_t calls(const std::string& name) { return by_credential(name)["total"].as_int64(); }
  json::object shown(const std::string& id) {
    auto r = relays[0]->cli({"accounts", "show", id, "--json"});
    return json::parse(r.out).as_object();
  }
  std::string health_class(const std::string& id) {
    return std::string(shown(id)["health"].as_object()["class"].as_string());
  }
  // Sends `n` requests, alternating instances; every one must succeed.
  void send(int n) {
    for (int i = 0; i < n; ++i) {
      auto r = post(i, request(false));
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }
  std::string balancing_log() {
    return read_file(dir_a.file("logs/load-balancing.log")) + read_file(dir_b.file("logs/load-balancing.log"));
  }
  void wait_until_ms(int64_t at) {
    ASSERT_TRUE(wait_until([&] { return now_ms() >= at; }, 30s));
  }
};

// Failover and the circuit judge OpenAI clients' requests the same way.
class HealthForBothApis : public AccountHealthTest, public ::testing::WithParamInterface<ClientApi> {
 protected:
  HealthForBothApis() { api = GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Api, HealthForBothApis, ::testing::Values(ClientApi::Messages, ClientApi::Chat), api_name);

TEST_P(HealthForBothApis, ACircuitOpensLetsOneTrialThroughAcrossInstancesAndBacksOffToItsCap) {
  start("[loadBalancing.failureRecovery]\nfailureThreshold = 3\ntemporaryFailureDelay = 2\nmaxBackoffTime = 4\n"
        "[loadBalancing.healthCheck]\ninterval = 3600\n");
  std::string sick = add_account("sick", {"--priority", "10"});
  add_account("well", {"--priority", "20"});
  make_key();
  ASSERT_TRUE(fake.script(credential("sick"), R"({"status":500})"));
  // Each request tries the preferred account first and fails over: the client never sees it.
  send(3);
  EXPECT_EQ(calls("sick"), 3);
  ASSERT_EQ(circuit(sick, "state"), "open");
  EXPECT_EQ(circuit_number(sick, "opens"), 1);
  int64_t next_try = circuit_number(sick, "nextTry");
  EXPECT_EQ(next_try - circuit_number(sick, "openedAt"), 2000);
  // While open, neither instance sends it anything.
  for (int i = 0; i < 6 && now_ms() < next_try - 500; ++i) ASSERT_EQ(post(i, request(false)).status, 200);
  EXPECT_EQ(calls("sick"), 3);

  // Half-open: of ten requests at once on both instances, exactly one is its trial.
  wait_until_ms(next_try);
  std::vector<std::future<HttpResponse>> burst;
  for (int i = 0; i < 10; ++i) burst.push_back(std::async(std::launch::async, [this, i] { return post(i, request(false)); }));
  for (auto& f : burst) EXPECT_EQ(f.get().status, 200);
  EXPECT_EQ(calls("sick"), 4);
  // The trial failed: open again for twice as long.
  ASSERT_EQ(circuit(sick, "state"), "open");
  EXPECT_EQ(circuit_number(sick, "opens"), 2);
  EXPECT_EQ(circuit_number(sick, "nextTry") - circuit_number(sick, "openedAt"), 4000);

  // Once more: 8 s would be past maxBackoffTime, so 4 s.
  wait_until_ms(circuit_number(sick, "nextTry"));
  send(2);
  EXPECT_EQ(calls("sick"), 5);
  EXPECT_EQ(circuit_number(sick, "opens"), 3);
  EXPECT_EQ(circuit_number(sick, "nextTry") - circuit_number(sick, "openedAt"), 4000);

  // Well again: the next trial succeeds, the circuit closes and the account has its traffic back.
  ASSERT_EQ(http_request(fake.port(), "DELETE", "/_fake/behaviors").status, 200);
  wait_until_ms(circuit_number(sick, "nextTry"));
  send(1);
  EXPECT_EQ(calls("sick"), 6);
  ASSERT_TRUE(wait_until([&] { return circuit(sick, "state").empty(); }));
  int64_t before = calls("sick");
  send(4);
  EXPECT_EQ(calls("sick"), before + 4);
  // The log tells each transition (once it is flushed).
  for (const char* line : {"circuit opened for 2 s", "circuit half-open", "circuit closed"})
    EXPECT_TRUE(wait_until([&] { return balancing_log().find(line) != std::string::npos; })) << line << balancing_log();
}

TEST_F(AccountHealthTest, WithTheBreakerOffFailuresOnlyFailOver) {
  start("[loadBalancing.failureRecovery]\nfailureThreshold = 1\nenableCircuitBreaker = false\n"
        "[loadBalancing.healthCheck]\ninterval = 3600\n");
  std::string sick = add_account("sick", {"--priority", "10"});
  add_account("well", {"--priority", "20"});
  make_key();
  ASSERT_TRUE(fake.script(credential("sick"), R"({"status":529})"));
  send(4);
  EXPECT_EQ(calls("sick"), 4);  // tried every time, never taken out
  EXPECT_EQ(circuit(sick, "state"), "");
}

TEST_F(AccountHealthTest, ARateLimitEndsAtItsResetOnBothInstancesAndABurstRestsOnlyItsCooldown) {
  start("[loadBalancing.failureRecovery]\nburstCooldown = 2\n[loadBalancing.healthCheck]\ninterval = 3600\n");
  std::string limited = add_account("limited", {"--priority", "10"});
  add_account("spare", {"--priority", "20"});
  make_key();
  for (const char* behavior : {R"({"status":429,"unifiedResetIn":3})", R"({"status":429})"}) {
    reset_fake();
    ASSERT_TRUE(fake.script(credential("limited"), behavior, 1));
    int64_t started = now_ms();
    send(1);  // failed over: the client sees nothing
    auto a = shown(limited);
    ASSERT_EQ(a["status"].as_string(), "rate_limited") << behavior;
    int64_t until = a["unavailableUntil"].as_int64();
    EXPECT_GT(until, started + 1000) << behavior;
    EXPECT_LT(until, started + 4500) << behavior;  // the reset (or the burst cool-down), not hours
    // Out until then, on both instances; back by itself afterwards, on both.
    for (int i = 0; i < 4 && now_ms() < until - 300; ++i) ASSERT_EQ(post(i, body(false)).status, 200);
    EXPECT_EQ(calls("limited"), 1) << behavior;
    wait_until_ms(until);
    for (size_t instance = 0; instance < 2; ++instance) {
      int64_t before = calls("limited");
      ASSERT_TRUE(wait_until([&] { return post(instance, body(false)).status == 200 && calls("limited") > before; },
                             3s))
          << behavior << " instance " << instance;
    }
  }
}

TEST_F(AccountHealthTest, APermanentForbiddenBlocksTheAccountUntilAnAdminEnablesIt) {
  start("[loadBalancing.healthCheck]\ninterval = 3600\n");
  std::string banned = add_account("banned", {"--priority", "10"});
  add_account("spare", {"--priority", "20"});
  make_key();
  ASSERT_TRUE(fake.script(credential("banned"),
                          R"({"status":403,"errorType":"permission_error","shouldRetry":false,)"
                          R"("errorMessage":"Your organization does not have access to the API"})"));
  send(1);
  auto a = shown(banned);
  EXPECT_EQ(a["status"].as_string(), "blocked");
  EXPECT_NE(std::string(a["statusReason"].as_string()).find("does not have access"), std::string::npos);
  // An event for the alerts.
  std::string events = redis.cli({"XRANGE", "crs:events", "-", "+"});
  EXPECT_NE(events.find("account.blocked"), std::string::npos) << events;
  EXPECT_NE(events.find(banned), std::string::npos) << events;
  // Never tried again, on either instance, whatever the wait.
  send(6);
  EXPECT_EQ(calls("banned"), 1);
  ASSERT_EQ(http_request(fake.port(), "DELETE", "/_fake/behaviors").status, 200);
  ASSERT_EQ(relays[1]->cli({"accounts", "enable", banned}).exit_code, 0);
  for (size_t instance = 0; instance < 2; ++instance)
    ASSERT_TRUE(wait_until([&] {
      int64_t before = calls("banned");
      return post(instance, body(false)).status == 200 && calls("banned") > before;
    }, 3s));
}

TEST_F(AccountHealthTest, ASlowAccountIsDegradedLosesItsTrafficAndRecoversWhenFastAgain) {
  start("[loadBalancing.healthCheck]\ninterval = 1\nresponseTimeThreshold = 300\n");
  std::string slow = add_account("slow", {"--priority", "10"});
  add_account("fast", {"--priority", "20"});
  make_key();
  ASSERT_TRUE(fake.script(credential("slow"), R"({"latencyMs":500})"));
  send(6);  // the preferred account serves, slowly, until the health check finds it degraded
  EXPECT_GE(calls("slow"), 3);
  ASSERT_TRUE(wait_until([&] { return health_class(slow) == "degraded"; }, 10s)) << health_class(slow);
  EXPECT_NE(std::string(shown(slow)["health"].as_object()["reasons"].as_string()).find("time to first byte"),
            std::string::npos);
  // Traffic goes to the healthy account now, on both instances.
  ASSERT_TRUE(wait_until([&] {
    int64_t before = calls("slow");
    send(2);
    return calls("slow") == before;
  }, 5s));
  // Fast again: its probes (no tokens: GET /v1/models) bring it back.
  ASSERT_EQ(http_request(fake.port(), "DELETE", "/_fake/behaviors").status, 200);
  ASSERT_TRUE(wait_until([&] { return health_class(slow) == "healthy"; }, 20s)) << health_class(slow);
  // Both instances send it their traffic again, once each has heard of its recovery.
  EXPECT_TRUE(wait_until([&] {
    int64_t before = calls("slow");
    send(2);
    return calls("slow") == before + 2;
  }, 10s));
  for (const char* line : {"is degraded (was healthy)", "is healthy (was degraded)"})
    EXPECT_TRUE(wait_until([&] { return balancing_log().find(line) != std::string::npos; })) << line << balancing_log();
}

TEST_F(AccountHealthTest, ResetStateReachesTheOtherInstanceAtOnce) {
  start("[loadBalancing.failureRecovery]\nfailureThreshold = 1\ntemporaryFailureDelay = 3600\n"
        "[loadBalancing.healthCheck]\ninterval = 3600\n");
  std::string sick = add_account("sick", {"--priority", "10"});
  add_account("well", {"--priority", "20"});
  make_key();
  ASSERT_TRUE(fake.script(credential("sick"), R"({"status":500})", 1));
  send(1);
  ASSERT_EQ(circuit(sick, "state"), "open");
  send(2);
  EXPECT_EQ(calls("sick"), 1);
  auto reset = relays[0]->cli({"accounts", "reset-state", sick});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_EQ(circuit(sick, "state"), "");
  // The other instance uses the account again within a second.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] {
    int64_t before = calls("sick");
    return post(1, body(false)).status == 200 && calls("sick") > before;
  }, 1s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

// A window with some 5xx answers (about one in six) is unhealthy under the default thresholds
// and healthy under looser ones: the configured thresholds decide.
TEST_F(AccountHealthTest, TheRateThresholdsDecideTheClass) {
  start("[loadBalancing.healthCheck]\ninterval = 1\nsuccessRateThreshold = 0.7\nerrorRateThreshold = 0.3\n"
        "[loadBalancing.failureRecovery]\nfailureThreshold = 100\n");
  std::string flaky = add_account("flaky", {"--priority", "10"});
  add_account("spare", {"--priority", "20"});
  make_key();
  ASSERT_TRUE(fake.script(credential("flaky"), R"({"status":500})", 2));
  send(10);  // 2 failures (failed over), then 8 successes on the preferred account
  auto judged = [&] {
    return shown(flaky)["health"].as_object()["window"].as_object()["judged"].as_int64();
  };
  ASSERT_TRUE(wait_until([&] { return judged() >= 10; }, 10s)) << judged();
  auto health = shown(flaky)["health"].as_object();
  EXPECT_EQ(health["class"].as_string(), "healthy") << json::serialize(health);
  // Errors were judged: under the defaults (0.95 / 0.05) this window is unhealthy (the
  // classifier's table in tests/health/health_test.cpp, "errors over the error rate").
  double error_rate = health["window"].as_object()["errorRate"].as_double();
  EXPECT_GT(error_rate, 0.1);
  EXPECT_LT(error_rate, 0.3);
}

// `crs accounts health-check` probes with the model list (never /v1/messages), records the probe,
// applies what it says, and exits 1 when an account is unhealthy; the admin route does the same
// for one account.
TEST_F(AccountHealthTest, HealthCheckSpendsNoTokensAndFailsOnAnUnhealthyAccount) {
  start("[loadBalancing.healthCheck]\ninterval = 1\n[loadBalancing.failureRecovery]\nfailureThreshold = 100\n");
  std::string sick = add_account("sick", {"--priority", "10"});
  std::string well = add_account("well", {"--priority", "20"});
  make_key();
  ASSERT_TRUE(fake.script(credential("sick"), R"({"status":500})"));
  ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/behaviors",
                         R"({"credential":")" + credential("sick") + R"(","path":"/v1/models","behavior":{"status":503}})")
                .status,
            200);
  send(6);
  ASSERT_TRUE(wait_until([&] { return health_class(sick) == "unhealthy"; }, 10s)) << health_class(sick);
  int64_t messages = json::parse(fake.stats_json()).as_object().at("total").as_int64();
  int64_t probes = by_credential("sick")["models"].as_int64();

  auto all = relays[0]->cli({"accounts", "health-check", "--json"});
  EXPECT_EQ(all.exit_code, 1) << all.out << all.err;
  std::map<std::string, json::object> by_id;
  auto listed = json::parse(all.out);
  for (const auto& v : listed.as_array()) by_id[std::string(v.as_object().at("id").as_string())] = v.as_object();
  ASSERT_EQ(by_id.size(), 2u);
  EXPECT_TRUE(by_id[sick]["failing"].as_bool());
  EXPECT_EQ(by_id[sick]["class"].as_string(), "unhealthy");
  EXPECT_FALSE(by_id[sick]["probe"].as_object()["ok"].as_bool());
  EXPECT_EQ(by_id[sick]["probe"].as_object()["status"].as_int64(), 503);
  EXPECT_NE(std::string(by_id[sick]["reasons"].as_string()).find("error rate"), std::string::npos);
  EXPECT_FALSE(by_id[well]["failing"].as_bool());
  EXPECT_TRUE(by_id[well]["probe"].as_object()["ok"].as_bool());
  // No tokens spent: the probes asked for the model list only.
  EXPECT_EQ(json::parse(fake.stats_json()).as_object().at("total").as_int64(), messages);
  EXPECT_GT(by_credential("sick")["models"].as_int64(), probes);

  // One account by id, in the table form: the healthy one alone passes.
  auto one = relays[1]->cli({"accounts", "health-check", well});
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_NE(one.out.find("HEALTH"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find(well), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find(sick), std::string::npos) << one.out;
  EXPECT_NE(relays[0]->cli({"accounts", "health-check", "no-such-account"}).exit_code, 0);

  // The admin route, for one account.
  std::string token = admin_token();
  ASSERT_FALSE(token.empty());
  auto checked = http_request(relays[1]->port(), "POST", "/admin/accounts/" + sick + "/health-check", "",
                              {{"authorization", "Bearer " + token}});
  ASSERT_EQ(checked.status, 200) << checked.body;
  auto data = json::parse(checked.body).as_object().at("data").as_object();
  EXPECT_TRUE(data.at("failing").as_bool());
  EXPECT_EQ(data.at("probe").as_object().at("status").as_int64(), 503);
  EXPECT_EQ(http_request(relays[1]->port(), "POST", "/admin/accounts/" + sick + "/health-check").status, 401);
}

// Every upstream attempt of a request that failed over is on record, in order, with the tokens the
// upstream reported: the failed ones were not billed, the served one is the key's charge.
TEST_P(HealthForBothApis, ARequestThatFailedOverTwiceLeavesThreeAttemptRecords) {
  start("[loadBalancing.healthCheck]\ninterval = 3600\n");
  std::string a = add_account("a", {"--priority", "10"});
  std::string b = add_account("b", {"--priority", "20"});
  std::string c = add_account("c", {"--priority", "30"});
  make_key();
  ASSERT_TRUE(fake.script(credential("c"), R"({"inputTokens":31,"outputTokens":17})"));
  for (bool stream : {false, true}) {
    ASSERT_TRUE(fake.script(credential("a"), R"({"status":500})", 1));
    ASSERT_TRUE(fake.script(credential("b"), R"({"status":529})", 1));
    auto r = post(0, request(stream));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  std::string keys = redis.cli({"KEYS", "usage:attempts:*"});
  std::vector<std::string> ids;
  for (size_t at = 0; (at = keys.find("usage:attempts:", at)) != std::string::npos; at += 15) {
    size_t end = keys.find_first_of("\r\n ", at);
    ids.push_back(keys.substr(at + 15, end == std::string::npos ? std::string::npos : end - at - 15));
  }
  ASSERT_EQ(ids.size(), 2u) << keys;
  std::string token = admin_token();
  ASSERT_FALSE(token.empty());
  // What the fake upstream reported for the answers it gave (the errors carry no usage).
  int64_t upstream_tokens = 0;
  for (const auto& v : recorded()) {
    const auto& o = v.as_object();
    if (auto* u = o.if_contains("usage"); u && u->is_object())
      upstream_tokens += u->as_object().at("input_tokens").as_int64() + u->as_object().at("output_tokens").as_int64();
  }
  int64_t recorded_tokens = 0;
  for (const auto& id : ids) {
    auto got = http_request(relays[1]->port(), "GET", "/admin/usage/attempts?requestId=" + id, "",
                            {{"authorization", "Bearer " + token}});
    ASSERT_EQ(got.status, 200) << got.body;
    auto attempts = json::parse(got.body).as_object().at("data").as_object().at("attempts").as_array();
    ASSERT_EQ(attempts.size(), 3u) << got.body;
    std::vector<std::string> accounts, classes;
    for (const auto& v : attempts) {
      const auto& o = v.as_object();
      accounts.emplace_back(o.at("accountId").as_string());
      classes.emplace_back(o.at("class").as_string());
      recorded_tokens += o.at("inputTokens").as_int64() + o.at("outputTokens").as_int64();
      EXPECT_EQ(o.at("keyId").as_string(), key_id);
      EXPECT_EQ(o.at("served").as_bool(), accounts.size() == 3) << got.body;
      if (accounts.size() < 3) EXPECT_EQ(o.at("costMicroUsd").as_int64(), 0);
      else EXPECT_GT(o.at("costMicroUsd").as_int64(), 0);
    }
    EXPECT_EQ(accounts, (std::vector<std::string>{a, b, c}));
    EXPECT_EQ(classes, (std::vector<std::string>{"server", "overloaded", "ok"}));
  }
  EXPECT_EQ(recorded_tokens, upstream_tokens);
  EXPECT_GT(upstream_tokens, 0);
  // A request served at once has only its usage record; a bad id is refused.
  auto once = post(0, request(false));
  ASSERT_EQ(once.status, 200);
  EXPECT_EQ(http_request(relays[0]->port(), "GET", "/admin/usage/attempts?requestId=nope", "",
                         {{"authorization", "Bearer " + token}}).status,
            404);
  EXPECT_EQ(http_request(relays[0]->port(), "GET", "/admin/usage/attempts?requestId=a%20b", "",
                         {{"authorization", "Bearer " + token}}).status,
            400);
}

// A probe that meets a permanent refusal marks the account blocked, as a request would.
TEST_F(AccountHealthTest, AProbeThatIsRefusedForGoodBlocksTheAccount) {
  start("[loadBalancing.healthCheck]\ninterval = 3600\n");
  std::string banned = add_account("banned");
  make_key();
  ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/behaviors",
                         R"({"credential":")" + credential("banned") +
                             R"(","path":"/v1/models","behavior":{"status":403,"errorType":"permission_error",)"
                             R"("shouldRetry":false,"errorMessage":"This organization has been disabled."}})")
                .status,
            200);
  auto r = relays[0]->cli({"accounts", "health-check", banned});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(shown(banned)["status"].as_string(), "blocked");
  EXPECT_EQ(by_credential("banned")["total"].as_int64(), 0);
  // Both instances stop using it.
  for (size_t instance = 0; instance < 2; ++instance)
    ASSERT_TRUE(wait_until([&] { return post(instance, body(false)).status == 503; }, 3s)) << instance;
}

}  // namespace
}  // namespace crs::test
