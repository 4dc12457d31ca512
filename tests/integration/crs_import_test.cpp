// crs import crs against the real binary: a Redis filled with the Node.js service's layout by
// tests/ops/crs_fixture.mjs (its own hashing and encryption, through node:crypto), imported, and
// its `cr_` keys relaying through the imported accounts; a second run changes nothing.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

constexpr const char* kCrsKey = "crs-node-service-key-0123456789ab";

std::string body() {
  return R"({"model":"claude-sonnet-4-5-20250929","max_tokens":20,"messages":[{"role":"user","content":"hi"}]})";
}

class CrsImport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(source.start());
    ASSERT_TRUE(fake.start());
    auto made = run_command({"node", source_dir() + "/tests/ops/crs_fixture.mjs", "--port", std::to_string(source.port()),
                             "--encryption-key", kCrsKey, "--upstream", fake.url()});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    fixture = json::parse(made.out).as_object();
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{std::string("ENCRYPTION_KEY=") + kCrsKey});
    ASSERT_TRUE(relay->start()) << relay->log();
  }

  CommandResult import(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"import", "crs", "--redis-url", "redis://127.0.0.1:" + std::to_string(source.port()),
                                  "--crs-encryption-key", kCrsKey, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return relay->cli(args);
  }

  static int64_t count(const json::object& report, const char* kind, const char* outcome) {
    return report.at("counts").as_object().at(kind).as_object().at(outcome).as_int64();
  }

  std::string key(const std::string& name) {
    for (const auto& k : fixture.at("keys").as_array())
      if (k.as_object().at("name").as_string() == name) return std::string(k.as_object().at("plaintext").as_string());
    return "";
  }

  int relay_with(const std::string& k) {
    return http_request(relay->port(), "POST", "/v1/messages", body(),
                        {{"x-api-key", k}, {"content-type", "application/json"}})
        .status;
  }

  TempDir dir;
  RedisServer source{dir.path() + "/crs-redis"};
  FakeUpstreamProcess fake{dir};
  json::object fixture;
  std::unique_ptr<RelayProcess> relay;
};

