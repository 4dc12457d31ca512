// crs verify against the real binary: a healthy deployment passes every check; a failing
// account, an evicting Redis, a wrong admin password and a relay that is down are each told.
#include <fstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

std::map<std::string, std::pair<std::string, std::string>> by_check(const std::string& out) {
  std::map<std::string, std::pair<std::string, std::string>> checks;
  auto report = json::parse(out);  // kept: the loop reads into it
  for (const auto& c : report.as_object().at("checks").as_array()) {
    const auto& o = c.as_object();
    checks[std::string(o.at("check").as_string())] = {std::string(o.at("result").as_string()),
                                                       std::string(o.at("detail").as_string())};
  }
  return checks;
}

TEST(Verify, AHealthyDeploymentPassesAndEachFaultIsTold) {
  TempDir dir;
  FakeUpstreamProcess fake(dir);
  ASSERT_TRUE(fake.start());
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  ASSERT_TRUE(wait_until([&] { return std::ifstream(dir.file("data/init.json")).good(); }));
  auto added = relay.cli({"accounts", "add", "--type", "claude-console", "--name", "good", "--base-url", fake.url(),
                          "--api-key", "sk-ant-api03-verify-good", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;

  auto passed = relay.cli({"verify", "--json"});
  ASSERT_EQ(passed.exit_code, 0) << passed.out << passed.err;
  auto checks = by_check(passed.out);
  for (const char* name : {"health", "admin login", "accounts", "account probes", "export round trip", "metrics",
                           "schema", "redis persistence"})
    EXPECT_EQ(checks[name].first, "ok") << name << ": " << checks[name].second;
  EXPECT_NE(checks["admin login"].second.find("init.json"), std::string::npos);
  // The scratch export is gone again, and the verification's admin session ended.
  auto exports = relay.cli({"export", "list", "--json"});
  EXPECT_EQ(exports.out.find("crs-verify-"), std::string::npos);

  // An account the upstream refuses; a Redis that evicts: both told, the account fails the run.
  auto bad = relay.cli({"accounts", "add", "--type", "claude-console", "--name", "refused", "--base-url", fake.url(),
                        "--api-key", "sk-ant-api03-verify-bad", "--json"});
  ASSERT_EQ(bad.exit_code, 0) << bad.err;
  // Its probe (GET /v1/models, no tokens) is refused.
  ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/behaviors",
                         R"({"credential":"sk-ant-api03-verify-bad","path":"/v1/models","behavior":{"status":401}})")
                .status,
            200);
  std::string password = relay.embedded_redis_password();
  run_command({"redis-cli", "-p", std::to_string(relay.embedded_redis_port()), "--no-auth-warning", "-a", password,
               "CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  auto failed = relay.cli({"verify", "--json"});
  EXPECT_EQ(failed.exit_code, 1) << failed.out;
  checks = by_check(failed.out);
  EXPECT_EQ(checks["account probes"].first, "FAIL");
  EXPECT_NE(checks["account probes"].second.find("refused"), std::string::npos) << checks["account probes"].second;
  EXPECT_EQ(checks["redis persistence"].first, "warn");
  EXPECT_NE(checks["redis persistence"].second.find("allkeys-lru"), std::string::npos);

  // A wrong admin password.
  auto wrong = run_command({crs_binary(), "verify", "--json", "--username", "cr_admin_nobody", "--password-stdin"},
                           {"PORT=" + std::to_string(relay.port()),
                            "REDIS_EMBEDDED_PORT=" + std::to_string(relay.embedded_redis_port())},
                           dir.path());
  // (stdin is empty here: an empty password)
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_EQ(by_check(wrong.out)["admin login"].first, "FAIL") << wrong.out;

  // --url: a directory whose configuration names another port reaches the relay through it.
  TempDir elsewhere;
  std::vector<std::string> other_port{"PORT=1"};
  std::string url = "http://127.0.0.1:" + std::to_string(relay.port());
  EXPECT_EQ(run_command({crs_binary(), "healthcheck"}, other_port, elsewhere.path()).exit_code, 1);
  EXPECT_EQ(run_command({crs_binary(), "healthcheck", "--url", url}, other_port, elsewhere.path()).exit_code, 0);
  auto by_url = run_command({crs_binary(), "verify", "--json", "--url", url},
                            {"PORT=1", "REDIS_EMBEDDED_PORT=" + std::to_string(relay.embedded_redis_port())}, dir.path());
  EXPECT_EQ(by_check(by_url.out)["health"].first, "ok") << by_url.out;
  auto wrong_url = run_command({crs_binary(), "verify", "--json", "--url", "http://127.0.0.1:1"},
                               {"REDIS_EMBEDDED_PORT=" + std::to_string(relay.embedded_redis_port())}, dir.path());
  EXPECT_EQ(by_check(wrong_url.out)["health"].first, "FAIL") << wrong_url.out;

  ASSERT_EQ(relay.stop(), 0);
  auto down = relay.cli({"verify", "--json"});
  EXPECT_NE(down.exit_code, 0);
}

}  // namespace
}  // namespace crs::test
