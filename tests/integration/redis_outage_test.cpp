// Redis going away under the relay: refused cleanly by default, or relayed with the usage
// journaled and written once Redis is back (relay.admitWhenRedisDown); and a one-second blip
// under load leaves no slot held and no usage lost or counted twice.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

const std::string kAccountKey = "sk-ant-api03-outage-account-000";

std::string body(bool stream) {
  return std::string(R"({"model":"claude-sonnet-4-5-20250929","max_tokens":50,"stream":)") +
         (stream ? "true" : "false") + R"(,"messages":[{"role":"user","content":"hi"}]})";
}

class RedisOutageTest : public ::testing::Test {
 protected:
  void start(const std::string& config_toml, std::vector<std::string> key_flags = {}) {
    redis.persist();
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
    if (!config_toml.empty()) dir.write("config/config.toml", config_toml);
    relay = std::make_unique<RelayProcess>(
        dir, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port())});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto a = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                         "--api-key", kAccountKey, "--json"});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    key_flags.insert(key_flags.begin(), {"keys", "create", "--name", "k", "--json"});
    auto k = relay->cli(key_flags);
    ASSERT_EQ(k.exit_code, 0) << k.err;
    auto o = json::parse(k.out).as_object();
    key = std::string(o["key"].as_string());
    key_id = std::string(o["id"].as_string());
    // Cached by the relay, and the account loaded.
    ASSERT_TRUE(wait_until([&] { return post(false).status == 200; }, 5s)) << relay->log();
  }

  HttpResponse post(bool stream) {
    return http_request(relay->port(), "POST", "/v1/messages", body(stream),
                        {{"x-api-key", key}, {"content-type", "application/json"}});
  }

  size_t upstream_requests() {
    return json::parse(fake.requests_json()).as_object()["requests"].as_array().size();
  }

  // The request ids of the key's usage records, each as often as it was recorded.
  std::multiset<std::string> recorded_ids() {
    std::multiset<std::string> ids;
    std::string out = redis.cli({"LRANGE", "usage:records:" + key_id, "0", "-1"});
    size_t start = 0;
    while (start < out.size()) {
      size_t end = out.find('\n', start);
      if (end == std::string::npos) end = out.size();
      if (end > start) ids.insert(std::string(json::parse(out.substr(start, end - start)).as_object()["requestId"].as_string()));
      start = end + 1;
    }
    return ids;
  }

  TempDir dir;
  RedisServer redis{dir.file("redis")};
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  std::string key, key_id;
};

// By default nothing is relayed that cannot be counted: clean 503s with Retry-After.
TEST_F(RedisOutageTest, RefusedByDefaultWhileRedisIsDown) {
  start("");
  size_t before = upstream_requests();
  redis.kill_hard();
  ASSERT_TRUE(wait_until([&] { return http_get(relay->port(), "/health").status == 503; }, 5s));
  for (int i = 0; i < 5; ++i) {
    auto r = post(i % 2 == 0);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_FALSE(r.header("retry-after").empty());
  }
  EXPECT_EQ(upstream_requests(), before) << "nothing may be relayed while nothing can be counted";
}

// relay.admitWhenRedisDown: relayed for a cached key; the usage waits in the journal (0600)
// and is written once Redis is back, each record once.
TEST_F(RedisOutageTest, AdmittedWhenConfiguredAndTheUsageIsWrittenOnceRedisIsBack) {
  start("[relay]\nadmitWhenRedisDown = true\n");
  redis.kill_hard();
  ASSERT_TRUE(wait_until([&] { return http_get(relay->port(), "/health").status == 503; }, 5s));
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = post(i % 2 == 0);
    ASSERT_EQ(r.status, 200) << r.body;
    ids.insert(r.header("x-request-id"));
  }
  // Each answer's usage is in the journal before its client saw the answer end.
  std::string journal;
  for (const auto& e : std::filesystem::directory_iterator(dir.file("data"))) {
    if (!e.path().filename().string().starts_with("usage-journal-" + std::to_string(relay->port()) + "-")) continue;
    journal += read_file(e.path().string());
    struct stat st {};
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  for (const auto& id : ids) EXPECT_NE(journal.find(id), std::string::npos) << id;

  ASSERT_TRUE(redis.start());
  ASSERT_TRUE(wait_until([&] {
    auto got = recorded_ids();
    return std::all_of(ids.begin(), ids.end(), [&](const std::string& id) { return got.count(id) > 0; });
  }, 15s)) << relay->log();
  auto got = recorded_ids();
  for (const auto& id : ids) EXPECT_EQ(got.count(id), 1u) << id;
}

// Redis restarted for a second under load on a key with concurrency 10: afterwards no slot is
// held, every answer the upstream completed is recorded exactly once, and no client within its
// limit is told 429.
TEST_F(RedisOutageTest, ABlipUnderLoadLeavesNoSlotHeldAndLosesNoUsage) {
  start("[usage]\nrecordsPerKey = 100000\n", {"--concurrency", "10"});
  ASSERT_TRUE(fake.script("*", R"({"deltas":5,"dripMs":40})"));
  std::atomic<bool> stop{false};
  std::atomic<int> too_many{0}, ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&, i] {
      while (!stop) {
        int status = post(i % 2 == 0).status;
        if (status == 429) ++too_many;
        if (status == 200) ++ok;
      }
    });
  wait_until([&] { return ok.load() >= 16; }, 10s);
  redis.kill_hard();
  std::this_thread::sleep_for(1s);  // the outage under test
  ASSERT_TRUE(redis.start());
  int ok_at_restart = ok.load();
  wait_until([&] { return ok.load() >= ok_at_restart + 16; }, 10s);
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(too_many.load(), 0) << "a key within its limit was refused";
  EXPECT_TRUE(wait_until([&] { return redis.cli({"ZCARD", "limit:concurrency:" + key_id}) == "0"; }, 2s))
      << "slots still held 2 s after the load ended";
  // Every request the upstream answered in full is recorded, once.
  size_t completed = 0;
  json::value fake_requests = json::parse(fake.requests_json());
  for (const auto& r : fake_requests.as_object()["requests"].as_array())
    if (r.as_object().at("outcome").as_string() == "complete") ++completed;
  std::multiset<std::string> got;
  bool all = wait_until([&] {
    got = recorded_ids();
    return got.size() >= completed;
  }, 10s);
  EXPECT_TRUE(all) << got.size() << " recorded, " << completed << " completed\n" << relay->log();
  EXPECT_EQ(got.size(), completed);
  for (const auto& id : got) EXPECT_EQ(got.count(id), 1u) << id;
}

}  // namespace
}  // namespace crs::test