TEST_F(CrsImport, KeysAndAccountsOfTheNodeServiceWorkHereAndASecondRunChangesNothing) {
  // Before: the Node.js service's keys are unknown here.
  EXPECT_EQ(relay_with(key("bound-to-console")), 401);

  auto dry = import({"--dry-run"});
  ASSERT_EQ(dry.exit_code, 1) << dry.err;  // the broken account is reported as failing
  auto dry_report = json::parse(dry.out).as_object();
  EXPECT_EQ(count(dry_report, "keys", "imported"), 2) << dry.out;
  EXPECT_EQ(relay_with(key("bound-to-console")), 401);  // nothing written

  auto first = import();
  auto report = json::parse(first.out).as_object();
  EXPECT_EQ(count(report, "keys", "imported"), 2) << first.out;
  EXPECT_EQ(count(report, "keys", "skipped"), 1);  // deleted in the Node.js service
  EXPECT_EQ(count(report, "accounts", "imported"), 3);
  // One's secret does not decrypt, one's proxy is of no known type: told, not used.
  EXPECT_EQ(count(report, "accounts", "failed"), 2);
  EXPECT_NE(first.out.find(R"(its proxy type \"ftp\" is unknown)"), std::string::npos) << first.out;
  EXPECT_EQ(count(report, "keys", "failed"), 1);
  EXPECT_NE(first.out.find(R"(its usage total totalInputTokens \"NaN\" is not a whole number)"), std::string::npos)
      << first.out;
  EXPECT_EQ(count(report, "groups", "imported"), 1);
  EXPECT_EQ(count(report, "usage", "imported"), 2);
  EXPECT_EQ(first.out.find("sk-ant-"), std::string::npos);  // no secret in the report
  EXPECT_EQ(first.err.find("sk-ant-"), std::string::npos);

  // Its usage came along in our form: the key holder's totals and cost, its limits' counters
  // (today's cost against its daily budget), and the relay's integrity check finds it consistent.
  auto user_stats = [&] {
    auto r = http_request(relay->port(), "POST", "/apiStats/api/user-stats",
                          json::serialize(json::object{{"apiKey", key("bound-to-console")}}),
                          {{"content-type", "application/json"}});
    return r.status == 200 ? json::parse(r.body).as_object().at("data").as_object() : json::object{};
  };
  ASSERT_TRUE(wait_until([&] { return !user_stats().empty(); }));
  auto data = user_stats();
  auto total = data.at("usage").as_object().at("total").as_object();
  EXPECT_EQ(total.at("requests").as_int64(), 3) << json::serialize(data);
  EXPECT_EQ(total.at("inputTokens").as_int64(), 1200);
  EXPECT_NEAR(total.at("cost").to_number<double>(), 0.012345, 1e-9);
  auto limits = data.at("limits").as_object();
  EXPECT_NEAR(limits.at("currentTotalCost").to_number<double>(), 0.012345, 1e-9) << json::serialize(limits);
  EXPECT_NEAR(limits.at("currentDailyCost").to_number<double>(), 0.012345, 1e-9);
  auto verified = relay->cli({"data", "verify", "--json"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  // The accounts' usage came too: the Console account's totals and today's bucket (with its
  // expiry); the OAuth account's load-balancer samples of the v1.1.0 fork are named, not taken.
  EXPECT_EQ(count(report, "accountUsage", "imported"), 1) << first.out;
  EXPECT_EQ(count(report, "accountUsage", "skipped"), 1);
  EXPECT_NE(first.out.find("the v1.1.0 load balancer's samples"), std::string::npos) << first.out;
  std::string console_id;
  for (const auto& a : fixture.at("accounts").as_array())
    if (a.as_object().at("name").as_string() == "console-imported") console_id = std::string(a.as_object().at("id").as_string());
  RedisServer target(dir.file("unused-target"), relay->embedded_redis_port(), relay->embedded_redis_password());
  EXPECT_EQ(target.cli({"HGET", "account_usage:" + console_id, "totalRequests"}), "3");
  EXPECT_EQ(target.cli({"HGET", "account_usage:" + console_id, "totalAllTokens"}), "1695");
  std::string today(fixture.at("usage").at("day").as_string());
  EXPECT_EQ(target.cli({"HGET", "account_usage:daily:" + console_id + ":" + today, "inputTokens"}), "1200");
  EXPECT_GT(std::stoll(target.cli({"TTL", "account_usage:daily:" + console_id + ":" + today})), 86400 * 31);

  // Twice: nothing more, and the usage is not added again, nor the instances told. This time
  // without secrets on the command line: the URL from CRS_REDIS_URL, the key is this relay's.
  RedisServer ours(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  std::string generation = ours.cli({"HGET", "crs:data_generation", "keys"});
  auto second = relay->cli({"import", "crs", "--json"},
                           {"CRS_REDIS_URL=redis://127.0.0.1:" + std::to_string(source.port())});
  EXPECT_EQ(ours.cli({"HGET", "crs:data_generation", "keys"}), generation);
  auto again = json::parse(second.out).as_object();
  EXPECT_EQ(count(again, "keys", "imported"), 0) << second.out;
  EXPECT_EQ(count(again, "keys", "exists"), 2);
  EXPECT_EQ(count(again, "accounts", "exists"), 3);
  EXPECT_EQ(count(again, "groups", "exists"), 1);
  EXPECT_EQ(json::serialize(user_stats().at("usage")), json::serialize(data.at("usage")));

  // The keys authenticate (the same digests), and the bound one relays through the imported
  // Console account with its decrypted API key.
  ASSERT_TRUE(wait_until([&] { return relay_with(key("bound-to-console")) == 200; })) << relay->log();
  std::string console_secret;
  for (const auto& a : fixture.at("accounts").as_array())
    if (a.as_object().at("name").as_string() == "console-imported")
      console_secret = std::string(a.as_object().at("secret").as_string());
  EXPECT_NE(fake.requests_json().find(console_secret), std::string::npos);
  EXPECT_EQ(relay_with(key("grouped")), 200);  // bound to the imported group
  EXPECT_EQ(relay_with(key("soft-deleted")), 401);

  // Its limits and its binding came along; credentials only ever masked.
  auto shown = relay->cli({"--json", "keys", "list"});
  EXPECT_NE(shown.out.find("\"concurrencyLimit\":2"), std::string::npos) << shown.out;
  // Their "30.299999999999997" (a JavaScript number as text) is a limit of $30.30, not none.
  auto keys_listed = json::parse(shown.out);
  for (const auto& k : keys_listed.as_array())
    if (k.as_object().at("name").as_string() == "bound-to-console") {
      EXPECT_NEAR(k.as_object().at("totalCostLimit").to_number<double>(), 30.3, 1e-9) << shown.out;
    }
  auto accounts = relay->cli({"--json", "accounts", "list"});
  EXPECT_NE(accounts.out.find("max-imported"), std::string::npos);
  EXPECT_EQ(accounts.out.find(console_secret), std::string::npos);
  // A dedicated account stays out of the shared pool; its URL lost the path the service adds.
  auto list = json::parse(accounts.out);
  for (const auto& a : list.as_array()) {
    const auto& o = a.as_object();
    if (o.at("name").as_string() == "dedicated-imported") {
      EXPECT_FALSE(o.at("schedulable").as_bool()) << accounts.out;
      EXPECT_EQ(o.at("baseUrl").as_string(), fake.url()) << accounts.out;
    }
    if (o.at("name").as_string() == "console-imported") {
      EXPECT_TRUE(o.at("schedulable").as_bool());
    }
  }
}

// Its admin login comes only when asked; its password then works here, and the first login
// replaces the imported bcrypt hash with ours.
TEST_F(CrsImport, TheAdminLoginComesWithAdminAndItsPasswordWorks) {
  const auto& admin = fixture.at("admin").as_object();
  std::string username(admin.at("username").as_string()), password(admin.at("password").as_string());
  auto login = [&] {
    return http_request(relay->port(), "POST", "/web/auth/login",
                        json::serialize(json::object{{"username", username}, {"password", password}}),
                        {{"content-type", "application/json"}})
        .status;
  };
  auto without = json::parse(import().out).as_object();
  EXPECT_EQ(count(without, "admin", "skipped"), 1);
  EXPECT_EQ(login(), 401);

  auto with = import({"--admin"});
  EXPECT_EQ(count(json::parse(with.out).as_object(), "admin", "imported"), 1) << with.out;
  EXPECT_EQ(with.out.find("$2a$"), std::string::npos);  // the hash is not shown
  EXPECT_EQ(login(), 200);
  ASSERT_TRUE(wait_until([&] {
    auto stored = run_command({"redis-cli", "-p", std::to_string(relay->embedded_redis_port()), "--no-auth-warning",
                               "-a", relay->embedded_redis_password(), "HGET", "crs:admin:credentials",
                               "passwordHash"});
    return stored.out.starts_with("$scrypt$");
  }));
  EXPECT_EQ(login(), 200);  // with our own hash now
  auto again = json::parse(import({"--admin"}).out).as_object();
  EXPECT_EQ(count(again, "admin", "exists"), 1) << "taken before: a second run changes nothing";
  EXPECT_EQ(login(), 200);
}

TEST_F(CrsImport, AnotherTimezoneIsRefusedBeforeAnythingIsWritten) {
  // Its buckets are named by days at UTC+8 (the fixture's); this relay counts days at UTC+8 too,
  // so a service said to run at UTC+2 is refused, and nothing is imported.
  auto refused = import({"--crs-timezone-offset", "2"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.out.find("TIMEZONE_OFFSET 2 but this relay counts days in 8"), std::string::npos) << refused.out;
  EXPECT_EQ(relay_with(key("bound-to-console")), 401);
  auto taken = import({"--crs-timezone-offset", "8"});
  EXPECT_EQ(json::parse(taken.out).as_object().at("counts").at("keys").at("imported").as_int64(), 2) << taken.out;
}

TEST_F(CrsImport, AnotherEncryptionKeyIsRefusedBeforeAnythingIsRead) {
  auto r = relay->cli({"import", "crs", "--redis-url", "redis://127.0.0.1:" + std::to_string(source.port()),
                       "--crs-encryption-key", "not-the-relays-encryption-key-00"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ENCRYPTION_KEY is not the Node.js service's"), std::string::npos) << r.err;
  // Keys of another prefix would not pass this relay's format check: refused too.
  auto prefix = import({"--crs-api-key-prefix", "sk_relay_"});
  EXPECT_EQ(prefix.exit_code, 1);
  EXPECT_NE(prefix.out.find("API_KEY_PREFIX"), std::string::npos) << prefix.out << prefix.err;
  EXPECT_EQ(relay_with(key("bound-to-console")), 401);
}

}  // namespace
}  // namespace crs::test
