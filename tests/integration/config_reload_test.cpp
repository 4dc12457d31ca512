// SIGHUP reads the configuration again: the real binary, a real redis-server, the fake upstream
// and the fake alert receiver. Live keys change what the running relay does; a key that needs a
// restart is named and keeps its value; a configuration with an error changes nothing.
#include <csignal>

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "integration/alert_sink.hpp"
#include "integration/two_instances.hpp"

namespace crs::test {
namespace {

struct Settings {
  int max_attempts = 1;
  std::string strategy = "least_used";
  std::string level = "info";       // logging.level
  std::string lb_level = "info";    // logging.loadBalancing.level
  std::string webhook = "/before";  // path on the sink
  std::string webhook_extra;        // more lines of [monitoring.alerts]
  int keep_alive = 65;              // server.keepAliveTimeout: needs a restart
};

class ConfigReloadTest : public TwoInstances {
 protected:
  // The fixture's TOML starts inside [relay].
  std::string config(const Settings& s) {
    return fmt::format(R"(maxAttempts = {}
[server]
keepAliveTimeout = {}
[loadBalancing]
defaultStrategy = "{}"
[logging]
level = "{}"
[logging.loadBalancing]
level = "{}"
[monitoring.alerts]
checkInterval = 1
webhook = "http://127.0.0.1:{}{}"
{}
)",
                       s.max_attempts, s.keep_alive, s.strategy, s.level, s.lb_level, sink.http_port(), s.webhook,
                       s.webhook_extra);
  }

  // One instance, whose log level comes from its configuration file (no LOG_LEVEL).
  void start_one(const Settings& s) {
    dir_a.write("config/config.toml", "[relay]\nconcurrencyLeaseTtl = 3\n" + config(s));
    relays.push_back(std::make_unique<RelayProcess>(
        dir_a, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                        "ENCRYPTION_KEY=llllllllllllllllllllllllllllllll",
                                        "JWT_SECRET=jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", "WORKERS=2"}));
    ASSERT_TRUE(relays.back()->start()) << relays.back()->log();
  }

  static size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
  // Rewrites the file, sends SIGHUP and waits for the reload's outcome line.
  std::string reload(const std::string& toml) {
    dir_a.write("config/config.toml", "[relay]\nconcurrencyLeaseTtl = 3\n" + toml);
    auto outcomes = [&] {
      auto log = read_file(dir_a.file("logs/crs.log"));
      return count(log, "configuration reloaded") + count(log, "configuration not reloaded");
    };
    size_t before = outcomes();
    relays[0]->process().send_signal(SIGHUP);
    EXPECT_TRUE(wait_until([&] { return outcomes() > before; }, 20s)) << relays[0]->log();
    return read_file(dir_a.file("logs/crs.log"));
  }
  // Upstream attempts one relayed request made while both accounts answer 529.
  int64_t attempts_while_overloaded() {
    reset_fake();
    for (const char* name : {"a", "b"}) EXPECT_TRUE(fake.script(credential(name), R"({"status":529})"));
    auto r = post(0, body(false));
    EXPECT_EQ(r.status, 529) << r.body;
    int64_t n = 0;
    for (const auto& req : recorded())
      if (req.as_object().at("path").as_string() == "/v1/messages") ++n;
    reset_fake();
    return n;
  }
  std::string lb_log() { return read_file(dir_a.file("logs/load-balancing.log")); }
  std::string main_log() { return read_file(dir_a.file("logs/crs.log")); }

  TempDir sink_dir;
  AlertSink sink{sink_dir};
};

