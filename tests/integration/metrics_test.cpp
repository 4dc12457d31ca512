// GET /metrics on the real binary: the text passes `promtool check metrics` (Debian's
// Prometheus), the counters move by exactly what a known set of relayed requests did, failovers
// and their causes are counted, the per-key series obey enableDetailedMetrics and
// detailedKeyLimit, and only the token's holder (or, without a token, a loopback client that
// no proxy forwarded) may scrape.
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "integration/two_instances.hpp"

namespace crs::test {
namespace {

std::string promtool() {
  auto local = source_dir() + "/.tools/promtool";
  if (std::filesystem::exists(local)) return local;
  return "promtool";
}

// The value of the sample `series` (name and labels exactly as written), 0 when absent.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size() + 2));
}

// A non-loopback address of this machine, "" if it has none.
std::string outside_address() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  std::string found;
  for (auto* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {0};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    if (std::string(text).rfind("127.", 0) != 0) found = text;
  }
  freeifaddrs(list);
  return found;
}

class MetricsTest : public TwoInstances {
 protected:
  std::string scrape(size_t instance = 0, const std::map<std::string, std::string>& headers = {}) {
    auto r = http_request(relays[instance]->port(), "GET", "/metrics", "", headers);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.header("content-type").find("text/plain; version=0.0.4"), std::string::npos);
    return r.body;
  }
};

const std::string kModel = "claude-sonnet-4-5-20250929";

