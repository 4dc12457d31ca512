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
  env.push_back("CRS_TEST_ISOLATED=1");
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

}  // namespace
}  // namespace crs::test