TEST_F(ConfigReloadTest, LiveKeysChangeTheRunningRelayAndTheOthersAreNamed) {
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  Settings s;
  start_one(s);
  std::string a = add_account("a");
  add_account("b");
  make_key();
  EXPECT_EQ(attempts_while_overloaded(), 1);
  ASSERT_EQ(post(0, body(false)).status, 200);
  EXPECT_EQ(lb_log().find("strategy="), std::string::npos);   // decisions are debug lines
  EXPECT_EQ(main_log().find("key=" + key_id), std::string::npos);  // so are request lines

  s.max_attempts = 2;
  s.strategy = "lowest_cost";
  s.level = "debug";
  s.lb_level = "debug";
  s.webhook = "/after";
  s.webhook_extra = "webhookSecret = \"a-new-secret-0123456789\"";
  s.keep_alive = 30;
  std::string log = reload(config(s));
  auto applied_at = log.rfind("configuration reloaded: now in force: ");
  ASSERT_NE(applied_at, std::string::npos) << log;
  std::string applied = log.substr(applied_at, log.find('\n', applied_at) - applied_at);
  for (const char* key : {"relay.maxAttempts", "loadBalancing.defaultStrategy", "logging.level",
                          "logging.loadBalancing.level", "monitoring.alerts.webhook", "monitoring.alerts.webhookSecret"})
    EXPECT_NE(applied.find(key), std::string::npos) << key << " in " << applied;
  EXPECT_EQ(applied.find("server.keepAliveTimeout"), std::string::npos);
  EXPECT_NE(log.find("in force only after a restart (kept as they were): server.keepAliveTimeout"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("a-new-secret-0123456789"), std::string::npos) << "names, never values";

  // relay.maxAttempts: the next request tries both accounts.
  EXPECT_EQ(attempts_while_overloaded(), 2);
  // The log levels: decisions and request lines are written now, with the new strategy.
  ASSERT_EQ(post(0, body(false)).status, 200);
  EXPECT_TRUE(wait_until([&] { return lb_log().find("strategy=lowest_cost") != std::string::npos; })) << lb_log();
  EXPECT_TRUE(wait_until([&] { return main_log().find("key=" + key_id) != std::string::npos; }));
  // The admin's view of the balancer says what is in force.
  auto status = http_request(relays[0]->port(), "GET", "/admin/load-balance/status", "",
                             {{"authorization", "Bearer " + admin_token()}});
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(json::parse(status.body).at("data").at("strategy").at("configured").as_string(), "lowest_cost");
  // The alert channel: an account that turns unauthorized is told to the new webhook only,
  // signed with the new secret.
  ASSERT_TRUE(fake.script(credential("a"), R"({"status":401})"));
  ASSERT_TRUE(fake.script(credential("b"), R"({"status":401})"));
  post(0, body(false));
  ASSERT_TRUE(wait_until([&] { return !sink.hooks("/after", a).empty(); }, 20s)) << json::serialize(sink.received());
  EXPECT_TRUE(sink.hooks("/before", "").empty());
  auto hook = sink.hooks("/after", a).front();
  std::string ts(hook.at("headers").at("x-crs-timestamp").as_string());
  EXPECT_EQ(std::string(hook.at("headers").at("x-crs-signature").as_string()),
            "sha256=" + crypto::hmac_sha256_hex("a-new-secret-0123456789", ts + "." + std::string(hook.at("body").as_string())));
}

TEST_F(ConfigReloadTest, AConfigurationWithAnErrorChangesNothing) {
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  Settings s;
  s.max_attempts = 2;
  start_one(s);
  add_account("a");
  add_account("b");
  make_key();
  EXPECT_EQ(attempts_while_overloaded(), 2);

  // A value out of its range.
  Settings bad = s;
  bad.max_attempts = 99;
  std::string log = reload(config(bad));
  EXPECT_NE(log.find("configuration not reloaded"), std::string::npos);
  EXPECT_NE(log.find("relay.maxAttempts"), std::string::npos);
  // Not TOML at all.
  log = reload("maxAttempts = [\n");
  EXPECT_EQ(count(log, "configuration not reloaded"), 2u) << log;
  // An alert channel that could never deliver refuses the whole reload, as it refuses a start.
  bad = s;
  bad.max_attempts = 1;
  bad.webhook_extra = "webhooks = [\"ftp://127.0.0.1/nowhere\"]";
  log = reload(config(bad));
  EXPECT_EQ(count(log, "configuration not reloaded"), 3u) << log;
  EXPECT_EQ(attempts_while_overloaded(), 2);
  // Nothing changed at all: said so.
  log = reload(config(s));
  EXPECT_NE(log.find("configuration reloaded: no key that changes live has changed"), std::string::npos) << log;
  EXPECT_EQ(attempts_while_overloaded(), 2);
}

}  // namespace
}  // namespace crs::test
