// Three `crs serve` instances on one Redis: a key's limits hold across all of them.
#include <csignal>
#include <algorithm>
#include <future>
#include <map>
#include <iostream>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kAccountKey = "sk-ant-api03-instances-account-00";

std::string body(bool stream) {
  return std::string(R"({"model":"claude-sonnet-4-5-20250929","max_tokens":50,"stream":)") +
         (stream ? "true" : "false") + R"(,"messages":[{"role":"user","content":"hi"}]})";
}

class InstancesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
    for (auto* d : {&dir_a, &dir_b, &dir_c}) {
      d->write("config/config.toml", "[relay]\nconcurrencyLeaseTtl = 3\n");
      relays.push_back(std::make_unique<RelayProcess>(
          *d, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                       "ENCRYPTION_KEY=iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii", "WORKERS=1"}));
      ASSERT_TRUE(relays.back()->start()) << relays.back()->log();
    }
    auto r = relays[0]->cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                             "--api-key", kAccountKey, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    account_id = std::string(json::parse(r.out).as_object()["id"].as_string());
  }

  void make_key(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"keys", "create", "--name", "shared", "--json"});
    auto r = relays[0]->cli(flags);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto o = json::parse(r.out).as_object();
    key = std::string(o["key"].as_string());
    key_id = std::string(o["id"].as_string());
    for (auto& relay : relays) {
      ASSERT_TRUE(wait_until([&] {
        return http_request(relay->port(), "POST", "/v1/messages/count_tokens", body(false), {{"x-api-key", key}})
                   .status == 200;
      }, 5s));
    }
  }

  HttpResponse post(size_t instance, bool stream) {
    return http_request(relays[instance % relays.size()]->port(), "POST", "/v1/messages", body(stream),
                        {{"x-api-key", key}, {"content-type", "application/json"}});
  }

  // Sends `n` requests at once, spread over the instances; returns the statuses.
  std::vector<int> burst(int n, bool stream) {
    std::vector<std::future<int>> results;
    for (int i = 0; i < n; ++i)
      results.push_back(std::async(std::launch::async, [this, i, stream] { return post(i, stream).status; }));
    std::vector<int> statuses;
    for (auto& f : results) statuses.push_back(f.get());
    return statuses;
  }

  void reset_fake() { ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/reset").status, 200); }

  int64_t fake_stat(const std::string& name) {
    return json::parse(fake.stats_json()).as_object().at(name).as_int64();
  }

  TempDir dir_a, dir_b, dir_c, shared;
  RedisServer redis{shared.file("redis")};
  FakeUpstreamProcess fake{shared};
  std::vector<std::unique_ptr<RelayProcess>> relays;
  std::string key, key_id, account_id;
};

TEST_F(InstancesTest, ConcurrencyFiveHoldsAcrossInstancesAndSurvivesACrash) {
  make_key({"--concurrency", "5"});
  reset_fake();  // also zeroes maxInFlight
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":4,"dripMs":150})"));
  auto statuses = burst(200, true);
  int ok = 0, limited = 0;
  for (int s : statuses) {
    ok += s == 200;
    limited += s == 429;
  }
  EXPECT_EQ(ok + limited, 200) << "only 200 or 429";
  EXPECT_GE(ok, 5);
  EXPECT_LE(fake_stat("maxInFlight"), 5) << "never more than 5 at the upstream";
  EXPECT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "limit:concurrency:" + key_id}) == "0"; }, 2s))
      << "no slot left held";

  // An instance dies holding all five slots, the key's and the account's (capped, so its
  // requests take account slots too): they come free within the lease TTL (3 s).
  ASSERT_EQ(relays[0]->cli({"accounts", "update", account_id, "--max-concurrency", "50"}).exit_code, 0);
  std::string account_slots = "load_balance:{lb}:leases:" + account_id;
  reset_fake();
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":100,"dripMs":1000})", 5));
  std::string raw = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body(true).size()) +
                    "\r\n\r\n" + body(true);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(std::make_unique<RawConnection>(relays[2]->port()));
    ASSERT_TRUE(held.back()->send(raw));
    EXPECT_NE(held.back()->receive(500ms).find("message_start"), std::string::npos);
  }
  EXPECT_EQ(redis.cli({"ZCARD", "limit:concurrency:" + key_id}), "5");
  EXPECT_EQ(redis.cli({"ZCARD", account_slots}), "5");
  EXPECT_EQ(post(0, false).status, 429);
  // Past the 3 s lease TTL the live streams still hold their slots: the leases are renewed.
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(post(1, false).status, 429);
  relays[2]->process().send_signal(SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return post(0, false).status == 200; }, 6s));
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 4500ms) << "free within the lease TTL";
  auto live_account_slots = [&] {  // leases are scored by their expiry (ms)
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    return redis.cli({"ZCOUNT", account_slots, std::string("(").append(std::to_string(now)), "+inf"});
  };
  EXPECT_TRUE(wait_until([&] { return live_account_slots() == "0"; }, 4500ms)) << "the account's slots come free too";
}

