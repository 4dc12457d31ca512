// Three `crs serve` instances on one Redis: a key's limits hold across all of them.
#include <csignal>
#include <future>
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

}  // namespace
}  // namespace crs::test