TEST_F(MetricsTest, CountersMoveByExactlyWhatWasRelayedAndPromtoolAcceptsThem) {
  start("[monitoring.metrics]\ndetailedKeyLimit = 1\n");
  add_account("one");
  make_key();
  ASSERT_TRUE(fake.script(credential("one"), R"({"inputTokens":11,"outputTokens":7,"cacheReadInputTokens":5})"));
  std::string before = scrape();

  for (int i = 0; i < 3; ++i) ASSERT_EQ(post(0, body(false)).status, 200);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(post(0, body(true)).status, 200);
  auto refused = http_request(relays[0]->port(), "POST", "/v1/messages", body(false), {{"x-api-key", "cr_nope"}});
  ASSERT_EQ(refused.status, 401);
  std::string after = scrape();

  auto delta = [&](const std::string& series) { return sample(after, series) - sample(before, series); };
  EXPECT_EQ(delta(R"(crs_http_requests_total{family="messages",code="2xx"})"), 5);
  EXPECT_EQ(delta(R"(crs_http_requests_total{family="messages",code="4xx"})"), 1);
  EXPECT_EQ(delta(R"(crs_relay_requests_total{model=")" + kModel + R"(",code="2xx",stream="false"})"), 3);
  EXPECT_EQ(delta(R"(crs_relay_requests_total{model=")" + kModel + R"(",code="2xx",stream="true"})"), 2);
  EXPECT_EQ(delta(R"(crs_relay_tokens_total{kind="input"})"), 55);
  EXPECT_EQ(delta(R"(crs_relay_tokens_total{kind="output"})"), 35);
  EXPECT_EQ(delta(R"(crs_relay_tokens_total{kind="cache_read"})"), 25);
  EXPECT_EQ(delta(R"(crs_relay_duration_seconds_count{stream="true"})"), 2);
  EXPECT_EQ(delta("crs_upstream_ttfb_seconds_count"), 5);
  EXPECT_GT(delta(R"(crs_relay_cost_usd_total{model=")" + kModel + R"("})"), 0);
  EXPECT_EQ(delta(R"(crs_key_requests_total{key=")" + key_id + R"("})"), 5);
  EXPECT_GT(sample(after, "crs_redis_round_trips_total"), sample(before, "crs_redis_round_trips_total"));
  EXPECT_EQ(sample(after, "crs_relay_streams_open"), 0);
  EXPECT_EQ(sample(after, "crs_io_threads"), 1);
  EXPECT_GT(sample(after, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(sample(after, "process_open_fds"), 5);
  // The account as the load balancer sees it.
  EXPECT_NE(after.find(R"(crs_account_state{account=")"), std::string::npos) << after;
  EXPECT_NE(after.find(R"(,state="active"} 1)"), std::string::npos);
  EXPECT_NE(after.find(R"(crs_account_health{account=")"), std::string::npos);
  EXPECT_NE(after.find(R"(,state="closed"} 1)"), std::string::npos);
  // The other instance served none of these.
  EXPECT_EQ(sample(scrape(1), R"(crs_relay_requests_total{model=")" + kModel + R"(",code="2xx",stream="true"})"), 0);

  TempDir out;
  out.write("metrics.txt", after);
  auto check = run_command({"bash", "-c", promtool() + " check metrics < " + out.file("metrics.txt")});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// docs/grafana-dashboard.json: every query parses (promtool checks them as recording rules) and
// names only series that /metrics exposes.
TEST_F(MetricsTest, TheGrafanaDashboardQueriesWhatIsExposed) {
  start("");
  add_account("one");
  make_key();
  std::string text = scrape();
  auto dashboard = json::parse(read_file(source_dir() + "/docs/grafana-dashboard.json")).as_object();
  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  std::regex metric_name("\\b(crs_[a-z0-9_]+|process_[a-z_]+)");
  int n = 0;
  for (const auto& panel : dashboard.at("panels").as_array()) {
    for (const auto& target : panel.at("targets").as_array()) {
      std::string expr(target.at("expr").as_string());
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric_name), end; it != end; ++it) {
        std::string name = (*it)[1];
        for (const char* suffix : {"_bucket", "_sum", "_count"})
          if (name.ends_with(suffix) && text.find("# TYPE " + name.substr(0, name.size() - strlen(suffix)) + " histogram") != std::string::npos)
            name = name.substr(0, name.size() - strlen(suffix));
        EXPECT_NE(text.find("# TYPE " + name + " "), std::string::npos) << name << " in: " << expr;
      }
      expr = std::regex_replace(expr, std::regex("\\$instance"), ".*");
      std::string quoted;
      for (char c : expr) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      rules += fmt::format("      - record: dashboard:query_{}\n        expr: '{}'\n", n++, quoted);
    }
  }
  EXPECT_GT(n, 15);
  TempDir out;
  out.write("rules.yml", rules);
  auto check = run_command({promtool(), "check", "rules", out.file("rules.yml")});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << rules;
}

TEST_F(MetricsTest, FailoversAndTheirCausesAreCounted) {
  start("[loadBalancing.failureRecovery]\nfailureThreshold = 100\n");
  add_account("first", {"--priority", "10"});
  add_account("second", {"--priority", "20"});
  make_key();
  std::string before = scrape();
  ASSERT_TRUE(fake.script(credential("first"), R"({"status":529})", 1));
  ASSERT_EQ(post(0, body(false)).status, 200);
  std::string after = scrape();
  EXPECT_EQ(sample(after, R"(crs_upstream_failures_total{class="overloaded"})") -
                sample(before, R"(crs_upstream_failures_total{class="overloaded"})"),
            1)
      << after;
  EXPECT_EQ(sample(after, "crs_relay_failovers_total") - sample(before, "crs_relay_failovers_total"), 1);
}

TEST_F(MetricsTest, PerKeySeriesFollowTheDetailedSettings) {
  start("[monitoring.metrics]\nenableDetailedMetrics = false\n");
  add_account("one");
  make_key();
  std::string text = scrape();
  EXPECT_EQ(text.find("crs_key_requests_total"), std::string::npos);
  EXPECT_NE(text.find("crs_relay_requests_total"), std::string::npos);
}

TEST_F(MetricsTest, KeysBeyondTheLimitAreSummedAsOther) {
  start("[monitoring.metrics]\ndetailedKeyLimit = 1\n");
  add_account("one");
  make_key();
  std::string first = key_id;
  make_key();
  ASSERT_EQ(post(0, body(false)).status, 200);
  std::string text = scrape();
  EXPECT_GT(sample(text, R"(crs_key_requests_total{key=")" + first + R"("})"), 0) << text;
  EXPECT_GT(sample(text, R"(crs_key_requests_total{key="other"})"), 0);
  EXPECT_EQ(text.find(R"(crs_key_requests_total{key=")" + key_id + R"("})"), std::string::npos);
}

TEST_F(MetricsTest, OnlyTheTokenOrALoopbackClientMayScrape) {
  start("");
  // No token: loopback only, and not what a proxy on this host forwards.
  EXPECT_EQ(http_request(relays[0]->port(), "GET", "/metrics").status, 200);
  auto forwarded = http_request(relays[0]->port(), "GET", "/metrics", "", {{"x-forwarded-for", "203.0.113.9"}});
  EXPECT_EQ(forwarded.status, 403);
  EXPECT_NE(forwarded.body.find("monitoring.metrics.token"), std::string::npos);
  if (auto address = outside_address(); !address.empty()) {
    // A relay listening on every address, reached through this machine's own outside address.
    TempDir open_dir;
    RelayProcess open(open_dir, {"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()), "HOST=0.0.0.0",
                                 "ENCRYPTION_KEY=llllllllllllllllllllllllllllllll"});
    ASSERT_TRUE(open.start()) << open.log();
    auto r = http_request_to(address, open.port(), "GET", "/metrics");
    EXPECT_EQ(r.status, 403) << "from " << address << ": " << r.error;
    EXPECT_EQ(http_request(open.port(), "GET", "/metrics").status, 200);
  }
  relays.clear();
  start("[monitoring.metrics]\ntoken = \"scrape-secret-0123456789\"\n");
  EXPECT_EQ(http_request(relays[0]->port(), "GET", "/metrics").status, 401);
  EXPECT_EQ(http_request(relays[0]->port(), "GET", "/metrics", "", {{"authorization", "Bearer wrong"}}).status, 401);
  auto ok = http_request(relays[0]->port(), "GET", "/metrics", "", {{"authorization", "Bearer scrape-secret-0123456789"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body.find("scrape-secret"), std::string::npos);
  relays.clear();
  start("[monitoring]\nenabled = false\n");
  EXPECT_EQ(http_request(relays[0]->port(), "GET", "/metrics").status, 404);
}

}  // namespace
}  // namespace crs::test
