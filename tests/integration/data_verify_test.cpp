// crs data verify [--repair] against the real binary and a real redis-server: every kind of
// damage it looks for is made by hand, found, repaired, and found no more.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

class DataVerify : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
    relay = std::make_unique<RelayProcess>(
        dir, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                      "ENCRYPTION_KEY=dddddddddddddddddddddddddddddddd",
                                      "JWT_SECRET=jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", "WORKERS=1"});
    ASSERT_TRUE(relay->start()) << relay->log();
  }

  json::object verify(bool repair, int expected_exit) {
    std::vector<std::string> args{"data", "verify", "--json"};
    if (repair) args.push_back("--repair");
    auto r = relay->cli(args);
    EXPECT_EQ(r.exit_code, expected_exit) << r.err << r.out;
    return r.out.empty() ? json::object{} : json::parse(r.out).as_object();
  }

  static std::vector<std::string> checks(const json::object& report) {
    std::vector<std::string> out;
    for (const auto& f : report.at("findings").as_array())
      out.push_back(std::string(f.as_object().at("check").as_string()) + " " +
                    std::string(f.as_object().at("subject").as_string()));
    return out;
  }

  std::pair<std::string, std::string> make_key(const std::string& name) {
    auto r = relay->cli({"keys", "create", "--name", name, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto o = json::parse(r.out).as_object();
    return {std::string(o.at("key").as_string()), std::string(o.at("id").as_string())};
  }

  TempDir dir;
  RedisServer redis{dir.path() + "/redis-data"};
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
};

bool has(const std::vector<std::string>& found, const std::string& what) {
  return std::find(found.begin(), found.end(), what) != found.end();
}

TEST_F(DataVerify, FindsRepairsAndThenFindsNothing) {
  auto added = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "c", "--base-url", fake.url(),
                           "--api-key", "sk-ant-api03-verify-0000", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  std::string account(json::parse(added.out).as_object().at("id").as_string());
  auto [key, id] = make_key("verified");
  auto [gone_key, gone_id] = make_key("index-only");
  auto request = [&] {
    return http_request(relay->port(), "POST", "/v1/messages",
                        R"({"model":"claude-sonnet-4-5-20250929","max_tokens":5,"messages":[{"role":"user","content":"x"}]})",
                        {{"x-api-key", key}, {"content-type", "application/json"}})
        .status;
  };
  ASSERT_TRUE(wait_until([&] { return request() == 200; }));
  ASSERT_TRUE(wait_until([&] { return redis.cli({"HGET", "usage:" + id, "totalRequests"}) == "1"; }, 15s));
  auto clean = verify(false, 0);
  EXPECT_TRUE(clean.at("findings").as_array().empty()) << json::serialize(clean);
  EXPECT_EQ(clean.at("checked").as_object().at("keys").as_int64(), 2);

  // The damage: a key out of both indexes, a dangling digest entry, a stale (renewed) digest, an
  // account out of its index, a group listing a missing account, usage totals off by one.
  std::string digest = redis.cli({"HGET", "apikey:" + id, "apiKey"});
  redis.cli({"HDEL", "apikey:hash_map", digest});
  redis.cli({"ZREM", "apikey:idx:createdAt", id});
  redis.cli({"DEL", "apikey:" + gone_id});
  redis.cli({"HSET", "apikey:hash_map", std::string(64, 'e'), id});
  redis.cli({"SREM", "crs:account:index", account});
  auto group = relay->cli({"groups", "create", "--name", "g", "--json"});
  ASSERT_EQ(group.exit_code, 0) << group.err;
  std::string group_id(json::parse(group.out).as_object().at("id").as_string());
  redis.cli({"SADD", "crs:account_group:" + group_id + ":members", "no-such-account"});
  redis.cli({"HINCRBY", "usage:" + id, "totalRequests", "1"});

  auto found = verify(false, 1);
  auto c = checks(found);
  EXPECT_TRUE(has(c, "keys.digest-index " + id)) << json::serialize(found);
  EXPECT_TRUE(has(c, "keys.creation-index " + id));
  EXPECT_TRUE(has(c, "keys.digest-index " + gone_id));     // its entry, with no record
  EXPECT_TRUE(has(c, "keys.creation-index " + gone_id));
  EXPECT_TRUE(has(c, "accounts.index " + account));
  EXPECT_TRUE(has(c, "groups.members " + group_id));
  EXPECT_TRUE(has(c, "usage.totals " + id));
  EXPECT_EQ(redis.cli({"HGET", "usage:" + id, "totalRequests"}), "2");  // verify alone changes nothing

  auto repaired = verify(true, 0);
  EXPECT_EQ(repaired.at("unrepaired").as_int64(), 0) << json::serialize(repaired);
  EXPECT_TRUE(verify(false, 0).at("findings").as_array().empty());
  EXPECT_EQ(redis.cli({"HGET", "usage:" + id, "totalRequests"}), "1");
  EXPECT_EQ(redis.cli({"HGET", "apikey:hash_map", std::string(64, 'e')}), "");
  // The repair told every instance to reload: the key authenticates through its new entry.
  EXPECT_TRUE(wait_until([&] { return request() == 200; }));
  EXPECT_NE(redis.cli({"ZSCORE", "apikey:idx:createdAt", id}), "");
}

TEST_F(DataVerify, CredentialsSealedWithAnotherKeyAreReportedNotRepaired) {
  auto added = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "c", "--base-url", fake.url(),
                           "--api-key", "sk-ant-api03-verify-0001", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  auto r = run_command({crs_binary(), "data", "verify", "--json", "--repair"},
                       {"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                        "ENCRYPTION_KEY=ffffffffffffffffffffffffffffffff"},
                       dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto report = json::parse(r.out).as_object();
  auto c = checks(report);
  ASSERT_EQ(c.size(), 1u) << r.out;
  EXPECT_TRUE(c[0].starts_with("accounts.credentials ")) << c[0];
  EXPECT_FALSE(report.at("findings").as_array()[0].as_object().at("repaired").as_bool());
}

}  // namespace
}  // namespace crs::test
