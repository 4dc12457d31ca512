// Zero-downtime upgrade: a second `crs serve --takeover` listens on the port of a running one,
// takes every new connection, and the first stops on SIGTERM after finishing what it has. Under
// continuous load (new connections, streamed and whole answers) no request fails.
#include <csignal>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string message(bool stream) {
  return std::string(R"({"model":"claude-sonnet-4-5-20250929","max_tokens":20,"stream":)") + (stream ? "true" : "false") +
         R"(,"messages":[{"role":"user","content":"hi"}]})";
}

class TakeoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
  }
  std::vector<std::string> env(const std::string& port = "") {
    std::vector<std::string> e{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                               "ENCRYPTION_KEY=tttttttttttttttttttttttttttttttt",
                               "JWT_SECRET=wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"};
    if (!port.empty()) e.push_back("PORT=" + port);
    return e;
  }
  // Clients that each open a new connection per request until told to stop.
  void load(int port) {
    for (int t = 0; t < 4; ++t)
      clients.emplace_back([this, port, t] {
        for (int i = 0; !stop; ++i) {
          bool stream = (i + t) % 2 == 0;
          auto r = http_request(port, "POST", "/v1/messages", message(stream),
                                {{"x-api-key", key}, {"content-type", "application/json"}}, 30s);
          bool ok = r.status == 200 && (!stream || r.body.find("message_stop") != std::string::npos);
          (ok ? succeeded : failed)++;
          if (!ok) {
            std::lock_guard lock(mutex);
            failures.push_back(std::to_string(r.status) + " " + r.body.substr(0, 200));
          }
        }
      });
  }
  void finish_load() {
    stop = true;
    for (auto& c : clients) c.join();
    clients.clear();
  }
  void TearDown() override {
    if (!clients.empty()) finish_load();
  }

  TempDir dir_a, dir_b, shared;
  RedisServer redis{shared.file("redis")};
  FakeUpstreamProcess fake{shared};
  std::string key, key_id;
  std::vector<std::thread> clients;
  std::atomic<bool> stop{false};
  std::atomic<int> succeeded{0}, failed{0};
  std::mutex mutex;
  std::vector<std::string> failures;
};

TEST_F(TakeoverTest, ANewProcessTakesThePortUnderLoadAndNoRequestFails) {
  RelayProcess old_relay(dir_a, env());
  ASSERT_TRUE(old_relay.start()) << old_relay.log();
  int port = old_relay.port();
  auto added = old_relay.cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                              "--api-key", "sk-ant-api03-takeover-000000", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  auto created = old_relay.cli({"keys", "create", "--name", "k", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  key = std::string(json::parse(created.out).as_object().at("key").as_string());
  key_id = std::string(json::parse(created.out).as_object().at("id").as_string());
  ASSERT_TRUE(wait_until([&] {
    return http_request(port, "POST", "/v1/messages", message(false), {{"x-api-key", key}}).status == 200;
  }));

  // Without --takeover, a second crs on the port is refused, and the first serves on.
  RelayProcess intruder(dir_b, env(std::to_string(port)));
  intruder.start(/*wait_healthy=*/false);
  ASSERT_TRUE(intruder.process().wait_for(10s).has_value());
  EXPECT_NE(intruder.log().find("start the new one with --takeover"), std::string::npos) << intruder.log();

  load(port);
  ASSERT_TRUE(wait_until([&] { return succeeded >= 40; }, 30s));
  RelayProcess new_relay(dir_b, env(std::to_string(port)));
  new_relay.serve_flags = {"--takeover"};
  ASSERT_TRUE(new_relay.start(/*wait_healthy=*/false)) << new_relay.log();
  ASSERT_TRUE(wait_until([&] { return new_relay.log().find("listening on") != std::string::npos; }, 20s))
      << new_relay.log();
  EXPECT_NE(new_relay.log().find("new connections come here"), std::string::npos) << new_relay.log();
  // A third while two share the port: refused (the kernel's group would move the indexes).
  TempDir third_dir;
  RelayProcess third(third_dir, env(std::to_string(port)));
  third.serve_flags = {"--takeover"};
  third.start(/*wait_healthy=*/false);
  ASSERT_TRUE(third.process().wait_for(10s).has_value());
  EXPECT_NE(third.log().find("a takeover is under way"), std::string::npos) << third.log();

  // Every new connection goes to the new process: with the old one frozen, requests still pass.
  ASSERT_TRUE(old_relay.process().send_signal(SIGSTOP));
  for (int i = 0; i < 20; ++i) {
    auto r = http_request(port, "POST", "/v1/messages", message(i % 2), {{"x-api-key", key}}, 5s);
    EXPECT_EQ(r.status, 200) << "request " << i << " reached the frozen process";
  }
  ASSERT_TRUE(old_relay.process().send_signal(SIGCONT));

  int before_stop = succeeded;
  ASSERT_TRUE(old_relay.process().send_signal(SIGTERM));
  auto code = old_relay.process().wait_for(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << old_relay.log();
  ASSERT_TRUE(wait_until([&] { return succeeded >= before_stop + 40; }, 30s));
  finish_load();
  EXPECT_EQ(failed, 0) << (failures.empty() ? "" : failures.front());
  EXPECT_GE(succeeded, 80);
  EXPECT_EQ(http_get(port, "/health").status, 200);

  // Every request relayed was metered once, by one process or the other.
  auto upstream = json::parse(fake.requests_json()).as_object().at("requests").as_array().size();
  auto metered = [&]() -> int64_t {
    auto usage = new_relay.cli({"usage", "--key", key_id, "--json"});
    if (usage.exit_code != 0) return -1;
    return json::parse(usage.out).at("total").at("requests").as_int64();
  };
  EXPECT_TRUE(wait_until([&] { return metered() == static_cast<int64_t>(upstream); }, 20s))
      << metered() << " metered, " << upstream << " relayed";
}

TEST_F(TakeoverTest, TakeoverNeedsAnExternalRedis) {
  RelayProcess relay(dir_a, {});
  relay.serve_flags = {"--takeover"};
  relay.start(/*wait_healthy=*/false);
  auto code = relay.process().wait_for(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(relay.log().find("--takeover needs an external Redis"), std::string::npos) << relay.log();
}

}  // namespace
}  // namespace crs::test
