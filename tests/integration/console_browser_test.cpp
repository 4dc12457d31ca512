// The web console in headless Chromium (tests/clients/console_browser.mjs, playwright-core),
// against the real binary, a real Redis and the fake upstream; then what the browser did is
// checked from outside, through the admin API. Screenshots go to <build>/test-artifacts/console.
#include <ctime>
#include <filesystem>
#include <iostream>
#include <regex>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "alert_sink.hpp"
#include "bulk_keys.hpp"
#include "support/json.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string chromium() {
  for (std::string path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (std::filesystem::exists(path)) return path;
  return "";
}

TEST(ConsoleBrowser, AnAdminAndAKeyHolderUseTheConsole) {
  std::string clients = source_dir() + "/tests/clients";
  if (!std::filesystem::exists(clients + "/node_modules/playwright-core"))
    GTEST_FAIL() << "run `make test` (it installs tests/clients with npm ci) or `npm ci --prefix tests/clients`";
  ASSERT_FALSE(chromium().empty()) << "Debian's chromium is needed (scripts/install-deps.sh --with-test-clients)";
  TempDir dir;
  FakeUpstreamProcess fake(dir);
  ASSERT_TRUE(fake.start());
  AlertSink sink(dir);
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  const std::string hook_token = "hook-token-browser-0123456789";
  const std::string authorize = fake.url() + "/oauth/authorize";
  dir.write("config/config.toml", "[oauth]\nauthorizeUrl = \"" + authorize + "\"\n[monitoring.alerts]\nwebhook = \"http://127.0.0.1:" +
                                      std::to_string(sink.http_port()) + "/hook?token=" + hook_token + "\"\n");
  const std::string jwt = "console-browser-jwt-secret-0123456789abcdef";
  const std::string encryption = "console-browser-encryption-key-0";
  const std::string account_key = "sk-ant-api03-console-browser-account-secret";
  // The relay's days (usage.timezoneOffset) on another date than the browser's (UTC here), at
  // any hour: pages must show the relay's days (the usage page once defaulted to the browser's
  // and missed the evening's requests).
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::string timezone_offset = utc.tm_hour < 12 ? "-12" : "14";
  RelayProcess relay(dir, {"JWT_SECRET=" + jwt, "ENCRYPTION_KEY=" + encryption,
                           "CLAUDE_OAUTH_TOKEN_URL=" + fake.url() + "/v1/oauth/token", "CLAUDE_API_BASE_URL=" + fake.url(),
                           "TIMEZONE_OFFSET=" + timezone_offset});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto init = parse_object(read_file(dir.file("data/init.json")));
  std::string username(init["adminUsername"].as_string());
  std::string password(init["adminPassword"].as_string());
  std::string artifacts = std::filesystem::path(crs_binary()).parent_path().string() + "/test-artifacts/console";
  std::filesystem::remove_all(artifacts);

  std::string base = "http://127.0.0.1:" + std::to_string(relay.port());
  auto r = run_command({"node", clients + "/console_browser.mjs"},
                       {"CRS_URL=" + base, "CRS_ADMIN_USERNAME=" + username, "CRS_ADMIN_PASSWORD=" + password,
                        "CRS_UPSTREAM_URL=" + fake.url(), "CRS_ACCOUNT_KEY=" + account_key,
                        "CRS_SECRETS=" + jwt + "," + encryption + "," + hook_token + "," + password,
                        "CRS_AUTHORIZE_URL=" + authorize, "CRS_ARTIFACTS=" + artifacts, "CHROMIUM=" + chromium()},
                       clients, 240s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"ok\":true"), std::string::npos) << r.out;

  // What the browser did, seen through the admin API with a token of our own.
  json::object login{{"username", username}, {"password", password}};
  auto token = parse_object(http_request(relay.port(), "POST", "/web/auth/login", json::serialize(login),
                                         {{"content-type", "application/json"}})
                                .body)["token"];
  ASSERT_TRUE(token.is_string());
  std::map<std::string, std::string> auth{{"authorization", "Bearer " + std::string(token.as_string())}};
  auto keys = parse_object(http_request(relay.port(), "GET", "/admin/api-keys?search=browser-key", "", auth).body);
  auto items = keys["data"].as_object()["items"].as_array();
  ASSERT_EQ(items.size(), 1u) << json::serialize(keys);
  auto key = items[0].as_object();
  EXPECT_EQ(key["concurrencyLimit"].as_int64(), 3);
  EXPECT_EQ(key["rateLimitWindow"].as_int64(), 60);
  EXPECT_EQ(key["rateLimitRequests"].as_int64(), 100);
  EXPECT_EQ(key["dailyCostLimit"].to_number<double>(), 5.0);
  EXPECT_EQ(key["usage"].as_object()["total"].as_object()["requests"].as_int64(), 1);
  auto exports = parse_object(http_request(relay.port(), "GET", "/admin/exports", "", auth).body);
  auto tasks = exports["data"].as_object()["tasks"].as_array();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].as_object().at("state").as_string(), "done");
  // The accounts the browser added, the strategy it chose, the alert it sent.
  auto accounts = parse_object(http_request(relay.port(), "GET", "/admin/claude-accounts", "", auth).body);
  std::map<std::string, json::object> by_name;
  for (const auto& a : accounts["data"].as_array()) by_name[std::string(a.as_object().at("name").as_string())] = a.as_object();
  ASSERT_EQ(by_name.size(), 3u) << json::serialize(accounts);
  EXPECT_EQ(by_name["aws-browser"]["type"].as_string(), "bedrock");
  EXPECT_EQ(by_name["aws-browser"]["region"].as_string(), "eu-west-1");
  EXPECT_EQ(by_name["aws-browser"]["baseUrl"].as_string(), "https://bedrock-runtime.eu-west-1.amazonaws.com");
  EXPECT_FALSE(by_name["aws-browser"]["enabled"].as_bool());
  EXPECT_EQ(by_name["fake-console"]["type"].as_string(), "claude-console");
  EXPECT_EQ(by_name["fake-console"]["baseUrl"].as_string(), fake.url());
  EXPECT_EQ(by_name["fake-console"]["maxConcurrency"].as_int64(), 4);
  EXPECT_EQ(by_name["max-browser"]["type"].as_string(), "claude-oauth");
  EXPECT_EQ(by_name["max-browser"]["plan"].as_string(), "max5");
  auto balancer = parse_object(http_request(relay.port(), "GET", "/admin/load-balance/status", "", auth).body);
  EXPECT_EQ(balancer["data"].as_object()["strategy"].as_object()["global"].as_string(), "least_recent");
  EXPECT_DOUBLE_EQ(by_name["fake-console"]["weight"].to_number<double>(), 2.0);
  auto groups = parse_object(http_request(relay.port(), "GET", "/admin/account-groups", "", auth).body)["data"].as_array();
  ASSERT_EQ(groups.size(), 1u);
  auto group = groups[0].as_object();
  EXPECT_EQ(group["name"].as_string(), "team-a");
  EXPECT_EQ(json::serialize(group["accounts"]), "[\"" + std::string(by_name["fake-console"]["id"].as_string()) + "\"]");
  EXPECT_EQ(balancer["data"].as_object()["strategy"].as_object()["groups"].as_object()[std::string(group["id"].as_string())]
                .as_string(),
            "lowest_cost");
  EXPECT_EQ(sink.hooks("/hook?token=" + hook_token, "Sent from the web console").size(), 1u);
  // The relay key the browser made never reached the upstream.
  std::string seen = fake.requests_json();
  EXPECT_FALSE(std::regex_search(seen, std::regex("cr_[0-9a-f]{64}")));
  for (std::string shot : {"login", "dashboard", "dashboard-dark", "keys", "keys-phone", "key-created", "export", "api-stats",
                           "accounts", "account-oauth", "account-test", "usage", "balancing", "settings"})
    EXPECT_TRUE(std::filesystem::exists(artifacts + "/" + shot + ".png")) << shot;
  // The admin password never reached the relay's log.
  EXPECT_EQ(relay.log().find(password), std::string::npos);
}

