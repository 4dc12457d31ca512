// The CLI as users run it: exit codes, human and JSON output, secrets masked.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

CommandResult crs(const std::vector<std::string>& args, const TempDir& dir, std::vector<std::string> env = {}) {
  std::vector<std::string> argv{crs_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, env, dir.path());
}

json::object parse(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return !ec && v.is_object() ? v.get_object() : json::object{};
}

TEST(Cli, HelpListsEveryCommand) {
  TempDir dir;
  auto r = crs({"--help"}, dir);
  EXPECT_EQ(r.exit_code, 0);
  for (auto cmd : {"serve", "config", "status", "--json", "--config"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd << "\n" << r.out;
  auto config_help = crs({"config", "--help"}, dir);
  EXPECT_NE(config_help.out.find("check"), std::string::npos);
  EXPECT_EQ(crs({"--version"}, dir).exit_code, 0);
}

TEST(Cli, UnknownCommandFails) {
  TempDir dir;
  auto r = crs({"frobnicate"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(crs({}, dir).exit_code != 0, true);
}

TEST(Cli, ConfigCheckShowsSourcesAndMasksSecrets) {
  TempDir dir;
  dir.write("config/config.toml", "[server]\nport = 4321\n");
  dir.write(".env", "LOG_LEVEL=warn\n");
  std::string secret(40, 'z');
  auto r = crs({"config", "check"}, dir, {"JWT_SECRET=" + secret, "REDIS_PASSWORD=redis-pw-value"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("config/config.toml"), std::string::npos);
  EXPECT_NE(r.out.find("server.port"), std::string::npos);
  EXPECT_NE(r.out.find("4321"), std::string::npos);
  EXPECT_NE(r.out.find("file (config/config.toml:2)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(".env (.env:1 (LOG_LEVEL))"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("env (JWT_SECRET)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(secret), std::string::npos) << "secret printed";
  EXPECT_EQ(r.out.find("redis-pw-value"), std::string::npos) << "password printed";
  EXPECT_NE(r.out.find("OK"), std::string::npos);

  auto j = crs({"config", "check", "--json"}, dir, {"JWT_SECRET=" + secret});
  EXPECT_EQ(j.exit_code, 0);
  auto o = parse(j.out);
  ASSERT_TRUE(o.contains("keys")) << j.out;
  EXPECT_TRUE(o["valid"].as_bool());
  bool saw_port = false;
  for (const auto& k : o["keys"].as_array()) {
    const auto& e = k.as_object();
    if (e.at("key").as_string() == "server.port") {
      saw_port = true;
      EXPECT_EQ(e.at("value").as_int64(), 4321);
      EXPECT_EQ(e.at("source").as_string(), "file");
    }
    if (e.at("key").as_string() == "security.jwtSecret") {
      EXPECT_NE(e.at("value").as_string(), secret);
    }
  }
  EXPECT_TRUE(saw_port);
  EXPECT_EQ(j.out.find(secret), std::string::npos);
}

TEST(Cli, ConfigCheckFailsWithFileLineAndKey) {
  TempDir dir;
  dir.write("custom.toml", "[loadBalancing.healthCheck]\nsuccessRateThreshold = 2\n[bogus]\n");
  auto r = crs({"config", "check", "--config", "custom.toml"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("custom.toml:2: loadBalancing.healthCheck.successRateThreshold: must be between 0 and 1"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("custom.toml:3: unknown key 'bogus'"), std::string::npos) << r.err;

  auto j = crs({"config", "check", "--json", "--config", "custom.toml"}, dir);
  EXPECT_EQ(j.exit_code, 1);
  auto o = parse(j.out);
  EXPECT_FALSE(o["valid"].as_bool());
  EXPECT_EQ(o["errors"].as_array().size(), 2u);

  auto env_error = crs({"config", "check"}, dir, {"LOAD_BALANCING_STRATEGY=fastest"});
  EXPECT_EQ(env_error.exit_code, 1);
  EXPECT_NE(env_error.err.find("LOAD_BALANCING_STRATEGY: loadBalancing.defaultStrategy"), std::string::npos);

  EXPECT_EQ(crs({"config", "check", "--config", "missing.toml"}, dir).exit_code, 1);
}

TEST(Cli, StatusDownWhenNothingRuns) {
  TempDir dir;
  int port = free_port();
  auto r = crs({"status"}, dir, {"PORT=" + std::to_string(port), "REDIS_EMBEDDED_PORT=" + std::to_string(free_port())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("DOWN"), std::string::npos) << r.out;
  auto j = crs({"status", "--json"}, dir, {"PORT=" + std::to_string(port)});
  EXPECT_EQ(j.exit_code, 1);
  auto o = parse(j.out);
  EXPECT_FALSE(o["ok"].as_bool());
  EXPECT_FALSE(o["server"].as_object()["up"].as_bool());
}

TEST(Cli, StatusUpWithServerAndRedis) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  std::vector<std::string> env{"PORT=" + std::to_string(relay.port()),
                               "REDIS_EMBEDDED_PORT=" + std::to_string(relay.embedded_redis_port())};
  auto r = crs({"status"}, dir, env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("UP"), std::string::npos);
  EXPECT_NE(r.out.find("redis 7."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("API keys  0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Accounts  0"), std::string::npos) << r.out;

  auto j = crs({"status", "--json"}, dir, env);
  EXPECT_EQ(j.exit_code, 0);
  auto o = parse(j.out);
  EXPECT_TRUE(o["ok"].as_bool()) << j.out;
  EXPECT_TRUE(o["redis"].as_object()["up"].as_bool());
  EXPECT_EQ(o["apiKeys"].as_int64(), 0);
  EXPECT_EQ(o["accounts"].as_int64(), 0);
  EXPECT_EQ(o["server"].as_object()["status"].as_string(), "healthy");

  // Server up, Redis gone: exit 1, and the output says which part is down.
  auto wrong_redis = crs({"status"}, dir,
                         {"PORT=" + std::to_string(relay.port()), "REDIS_EMBEDDED_PORT=" + std::to_string(free_port())});
  EXPECT_EQ(wrong_redis.exit_code, 1);
  EXPECT_NE(wrong_redis.out.find("Redis"), std::string::npos);
  EXPECT_NE(wrong_redis.out.find("DOWN"), std::string::npos) << wrong_redis.out;
}

TEST(Cli, KeyFieldsUpdatesAndRenewal) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto created = relay.cli({"keys", "create", "--name", "team", "--description", "shared", "--tags", "b,a",
                            "--concurrency", "5", "--rate-window", "60", "--rate-requests", "100", "--rate-cost",
                            "2.5", "--token-limit", "1000000", "--daily-cost", "10", "--weekly-cost", "50",
                            "--total-cost", "200.000001", "--models", "claude-sonnet-*", "--deny-models",
                            "claude-opus-4-1", "--clients", "claude_code", "--permissions", "claude",
                            "--expires-after-first-use", "30", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto o = boost::json::parse(created.out).as_object();
  std::string id(o.at("id").as_string()), first_key(o.at("key").as_string());
  auto shown = boost::json::parse(relay.cli({"keys", "show", id, "--json"}).out).as_object();
  EXPECT_FALSE(shown.contains("key")) << "plaintext shown again";
  EXPECT_EQ(shown.at("concurrencyLimit").as_int64(), 5);
  EXPECT_EQ(shown.at("rateLimitRequests").as_int64(), 100);
  EXPECT_DOUBLE_EQ(shown.at("rateLimitCost").as_double(), 2.5);
  EXPECT_EQ(shown.at("totalTokenLimit").as_int64(), 1000000);
  EXPECT_EQ(shown.at("expirationMode").as_string(), "activation");
  EXPECT_EQ(shown.at("activationDays").as_int64(), 30);
  // A binding must name an account or group that exists (there are no groups yet).
  auto to_group = relay.cli({"keys", "update", id, "--group", "g1"});
  EXPECT_NE(to_group.exit_code, 0);
  EXPECT_NE(to_group.err.find("no account group with id g1"), std::string::npos) << to_group.err;
  auto to_account = relay.cli({"keys", "update", id, "--account", "no-such-account"});
  EXPECT_NE(to_account.exit_code, 0);
  EXPECT_NE(to_account.err.find("no account with id no-such-account"), std::string::npos) << to_account.err;
  EXPECT_EQ(shown.at("tags").as_array().size(), 2u);
  // Money is stored exactly, as decimal text.
  RedisServer redis(dir.file("unused"), relay.embedded_redis_port(), relay.embedded_redis_password());
  EXPECT_EQ(redis.cli({"HGET", "apikey:" + id, "totalCostLimit"}), "200.000001");
  EXPECT_EQ(redis.cli({"HGET", "apikey:" + id, "allowedClients"}), "[\"claude_code\"]");

  auto updated = relay.cli({"keys", "update", id, "--daily-cost", "2.5", "--concurrency", "0", "--json"});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_EQ(redis.cli({"HGET", "apikey:" + id, "dailyCostLimit"}), "2.5");
  EXPECT_EQ(redis.cli({"HGET", "apikey:" + id, "concurrencyLimit"}), "0");
  EXPECT_EQ(redis.cli({"HGET", "apikey:" + id, "weeklyCostLimit"}), "50");  // untouched
  auto human = relay.cli({"keys", "show", id});
  EXPECT_NE(human.out.find("$2.5"), std::string::npos) << human.out;

  auto refused = relay.cli({"keys", "update", id, "--rate-window", "0"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("rateLimitWindow"), std::string::npos) << refused.err;
  auto bad_money = relay.cli({"keys", "update", id, "--daily-cost", "ten"});
  EXPECT_EQ(bad_money.exit_code, 1);
  EXPECT_NE(bad_money.err.find("dailyCostLimit"), std::string::npos) << bad_money.err;
  EXPECT_EQ(relay.cli({"keys", "update", id}).exit_code, 1);  // nothing to change
  EXPECT_EQ(relay.cli({"keys", "update", "no-such-key", "--concurrency", "1"}).exit_code, 1);

  // Renewal: same id and fields, a new secret; the old one stops working at once.
  auto renewed = relay.cli({"keys", "renew", id, "--json"});
  ASSERT_EQ(renewed.exit_code, 0) << renewed.err;
  auto r = boost::json::parse(renewed.out).as_object();
  std::string second_key(r.at("key").as_string());
  EXPECT_EQ(r.at("id").as_string(), id);
  EXPECT_NE(second_key, first_key);
  EXPECT_DOUBLE_EQ(r.at("dailyCostLimit").as_double(), 2.5);
  EXPECT_EQ(redis.cli({"HLEN", "apikey:hash_map"}), "1");
  std::string body = R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})";
  EXPECT_EQ(http_request(relay.port(), "POST", "/v1/messages", body, {{"x-api-key", first_key}}).status, 401);
  EXPECT_NE(http_request(relay.port(), "POST", "/v1/messages", body, {{"x-api-key", second_key}}).status, 401);
}

TEST(Cli, KeysAndAccountsLifecycle) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto created = relay.cli({"keys", "create", "--name", "alice"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto pos = created.out.find("cr_");
  ASSERT_NE(pos, std::string::npos);
  std::string plaintext = created.out.substr(pos, 67);
  EXPECT_EQ(plaintext.size(), 67u);
  auto listed = relay.cli({"keys", "list", "--json"});
  EXPECT_EQ(listed.out.find(plaintext), std::string::npos) << "plaintext shown again";
  EXPECT_EQ(listed.out.find(plaintext.substr(3)), std::string::npos);
  std::string id(boost::json::parse(listed.out).as_array().at(0).as_object().at("id").as_string());
  // Stored as the Node.js service does: SHA-256(key + ENCRYPTION_KEY), hex.
  RedisServer redis(dir.file("unused"), relay.embedded_redis_port(), relay.embedded_redis_password());
  std::string secrets = read_file(dir.file("data/secrets.env"));
  std::string enc = secrets.substr(secrets.find("ENCRYPTION_KEY=") + 15, 32);
  auto digest = run_command({"sh", "-c", "printf '%s' \"$0\" | sha256sum | cut -d' ' -f1", plaintext + enc});
  std::string hex = digest.out.substr(0, 64);
  EXPECT_EQ(redis.cli({"HGET", "apikey:hash_map", hex}), id);
  EXPECT_EQ(redis.cli({"HGET", "apikey:" + id, "apiKey"}), hex);

  EXPECT_EQ(relay.cli({"keys", "disable", id}).exit_code, 0);
  EXPECT_NE(relay.cli({"keys", "list"}).out.find("no"), std::string::npos);
  EXPECT_EQ(relay.cli({"keys", "delete", id}).exit_code, 0);
  EXPECT_EQ(relay.cli({"keys", "delete", id}).exit_code, 1);
  EXPECT_EQ(redis.cli({"HLEN", "apikey:hash_map"}), "0");

  auto bad = relay.cli({"accounts", "add", "--type", "claude-console", "--name", "x", "--base-url", "ftp://x",
                        "--api-key", "k"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--base-url"), std::string::npos);
  auto added = relay.cli({"accounts", "add", "--type", "claude-console", "--name", "console", "--base-url",
                          "https://api.anthropic.com", "--api-key", "sk-ant-api03-do-not-print-me-0000",
                          "--proxy", "http://user:proxy-pass-123@proxy:3128", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  std::string account_id(boost::json::parse(added.out).as_object().at("id").as_string());
  for (auto args : std::vector<std::vector<std::string>>{
           {"accounts", "list"}, {"accounts", "list", "--json"}, {"accounts", "show", account_id}}) {
    auto r = relay.cli(args);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.find("sk-ant-api03-do-not-print-me-0000"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("proxy-pass-123"), std::string::npos) << r.out;
  }
  // At rest the credentials are sealed, not readable.
  std::string stored = redis.cli({"HGETALL", "crs:account:" + account_id});
  EXPECT_EQ(stored.find("do-not-print-me"), std::string::npos);
  EXPECT_EQ(stored.find("proxy-pass-123"), std::string::npos);
  EXPECT_NE(stored.find("v1:"), std::string::npos);
  EXPECT_EQ(relay.cli({"accounts", "disable", account_id}).exit_code, 0);
  EXPECT_NE(relay.cli({"accounts", "show", account_id}).out.find("false"), std::string::npos);
  EXPECT_EQ(relay.cli({"accounts", "remove", account_id}).exit_code, 0);
  EXPECT_EQ(relay.cli({"accounts", "show", account_id}).exit_code, 1);
  EXPECT_EQ(redis.cli({"SCARD", "crs:account:index"}), "0");
}

}  // namespace
}  // namespace crs::test