TEST_F(InstancesTest, RateWindowOfTenAcrossThreeInstancesLetsExactlyTenPass) {
  make_key({"--rate-window", "1", "--rate-requests", "10"});
  auto statuses = burst(45, false);
  int ok = 0, limited = 0;
  for (int s : statuses) {
    ok += s == 200;
    limited += s == 429;
  }
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(limited, 35);
}

// A key disabled through one instance is refused by every instance within a second, with limits
// on or off (a key's state is never waited out at a lease's expiry).
TEST_F(InstancesTest, AKeyDisabledOnOneInstanceIsRefusedByTheOthersWithinASecond) {
  make_key({"--concurrency", "100", "--daily-cost", "1000"});
  for (size_t i = 0; i < relays.size(); ++i) ASSERT_EQ(post(i, false).status, 200) << "instance " << i;
  auto disabled_at = std::chrono::steady_clock::now();
  ASSERT_EQ(relays[0]->cli({"keys", "disable", key_id}).exit_code, 0);
  for (size_t i = 1; i < relays.size(); ++i) {
    EXPECT_TRUE(wait_until([&] { return post(i, false).status == 403; }, 1s, 10ms)) << "instance " << i;
  }
  auto took = std::chrono::steady_clock::now() - disabled_at;  // with the CLI's own start
  std::cout << "refused everywhere "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms after the change\n";
  ASSERT_EQ(relays[0]->cli({"keys", "enable", key_id}).exit_code, 0);
  for (size_t i = 0; i < relays.size(); ++i)
    EXPECT_TRUE(wait_until([&] { return post(i, false).status == 200; }, 1s, 10ms)) << "instance " << i;
}

// ---- leased admission (limits/grants.hpp): keys with wide limits ----

std::map<std::string, int64_t> commandstats(RedisServer& redis) {
  std::map<std::string, int64_t> calls;
  std::string text = redis.cli({"INFO", "commandstats"});
  size_t at = 0;
  while ((at = text.find("cmdstat_", at)) != std::string::npos) {
    size_t colon = text.find(':', at), c = text.find("calls=", at);
    calls[text.substr(at + 8, colon - at - 8)] = std::stoll(text.substr(c + 6));
    at = colon;
  }
  return calls;
}

// A key with wide limits is admitted from each instance's share of them: no admission script
// and no lease per request, only a grant now and then; every request is still charged.
TEST_F(InstancesTest, WideLimitsAreAdmittedFromGrantsWithoutARedisCallPerRequest) {
  make_key({"--concurrency", "1000", "--daily-cost", "1000", "--rate-window", "1", "--rate-requests", "100000"});
  redis.cli({"CONFIG", "RESETSTAT"});
  for (int i = 0; i < 300; ++i) ASSERT_EQ(post(i, false).status, 200) << i;
  auto calls = commandstats(redis);
  std::cout << "300 requests: " << calls["evalsha"] + calls["eval"] << " script calls, " << calls["zadd"]
            << " ZADD, " << calls["hmget"] << " HMGET\n";
  EXPECT_LT(calls["zadd"], 30) << "no concurrency lease per request";
  EXPECT_LT(calls["evalsha"] + calls["eval"], 200) << "no admission script per request";
  EXPECT_TRUE(wait_until([&] { return redis.cli({"XLEN", "usage:batches"}) != "0"; }, 5s));
  // Once the shares are given back (idle 2 s), nothing is held and the window counts 300.
  EXPECT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "limit:grants:" + key_id}) == "0"; }, 10s, 100ms));
  EXPECT_EQ(redis.cli({"HGET", "limit:" + key_id, "grantSlots"}), "0");
  EXPECT_EQ(redis.cli({"HGET", "limit:" + key_id, "resCost"}), "0");
  EXPECT_EQ(redis.cli({"HGET", "limit:" + key_id, "winRequests"}), "300");
  EXPECT_TRUE(wait_until([&] {
    return redis.cli({"HGET", "limit:" + key_id, "totalTokens"}) != "" &&
           std::stoll(redis.cli({"HGET", "limit:" + key_id, "totalTokens"})) > 0;
  }, 5s));
}

