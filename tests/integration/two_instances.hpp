#pragma once
// Two `crs serve` instances on one Redis, with accounts of the fake upstream: the fixture of the
// load-balancing and account-health tests.
#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {

namespace json = boost::json;
using namespace std::chrono_literals;

inline std::string body(bool stream, const std::string& model = "claude-sonnet-4-5-20250929", const std::string& user = "") {
  std::string metadata = user.empty() ? "" : R"(,"metadata":{"user_id":")" + user + R"("})";
  return R"({"model":")" + model + R"(","max_tokens":50,"stream":)" + (stream ? "true" : "false") + metadata +
         R"(,"messages":[{"role":"user","content":"hi"}]})";
}

inline std::string session_user(const std::string& session) {
  return "user_" + std::string(64, 'a') + "_account_11111111-2222-3333-4444-555555555555_session_" + session;
}

class TwoInstances : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
  }

  // Two instances with `config` (TOML) on the shared Redis.
  void start(const std::string& config = "") {
    for (auto* d : {&dir_a, &dir_b}) {
      d->write("config/config.toml", "[relay]\nconcurrencyLeaseTtl = 3\n" + config);
      relays.push_back(std::make_unique<RelayProcess>(
          *d, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                       "ENCRYPTION_KEY=llllllllllllllllllllllllllllllll", "JWT_SECRET=jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", "WORKERS=1",
                                       "LOG_LEVEL=info"}));
      ASSERT_TRUE(relays.back()->start()) << relays.back()->log();
    }
  }

  std::string add_account(const std::string& name, const std::vector<std::string>& flags = {}) {
    std::vector<std::string> args{"accounts", "add", "--type", "claude-console", "--name", name, "--base-url",
                                  fake.url(), "--api-key", credential(name), "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = relays[0]->cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::string(json::parse(r.out).as_object().at("id").as_string());
  }
  static std::string credential(const std::string& name) { return "sk-ant-api03-lb-" + name + "-0000000000"; }

  // A key, usable on both instances (and every account added before it is known to both).
  void make_key(std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"keys", "create", "--name", "lb", "--json"});
    auto r = relays[0]->cli(flags);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    key = std::string(json::parse(r.out).as_object().at("key").as_string());
    key_id = std::string(json::parse(r.out).as_object().at("id").as_string());
    for (auto& relay : relays)
      ASSERT_TRUE(wait_until([&] {
        return http_request(relay->port(), "POST", "/v1/messages", body(false), {{"x-api-key", key}}).status == 200;
      }, 10s));
    reset_fake();
  }

  HttpResponse post(size_t instance, const std::string& payload, std::chrono::milliseconds timeout = 30s) {
    return http_request(relays[instance % relays.size()]->port(), "POST", "/v1/messages", payload,
                        {{"x-api-key", key}, {"content-type", "application/json"}}, timeout);
  }

  void reset_fake() { ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/reset").status, 200); }

  json::array recorded() {
    return json::parse(fake.requests_json()).as_object().at("requests").as_array();
  }
  std::vector<std::string> credentials_seen() {
    std::vector<std::string> out;
    for (const auto& r : recorded()) out.emplace_back(r.as_object().at("credential").as_string());
    return out;
  }
  // The fake's counts for an account's credential: total, inFlight, maxInFlight (0 if never seen).
  json::object by_credential(const std::string& name) {
    auto stats = json::parse(fake.stats_json()).as_object().at("byCredential").as_object();
    auto* c = stats.if_contains(credential(name));
    return c ? c->as_object() : json::object{{"total", 0}, {"inFlight", 0}, {"maxInFlight", 0}};
  }

  TempDir dir_a, dir_b, shared;
  RedisServer redis{shared.file("redis")};
  FakeUpstreamProcess fake{shared};
  std::vector<std::unique_ptr<RelayProcess>> relays;
  std::string key, key_id;
};

}  // namespace crs::test