// 10,000 keys: the relay pages, searches, sorts and filters them, so the page holds 20 rows.
// The script reports how long each step took in the browser (printed here, not judged).
TEST(ConsoleBrowser, TenThousandKeysArePagedSearchedAndSortedByTheRelay) {
  std::string clients = source_dir() + "/tests/clients";
  ASSERT_TRUE(std::filesystem::exists(clients + "/node_modules/playwright-core"));
  ASSERT_FALSE(chromium().empty());
  TempDir dir;
  RedisServer redis(dir.file("redis"));
  ASSERT_TRUE(redis.start());
  constexpr int kKeys = 10000;
  populate(redis, dir, kKeys);
  RelayProcess relay(dir, {"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port())});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto init = parse_object(read_file(dir.file("data/init.json")));
  auto r = run_command({"node", clients + "/console_keys_scale.mjs"},
                       {"CRS_URL=http://127.0.0.1:" + std::to_string(relay.port()),
                        "CRS_ADMIN_USERNAME=" + std::string(init["adminUsername"].as_string()),
                        "CRS_ADMIN_PASSWORD=" + std::string(init["adminPassword"].as_string()),
                        "CRS_KEY_COUNT=" + std::to_string(kKeys), "CHROMIUM=" + chromium()},
                       clients, 180s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << "console with " << kKeys << " keys, ms in the browser: " << r.out;
  auto timings = parse_object(r.out)["timings"].as_object();
  EXPECT_LT(timings["domNodes"].as_int64(), 3000) << "the page renders a page of keys, not all of them";
}

}  // namespace
}  // namespace crs::test
