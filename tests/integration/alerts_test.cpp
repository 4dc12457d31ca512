// Alerts end to end: the real binary, a real redis-server, the fake upstream, and a fake
// receiver (tools/fake_alert_sink) that takes webhooks over HTTP and email over real SMTP with
// STARTTLS and AUTH. Each alert arrives exactly once per channel with its recovery, across two
// instances; a receiver that is down at first gets it once it is up; `crs alerts test` reports
// each channel.
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/subprocess.hpp"
#include "integration/alert_sink.hpp"
#include "integration/two_instances.hpp"

namespace crs::test {
namespace {

class AlertsTest : public TwoInstances {
 protected:
  std::string alert_config(const std::string& extra = "") {
    return fmt::format(R"(
[monitoring.alerts]
checkInterval = 1
{3}
webhook = "http://127.0.0.1:{0}/generic"
webhooks = ["slack:http://127.0.0.1:{0}/slack", "discord:http://127.0.0.1:{0}/discord", "feishu:http://127.0.0.1:{0}/feishu", "dingtalk:http://127.0.0.1:{0}/dingtalk", "wecom:http://127.0.0.1:{0}/wecom", "telegram:http://127.0.0.1:{0}/botTOKEN/sendMessage?chat_id=42"]
webhookSecret = "hook-secret-0123456789"
[monitoring.alerts.email]
enabled = true
from = "relay@example.com"
to = ["ops@example.com", "oncall@example.com"]
[monitoring.alerts.email.smtp]
host = "127.0.0.1"
port = {1}
caFile = "{2}"
[monitoring.alerts.email.smtp.auth]
user = "alerts@example.com"
pass = "smtp-pass-0123"
)",
                       sink.http_port(), sink.smtp_port(), sink.ca_file(), extra);
  }

  double metric(size_t instance, const std::string& series) {
    auto text = http_get(relays[instance]->port(), "/metrics").body;
    auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 2));
  }
  // Waits for `rounds` more rounds of checks on every instance.
  void wait_rounds(int rounds) {
    for (size_t i = 0; i < relays.size(); ++i) {
      double from = metric(i, "crs_alert_checks_total");
      ASSERT_TRUE(wait_until([&] { return metric(i, "crs_alert_checks_total") >= from + rounds; }, 20s));
    }
  }

  TempDir sink_dir;
  AlertSink sink{sink_dir};
};

// Whether the process has `library` mapped (from /proc/PID/maps).
bool maps_library(pid_t pid, const std::string& library) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("/" + library) != std::string::npos) return true;
  return false;
}

const char* kPaths[] = {"/generic", "/slack", "/discord", "/feishu", "/dingtalk", "/wecom", "/botTOKEN/sendMessage"};