// A window of 300 requests shared out by grants across three instances: a burst never gets
// more than 300 through; what the instances were granted and did not use comes back when they
// go idle (the bound documented: unused shares are unavailable to others meanwhile), and in
// the end exactly 300 have passed.
TEST_F(InstancesTest, AWindowSharedOutByGrantsIsNeverExceededAndWhatComesBackIsUsed) {
  make_key({"--rate-window", "10", "--rate-requests", "300"});
  auto statuses = burst(360, false);
  int ok = static_cast<int>(std::count(statuses.begin(), statuses.end(), 200));
  int limited = static_cast<int>(std::count(statuses.begin(), statuses.end(), 429));
  EXPECT_EQ(ok + limited, 360);
  EXPECT_LE(ok, 300);
  ASSERT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "limit:grants:" + key_id}) == "0"; }, 10s, 100ms))
      << "idle shares given back";
  // One by one over the instances: a refusal before 300 can only be requests granted to another
  // instance and not used yet; they come back when it goes idle.
  int waits = 0;
  for (int i = 0; ok < 300 && i < 1000; ++i) {
    int status = post(static_cast<size_t>(i), false).status;
    ok += status == 200;
    if (status == 200) continue;
    ASSERT_EQ(status, 429);
    ++waits;
    ASSERT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "limit:grants:" + key_id}) == "0"; }, 10s, 100ms));
  }
  std::cout << "300 passed; " << waits << " refusal(s) while shares were still held elsewhere\n";
  EXPECT_EQ(ok, 300);
  ASSERT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "limit:grants:" + key_id}) == "0"; }, 10s, 100ms));
  for (size_t i = 0; i < relays.size(); ++i) EXPECT_EQ(post(i, false).status, 429) << "instance " << i;
}

// SIGTERM gives an instance's shares back before it exits: other instances find them free at
// once, not when the grant would expire (the lease TTL).
TEST_F(InstancesTest, AStoppedInstanceGivesBackItsSharesBeforeItExits) {
  make_key({"--concurrency", "1000", "--rate-window", "1", "--rate-requests", "100000"});
  // A share is given back after 2 s idle anyway: stop right after a request that left one held.
  bool held = false;
  for (int i = 0; i < 20 && !held; ++i) {
    ASSERT_EQ(post(0, false).status, 200) << i;
    held = redis.cli({"ZCARD", "limit:grants:" + key_id}) != "0";
  }
  ASSERT_TRUE(held) << "instance 0 admits from a share";
  ASSERT_EQ(relays[0]->stop(), 0);
  EXPECT_EQ(redis.cli({"ZCARD", "limit:grants:" + key_id}), "0") << "given back before the exit";
  EXPECT_EQ(redis.cli({"HGET", "limit:" + key_id, "grantSlots"}), "0");
  EXPECT_EQ(redis.cli({"ZCARD", "limit:concurrency:" + key_id}), "0");
}

// Concurrency 40 shared out by grants under a burst of slow streams: never more than 40 at the
// upstream; afterwards no slot is held or granted.
TEST_F(InstancesTest, ConcurrencySharedOutByGrantsIsNeverExceeded) {
  make_key({"--concurrency", "40"});
  reset_fake();
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":10,"dripMs":50})"));
  auto statuses = burst(120, true);
  int ok = static_cast<int>(std::count(statuses.begin(), statuses.end(), 200));
  int limited = static_cast<int>(std::count(statuses.begin(), statuses.end(), 429));
  EXPECT_EQ(ok + limited, 120);
  EXPECT_GE(ok, 20);
  EXPECT_LE(fake_stat("maxInFlight"), 40);
  EXPECT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "limit:grants:" + key_id}) == "0"; }, 10s, 100ms));
  EXPECT_EQ(redis.cli({"HGET", "limit:" + key_id, "grantSlots"}), "0");
  EXPECT_EQ(redis.cli({"ZCARD", "limit:concurrency:" + key_id}), "0");
}

}  // namespace
}  // namespace crs::test
