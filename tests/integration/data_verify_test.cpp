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

// The schema version: stamped on a fresh database, migrations run once (idempotent), data of a
// newer crs refused by serve, migrate and restore.
TEST_F(DataVerify, SchemaIsStampedMigratedOnceAndNewerDataIsRefused) {
  ASSERT_TRUE(wait_until([&] { return redis.cli({"GET", "crs:schema_version"}) == "1"; }));
  auto dry = relay->cli({"data", "migrate", "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(json::parse(dry.out).as_object().at("pending").as_array().empty()) << dry.out;

  // Data from before versions existed, with a key its creation index lost.
  auto [key, id] = make_key("old-data");
  redis.cli({"DEL", "crs:schema_version"});
  redis.cli({"ZREM", "apikey:idx:createdAt", id});
  auto pending = relay->cli({"data", "migrate", "--dry-run", "--json"});
  ASSERT_EQ(pending.exit_code, 0) << pending.err;
  EXPECT_EQ(json::parse(pending.out).as_object().at("pending").as_array().size(), 1u) << pending.out;
  EXPECT_EQ(redis.cli({"GET", "crs:schema_version"}), "");  // a dry run writes nothing
  auto applied = relay->cli({"data", "migrate", "--json"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  auto result = json::parse(applied.out).as_object();
  EXPECT_EQ(result.at("applied").as_array().size(), 1u) << applied.out;
  EXPECT_EQ(result.at("versionAfter").as_int64(), 1);
  EXPECT_NE(redis.cli({"ZSCORE", "apikey:idx:createdAt", id}), "");
  auto again = relay->cli({"data", "migrate", "--json"});
  EXPECT_TRUE(json::parse(again.out).as_object().at("applied").as_array().empty()) << again.out;

  // A newer crs wrote the data: refused by migrate, by a backup's restore and by serve.
  redis.cli({"SET", "crs:schema_version", "99"});
  auto refused = relay->cli({"data", "migrate"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("newer than this crs"), std::string::npos) << refused.err;
  ASSERT_EQ(relay->cli({"backup", "--out", dir.file("newer.crsbak")}).exit_code, 0);
  ASSERT_EQ(relay->stop(), 0);
  redis.cli({"FLUSHALL"});
  auto restore = relay->cli({"restore", "--in", dir.file("newer.crsbak")});
  EXPECT_NE(restore.exit_code, 0);
  EXPECT_NE(restore.err.find("newer than this crs"), std::string::npos) << restore.err;
  EXPECT_EQ(redis.cli({"DBSIZE"}), "0");

  redis.cli({"SET", "crs:schema_version", "99"});
  RelayProcess newer(dir, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                                   "ENCRYPTION_KEY=dddddddddddddddddddddddddddddddd",
                                                   "JWT_SECRET=jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", "WORKERS=1"});
  newer.start(false);
  auto code = newer.process().wait_for(15s);
  ASSERT_TRUE(code.has_value()) << newer.log();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(newer.log().find("not serving: the data is at schema version 99"), std::string::npos) << newer.log();
  EXPECT_EQ(redis.cli({"GET", "crs:schema_version"}), "99");  // untouched
}

}  // namespace
}  // namespace crs::test