TEST_F(AlertsTest, AnUnauthorizedAccountIsToldOnceOnEveryChannelThenItsRecovery) {
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  start(alert_config());
  std::string id = add_account("locked");
  make_key();
  ASSERT_TRUE(fake.script(credential("locked"), R"({"status":401})"));
  post(0, body(false));
  std::string alert_id = "account_unauthorized:" + id;
  ASSERT_TRUE(wait_until([&] {
    for (const char* p : kPaths)
      if (sink.hooks(p, id).empty()) return false;
    return !sink.emails("is unauthorized").empty();
  }, 20s)) << json::serialize(sink.received());
  wait_rounds(3);  // both instances saw it for three more rounds: still told once

  for (const char* p : kPaths) EXPECT_EQ(sink.hooks(p, "locked").size(), 1u) << p;
  auto generic = sink.hooks("/generic", alert_id).front();
  auto payload = json::parse(generic.at("body").as_string()).as_object();
  EXPECT_EQ(payload.at("type").as_string(), "alert");
  EXPECT_EQ(payload.at("service").as_string(), "claude-relay-service");
  EXPECT_EQ(payload.at("data").at("kind").as_string(), "account_unauthorized");
  EXPECT_EQ(payload.at("data").at("severity").as_string(), "critical");
  // The signature covers "<timestamp>.<body>" with the configured secret.
  const auto& headers = generic.at("headers").as_object();
  std::string ts(headers.at("x-crs-timestamp").as_string());
  EXPECT_EQ(std::string(headers.at("x-crs-signature").as_string()),
            "sha256=" + crypto::hmac_sha256_hex("hook-secret-0123456789", ts + "." + std::string(generic.at("body").as_string())));
  auto slack = json::parse(sink.hooks("/slack", "locked").front().at("body").as_string()).as_object();
  EXPECT_NE(std::string(slack.at("text").as_string()).find("[CRITICAL] Account 'locked' is unauthorized"), std::string::npos);
  auto discord = json::parse(sink.hooks("/discord", "locked").front().at("body").as_string()).as_object();
  EXPECT_EQ(discord.at("embeds").as_array().front().at("color").as_int64(), 15158332);
  auto feishu = json::parse(sink.hooks("/feishu", "locked").front().at("body").as_string()).as_object();
  EXPECT_EQ(feishu.at("msg_type").as_string(), "interactive");
  auto ding = json::parse(sink.hooks("/dingtalk", "locked").front().at("body").as_string()).as_object();
  EXPECT_EQ(ding.at("msgtype").as_string(), "markdown");
  auto telegram = json::parse(sink.hooks("/botTOKEN/sendMessage", "locked").front().at("body").as_string()).as_object();
  EXPECT_EQ(telegram.at("chat_id").as_string(), "42");
  auto mail = sink.emails("is unauthorized");
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_TRUE(mail[0].at("tls").as_bool()) << "STARTTLS";
  EXPECT_EQ(mail[0].at("user").as_string(), "alerts@example.com");
  EXPECT_EQ(mail[0].at("from").as_string(), "relay@example.com");
  EXPECT_EQ(mail[0].at("to").as_array().size(), 2u);
  EXPECT_NE(std::string(mail[0].at("data").as_string()).find("Subject: [Claude Relay Service] [CRITICAL] Account 'locked'"),
            std::string::npos);
  // No secret in any of it.
  std::string everything = json::serialize(sink.received());
  EXPECT_EQ(everything.find(credential("locked")), std::string::npos);
  EXPECT_EQ(everything.find("smtp-pass-0123"), std::string::npos);

  // The admin re-enables it: the recovery, once per channel.
  reset_fake();  // answers normally again
  ASSERT_EQ(relays[0]->cli({"accounts", "enable", id}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] {
    for (const char* p : kPaths)
      if (sink.hooks(p, "RECOVERED").empty() && sink.hooks(p, "\"recovery\"").empty()) return false;
    return !sink.emails("RECOVERED").empty();  // each channel has its own sender
  }, 20s)) << json::serialize(sink.received());
  wait_rounds(2);
  EXPECT_EQ(sink.hooks("/generic", "\"recovery\"").size(), 1u);
  EXPECT_EQ(sink.hooks("/slack", "RECOVERED").size(), 1u);
  EXPECT_EQ(sink.emails("RECOVERED").size(), 1u);
}

TEST_F(AlertsTest, AReceiverThatIsDownAtFirstGetsTheAlertOnceItIsUp) {
  ASSERT_TRUE(sink.make_certificate());
  start(alert_config("memoryLimit = 1048576\n"));  // any relay holds more than 80% of 1 MiB
  relays.pop_back();                                 // one instance: its own memory alert
  ASSERT_TRUE(wait_until([&] { return metric(0, R"(crs_alert_deliveries_total{result="failed"})") >= 2; }, 20s));
  ASSERT_TRUE(sink.start());
  ASSERT_TRUE(wait_until([&] { return !sink.hooks("/generic", "\"memory\"").empty() && !sink.emails("Memory use").empty(); },
                         30s))
      << json::serialize(sink.received()) << relays[0]->log();
  wait_rounds(2);
  EXPECT_EQ(sink.hooks("/generic", "\"memory\"").size(), 1u);
  EXPECT_EQ(sink.emails("Memory use").size(), 1u);
  EXPECT_NE(relays[0]->log().find("failed (attempt 1)"), std::string::npos) << "each failure is logged";
}

TEST_F(AlertsTest, RedisLostAndBackIsToldByTheInstance) {
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  start(alert_config());
  relays.pop_back();
  int port = redis.port();
  redis.kill_hard();
  ASSERT_TRUE(wait_until([&] { return !sink.hooks("/generic", "redis_unreachable").empty(); }, 20s))
      << json::serialize(sink.received());
  RedisServer again(shared.file("redis"), port);
  ASSERT_TRUE(again.start());
  ASSERT_TRUE(wait_until([&] { return !sink.hooks("/generic", "\"recovery\"").empty(); }, 30s))
      << json::serialize(sink.received());
  EXPECT_EQ(sink.hooks("/generic", "redis_unreachable").size(), 2u);  // raised, recovered
}

TEST_F(AlertsTest, RelayedRequestsFailingMoreThanTheThresholdAreToldThenTheirRecovery) {
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  start(alert_config() + "[loadBalancing.failureRecovery]\nfailureThreshold = 1000\n");
  relays.pop_back();
  add_account("flaky");
  make_key();
  ASSERT_TRUE(fake.script(credential("flaky"), R"({"status":500})"));
  for (int i = 0; i < 6; ++i) EXPECT_GE(post(0, body(false)).status, 500);
  ASSERT_TRUE(wait_until([&] { return !sink.hooks("/generic", "\"error_rate\"").empty(); }, 20s))
      << json::serialize(sink.received());
  auto raised = json::parse(sink.hooks("/generic", "\"error_rate\"").front().at("body").as_string()).as_object();
  EXPECT_EQ(raised.at("data").at("details").at("errors").as_int64(), 6);
  reset_fake();  // answers normally again
  for (int i = 0; i < 6; ++i) EXPECT_EQ(post(0, body(false)).status, 200);
  ASSERT_TRUE(wait_until([&] { return sink.hooks("/generic", "\"error_rate\"").size() == 2; }, 20s))
      << json::serialize(sink.received());
  auto recovered = json::parse(sink.hooks("/generic", "\"error_rate\"").back().at("body").as_string()).as_object();
  EXPECT_EQ(recovered.at("type").as_string(), "recovery");
}

TEST_F(AlertsTest, ACircuitThatOpensIsToldAndSoIsItsClosing) {
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  start(alert_config() + "[loadBalancing.failureRecovery]\nfailureThreshold = 3\ntemporaryFailureDelay = 1\n"
                         "maxBackoffTime = 1\n[loadBalancing.healthCheck]\ninterval = 3600\n");
  std::string id = add_account("tripping");
  make_key();
  ASSERT_TRUE(fake.script(credential("tripping"), R"({"status":500})"));
  for (int i = 0; i < 3; ++i) post(0, body(false));
  ASSERT_TRUE(wait_until([&] { return !sink.hooks("/generic", "circuit_open:" + id).empty(); }, 20s))
      << json::serialize(sink.received());
  reset_fake();
  // The trial after the rest succeeds and closes it: the recovery follows.
  ASSERT_TRUE(wait_until([&] { return post(0, body(false)).status == 200; }, 20s));
  // Each channel has its own sender: wait for both.
  ASSERT_TRUE(wait_until([&] {
    return sink.hooks("/generic", "circuit_open:" + id).size() == 2 && sink.hooks("/slack", "circuit open").size() == 2;
  }, 20s)) << json::serialize(sink.received());
  auto recovered = json::parse(sink.hooks("/generic", "circuit_open:" + id).back().at("body").as_string()).as_object();
  EXPECT_EQ(recovered.at("type").as_string(), "recovery");
}

TEST_F(AlertsTest, CrsAlertsTestReportsEveryChannel) {
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  start(alert_config());
  auto r = relays[0]->cli({"alerts", "test"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("webhook 2 (slack, 127.0.0.1): delivered"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("email: delivered"), std::string::npos) << r.out;
  EXPECT_EQ(sink.hooks("/generic", "\"test\"").size(), 1u);
  EXPECT_EQ(sink.emails("[TEST]").size(), 1u);
  auto only = relays[0]->cli({"alerts", "test", "--channel", "email", "--json"});
  EXPECT_EQ(only.exit_code, 0) << only.out << only.err;
  EXPECT_EQ(json::parse(only.out).at("results").as_array().size(), 1u);
  // A receiver that refuses: reported, exit 1.
  ASSERT_EQ(http_request(sink.http_port(), "POST", "/_sink/fail", R"({"count":1,"status":503})").status, 200);
  auto refused = relays[0]->cli({"alerts", "test", "--channel", "webhook 1"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.out.find("FAILED: the receiver answered HTTP 503"), std::string::npos) << refused.out;
}

// libcurl and the libraries it brings were 4.2 MB of resident pages: loaded only where alerts go out.
TEST_F(AlertsTest, OnlyARelayWithAlertChannelsLoadsLibcurl) {
  start();
  add_account("a");
  make_key();  // relays a request through each instance
  EXPECT_FALSE(maps_library(relays[0]->process().pid(), "libcurl.so"));
  relays.clear();
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  start(alert_config());  // each channel's thread loads it as it starts
  EXPECT_TRUE(wait_until([&] { return maps_library(relays[0]->process().pid(), "libcurl.so"); }, 10s));
}

TEST_F(AlertsTest, AWebhookThatIsNotAUrlStopsTheRelayAtStart) {
  dir_a.write("config/config.toml", "[monitoring.alerts]\nwebhooks = [\"slack:ftp://example.com/x\"]\n");
  RelayProcess relay(dir_a, {"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port())});
  EXPECT_FALSE(relay.start());
  EXPECT_NE(relay.log().find("monitoring.alerts webhook 1: not an http(s) URL"), std::string::npos) << relay.log();
  EXPECT_EQ(relay.log().find("example.com/x"), std::string::npos) << "the URL may hold a token";
}

}  // namespace
}  // namespace crs::test
