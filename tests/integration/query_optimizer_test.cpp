// The query optimizer end to end: the real binary on a real redis-server. Round trips are
// counted by Redis itself (INFO stats: total_reads_processed), results are compared with the
// optimizer off, the cache is watched through its header and its Redis keys, and every
// queryOptimizer.* key (and the monitoring keys the query logs read) is changed and seen to
// change what happens.
#include <cmath>
#include <filesystem>
#include <regex>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/bulk_keys.hpp"
#include "support/support.hpp"
#include "usage/usage_event.hpp"

namespace crs::test {
namespace {
namespace json = boost::json;

constexpr const char* kSecrets[] = {"ENCRYPTION_KEY=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                                    "JWT_SECRET=jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj"};

// One relay instance in its own directory; several may share the test's Redis.
struct Instance {
  TempDir dir;
  std::unique_ptr<RelayProcess> relay;
};

class QueryOptimizerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis.start()); }

  Instance& start(const std::string& config, size_t which = 0) {
    while (instances.size() <= which) instances.push_back(std::make_unique<Instance>());
    auto& in = *instances[which];
    if (in.relay && in.relay->process().running()) in.relay->stop();
    in.dir.write("config/config.toml", config);
    std::vector<std::string> env{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()), kSecrets[0],
                                 kSecrets[1]};
    in.relay = std::make_unique<RelayProcess>(in.dir, env);
    EXPECT_TRUE(in.relay->start()) << in.relay->log();
    if (::testing::Test::HasFailure()) std::cerr << in.relay->log();
    return in;
  }

  std::string admin_token() {
    if (!token.empty()) return token;
    auto init = json::parse(read_file(instances[0]->dir.file("data/init.json"))).as_object();
    json::object login{{"username", init["adminUsername"]}, {"password", init["adminPassword"]}};
    auto r = http_request(instances[0]->relay->port(), "POST", "/web/auth/login", json::serialize(login),
                          {{"content-type", "application/json"}});
    EXPECT_EQ(r.status, 200) << r.body;
    token = std::string(json::parse(r.body).as_object().at("token").as_string());
    return token;
  }

  HttpResponse admin(const std::string& method, const std::string& path, const std::string& body = "",
                     size_t which = 0) {
    return http_request(instances[which]->relay->port(), method, path, body,
                        {{"authorization", "Bearer " + admin_token()}, {"content-type", "application/json"}}, 60s);
  }

  int64_t reads_processed() {
    auto info = redis.cli({"INFO", "stats"});
    std::smatch m;
    std::regex re("total_reads_processed:(\\d+)");
    return std::regex_search(info, m, re) ? std::stoll(m[1]) : -1;
  }

  std::string log(size_t which = 0) { return instances[which]->relay->log(); }
  std::string slow_log(size_t which = 0) {
    std::string path = instances[which]->dir.file("logs/slow-queries.log");
    return std::filesystem::exists(path) ? read_file(path) : std::string();
  }

  // The profile line of the last query named `name` in the relay's log ("" if none).
  std::string profile_line(const std::string& name, size_t which = 0) {
    std::string text = log(which), needle = "query " + name + ":";
    auto at = text.rfind(needle);
    if (at == std::string::npos) return {};
    return text.substr(at, text.find('\n', at) - at);
  }
  static int64_t number_before(const std::string& line, const std::string& words) {
    std::smatch m;
    std::regex re("(\\d+) " + words);
    return std::regex_search(line, m, re) ? std::stoll(m[1]) : -1;
  }

  std::string make_key(const std::string& name) {
    auto r = admin("POST", "/admin/api-keys", json::serialize(json::object{{"name", name}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(json::parse(r.body).at("data").at("id").as_string());
  }

  // A finished request's usage, appended where the relay appends it: the aggregator folds it.
  void add_usage(const std::string& key_id, int64_t input, int64_t output) {
    usage::UsageEvent e;
    e.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    e.key_id = key_id;
    e.account_id = "acct-test";
    e.model = "claude-sonnet-4-5";
    e.usage.input_tokens = input;
    e.usage.output_tokens = output;
    e.cost_micro = 1234;
    e.status = 200;
    e.request_id = "req-" + key_id.substr(0, 8);
    e.endpoint = "/v1/messages";
    redis.cli({"XADD", usage::kUsageStream, "*", usage::kUsageField, e.to_wire()});
  }

  TempDir dir;
  RedisServer redis{dir.file("redis")};
  std::vector<std::unique_ptr<Instance>> instances;
  std::string token;
};

json::object data_of(const HttpResponse& r) { return json::parse(r.body).as_object().at("data").as_object(); }

std::vector<std::string> item_names(const HttpResponse& r) {
  std::vector<std::string> names;
  auto data = data_of(r);
  for (const auto& k : data.at("items").as_array()) names.emplace_back(k.at("name").as_string());
  return names;
}

// ---- batching and pipelining ----

TEST_F(QueryOptimizerTest, ListingTwentyThousandKeysTakesAboutNOverPipelineRoundTripsAndMatchesTheSlowPath) {
  const char* optimized = R"(
[queryOptimizer]
pipelineSize = 100
batchSize = 1000
maxConcurrency = 4
[queryOptimizer.cache]
enabled = false
[queryOptimizer.performance]
enableProfiling = true
)";
  start(optimized);
  populate(redis, dir, 20000);
  std::vector<std::string> pages{"/admin/api-keys?pageSize=1000", "/admin/api-keys?pageSize=50&page=7&sortBy=name",
                                 "/admin/api-keys?pageSize=10&search=key%201999"};
  admin("GET", pages[0]);  // logged in: what follows is the listing and its session check
  int64_t before = reads_processed();
  auto fast = admin("GET", pages[0]);
  int64_t reads = reads_processed() - before;
  ASSERT_EQ(fast.status, 200) << fast.body;
  EXPECT_EQ(data_of(fast).at("pagination").at("total").as_int64(), 20000);
  // At most ceil(20000 / 100) pipelines of records (a batch's pipelines leave in one write and
  // may reach Redis in one read), the index, the page's usage, the session check, and what the
  // relay's background loops read meanwhile.
  EXPECT_LE(reads, 200 + 20) << "Redis read " << reads << " times";
  auto line = profile_line("keys.list");
  EXPECT_EQ(number_before(line, "commands"), 20000) << line;
  EXPECT_EQ(number_before(line, "round trips"), 200) << line;
  EXPECT_EQ(number_before(line, "batches in flight"), 4) << line;
  std::vector<std::string> optimized_pages;
  for (const auto& p : pages) optimized_pages.push_back(admin("GET", p).body);

  // Bigger pipelines: fewer round trips, the same data.
  start(std::string(optimized).replace(std::string(optimized).find("pipelineSize = 100"), 18, "pipelineSize = 1000"));
  // (Redis reads 16 KB at a time, and pipelines sent together leave in one write: past a few
  // KB per pipeline its read count follows the bytes, not the pipelines.)
  ASSERT_EQ(admin("GET", pages[0]).body, optimized_pages[0]);
  EXPECT_EQ(number_before(profile_line("keys.list"), "round trips"), 20) << profile_line("keys.list");

  // Small batches cut the pipelines; one batch in flight at a time.
  start(R"(
[queryOptimizer]
pipelineSize = 100
batchSize = 30
maxConcurrency = 1
[queryOptimizer.cache]
enabled = false
[queryOptimizer.performance]
enableProfiling = true
)");
  ASSERT_EQ(admin("GET", pages[0]).body, optimized_pages[0]);
  line = profile_line("keys.list");
  EXPECT_EQ(number_before(line, "round trips"), 667) << line;  // ceil(20000 / 30)
  EXPECT_EQ(number_before(line, "batches in flight"), 1) << line;

  // The optimizer off: one command per round trip, the same answers.
  start(R"(
[queryOptimizer]
enabled = false
[queryOptimizer.cache]
enabled = false
[queryOptimizer.performance]
enableProfiling = true
)");
  before = reads_processed();
  ASSERT_EQ(admin("GET", pages[0]).body, optimized_pages[0]);
  EXPECT_GE(reads_processed() - before, 20000);
  EXPECT_EQ(number_before(profile_line("keys.list"), "round trips"), 20000);
  for (size_t i = 1; i < pages.size(); ++i) EXPECT_EQ(admin("GET", pages[i]).body, optimized_pages[i]) << pages[i];
}

// ---- the deadline and the logs ----

TEST_F(QueryOptimizerTest, AQueryPastItsTimeoutAnswers504AndGoesToTheSlowQueryLog) {
  populate(redis, dir, 5000);
  start(R"(
[queryOptimizer]
enabled = false
[queryOptimizer.cache]
enabled = false
[queryOptimizer.performance]
queryTimeout = 5
[monitoring.metrics]
slowQueryThreshold = 1
)");
  // 5,000 round trips one after the other cannot fit in 5 ms.
  auto r = admin("GET", "/admin/api-keys");
  ASSERT_EQ(r.status, 504) << r.body;
  auto body = json::parse(r.body).as_object();
  EXPECT_EQ(body.at("error").as_string(), "Gateway Timeout");
  EXPECT_NE(std::string(body.at("message").as_string()).find("query timed out after 5 ms"), std::string::npos);
  ASSERT_TRUE(wait_until([&] { return slow_log().find("query keys.list") != std::string::npos; }, 10s));
  EXPECT_NE(slow_log().find("(timed out)"), std::string::npos) << slow_log();
  // Profiling is off: the main log has no profile lines, the slow-query log has the line anyway.
  EXPECT_EQ(log().find("query keys.list"), std::string::npos);

  // With a longer timeout the same listing answers; under a high threshold nothing is slow.
  start(R"(
[queryOptimizer.cache]
enabled = false
[queryOptimizer.performance]
queryTimeout = 60000
[monitoring.metrics]
slowQueryThreshold = 60000
)");
  std::string slow_before = slow_log();
  ASSERT_EQ(admin("GET", "/admin/api-keys").status, 200);
  EXPECT_EQ(slow_log(), slow_before);

  // monitoring.enabled = false: no slow-query log at all.
  std::filesystem::remove(instances[0]->dir.file("logs/slow-queries.log"));
  start(R"(
[queryOptimizer.cache]
enabled = false
[monitoring]
enabled = false
[monitoring.metrics]
slowQueryThreshold = 1
)");
  ASSERT_EQ(admin("GET", "/admin/api-keys").status, 200);
  EXPECT_EQ(slow_log(), "");
}

TEST_F(QueryOptimizerTest, ProfilesAreLoggedAtTheMonitoringLogLevel) {
  start(R"(
[queryOptimizer.performance]
enableProfiling = true
[monitoring]
logLevel = "debug"
)");
  make_key("one");
  ASSERT_EQ(admin("GET", "/admin/api-keys").status, 200);
  EXPECT_EQ(profile_line("keys.list"), "") << "a debug line under logging.level info";
  start(R"(
[queryOptimizer.performance]
enableProfiling = true
[monitoring]
logLevel = "warn"
)");
  ASSERT_EQ(admin("GET", "/admin/api-keys?pageSize=3").status, 200);
  auto line = profile_line("keys.list");
  EXPECT_EQ(number_before(line, "commands"), 1) << line;
  EXPECT_NE(log().find("warning query keys.list"), std::string::npos);
}

// ---- the cache ----

TEST_F(QueryOptimizerTest, TheCacheHitsIsSharedAndNeverServesAnEditedOrDeletedKeyOrOldUsage) {
  const char* config = R"(
[queryOptimizer.cache]
prefix = "qc-test:"
)";
  start(config);
  std::string a = make_key("alpha"), b = make_key("beta");
  auto first = admin("GET", "/admin/api-keys");
  EXPECT_EQ(first.header("x-crs-query-cache"), "miss");
  auto second = admin("GET", "/admin/api-keys");
  EXPECT_EQ(second.header("x-crs-query-cache"), "hit");
  EXPECT_EQ(second.body, first.body);
  // Under the configured prefix, with the configured TTL (300 s).
  auto entries = redis.cli({"ZRANGE", "qc-test:index", "0", "-1"});
  ASSERT_TRUE(entries.starts_with("qc-test:")) << entries;
  auto ttl = std::stoll(redis.cli({"PTTL", entries.substr(0, entries.find('\n'))}));
  EXPECT_GT(ttl, 290000);
  EXPECT_LE(ttl, 300000);
  EXPECT_EQ(redis.cli({"KEYS", "query_cache:*"}), "");

  // Another instance reuses the entry from Redis.
  start(config, 1);
  auto other = admin("GET", "/admin/api-keys", "", 1);
  EXPECT_EQ(other.header("x-crs-query-cache"), "shared");
  EXPECT_EQ(other.body, first.body);

  // A key edited on the other instance: both answer the new name at once.
  ASSERT_EQ(admin("PUT", "/admin/api-keys/" + a, R"({"name":"alpha-2"})", 1).status, 200);
  auto edited = admin("GET", "/admin/api-keys");
  EXPECT_EQ(edited.header("x-crs-query-cache"), "miss");
  auto names = item_names(edited);
  EXPECT_NE(std::find(names.begin(), names.end(), "alpha-2"), names.end()) << edited.body;
  // A deleted key is gone from the next answer.
  ASSERT_EQ(admin("DELETE", "/admin/api-keys/" + b).status, 200);
  auto deleted = admin("GET", "/admin/api-keys", "", 1);
  EXPECT_EQ(deleted.header("x-crs-query-cache"), "miss");
  EXPECT_EQ(deleted.body.find(b), std::string::npos);
  EXPECT_EQ(item_names(deleted).size(), 1u);

  // Usage folded for the key: the next listing shows it, never the total cached before.
  ASSERT_EQ(admin("GET", "/admin/api-keys").header("x-crs-query-cache"), "shared");  // computed by the other
  ASSERT_EQ(admin("GET", "/admin/api-keys").header("x-crs-query-cache"), "hit");
  add_usage(a, 100, 20);
  ASSERT_TRUE(wait_until([&] { return redis.cli({"HGET", "usage:" + a, "totalRequests"}) == "1"; }, 15s));
  auto folded = admin("GET", "/admin/api-keys");
  EXPECT_EQ(folded.header("x-crs-query-cache"), "miss");
  auto items = data_of(folded).at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].at("usage").at("total").at("requests").as_int64(), 1);
  EXPECT_EQ(items[0].at("usage").at("total").at("inputTokens").as_int64(), 100);

  // The cache off: every answer computed, nothing stored.
  start("[queryOptimizer.cache]\nenabled = false\nprefix = \"qc-off:\"\n");
  EXPECT_EQ(admin("GET", "/admin/api-keys").header("x-crs-query-cache"), "off");
  EXPECT_EQ(admin("GET", "/admin/api-keys").header("x-crs-query-cache"), "off");
  EXPECT_EQ(redis.cli({"KEYS", "qc-off:*"}), "");
}

TEST_F(QueryOptimizerTest, EntriesExpireAfterTheTtlAndTheOldestAreEvictedBeyondMaxSize) {
  start("[queryOptimizer.cache]\nttl = 1\n");
  make_key("k");
  EXPECT_EQ(admin("GET", "/admin/api-keys").header("x-crs-query-cache"), "miss");
  EXPECT_EQ(admin("GET", "/admin/api-keys").header("x-crs-query-cache"), "hit");
  ASSERT_TRUE(wait_until([&] { return admin("GET", "/admin/api-keys").header("x-crs-query-cache") == "miss"; }, 10s));

  start("[queryOptimizer.cache]\nmaxSize = 2\n");
  for (int page = 1; page <= 3; ++page)
    EXPECT_EQ(admin("GET", fmt::format("/admin/api-keys?pageSize=5&page={}", page)).header("x-crs-query-cache"), "miss");
  EXPECT_EQ(redis.cli({"ZCARD", "query_cache:index"}), "2");
  // Page 1 was the oldest: gone here and in Redis; page 3 stays.
  EXPECT_EQ(admin("GET", "/admin/api-keys?pageSize=5&page=3").header("x-crs-query-cache"), "hit");
  EXPECT_EQ(admin("GET", "/admin/api-keys?pageSize=5&page=1").header("x-crs-query-cache"), "miss");
  EXPECT_EQ(redis.cli({"ZCARD", "query_cache:index"}), "2");
}

TEST_F(QueryOptimizerTest, CachedDataOverTheMemoryLimitIsEvicted) {
  populate(redis, dir, 3000);
  // Each page of 1,000 keys is over half a MiB: two do not fit in 1 MiB.
  start("[queryOptimizer.performance]\nmemoryLimit = 1048576\n");
  auto page1 = admin("GET", "/admin/api-keys?pageSize=1000&page=1");
  ASSERT_GT(page1.body.size(), 600000u);
  EXPECT_EQ(admin("GET", "/admin/api-keys?pageSize=1000&page=2").header("x-crs-query-cache"), "miss");
  EXPECT_EQ(admin("GET", "/admin/api-keys?pageSize=1000&page=1").header("x-crs-query-cache"), "miss");
  EXPECT_EQ(redis.cli({"ZCARD", "query_cache:index"}), "1");
  start("[queryOptimizer.performance]\nmemoryLimit = 104857600\n");
  admin("GET", "/admin/api-keys?pageSize=1000&page=1");
  admin("GET", "/admin/api-keys?pageSize=1000&page=2");
  EXPECT_EQ(admin("GET", "/admin/api-keys?pageSize=1000&page=1").header("x-crs-query-cache"), "hit");
}

// ---- the dashboard and the trend ----

TEST_F(QueryOptimizerTest, TheDashboardAndTheTrendCountWhatIsThere) {
  start("");
  std::string a = make_key("on"), b = make_key("off"), c = make_key("gone");
  ASSERT_EQ(admin("PUT", "/admin/api-keys/" + b, R"({"isActive":false})").status, 200);
  ASSERT_EQ(admin("PUT", "/admin/api-keys/" + c, R"({"expiresAt":"2020-01-01T00:00:00.000Z"})").status, 200);
  add_usage(a, 1000, 200);
  add_usage(a, 10, 2);
  ASSERT_TRUE(wait_until([&] { return redis.cli({"HGET", "usage:global:total", "totalRequests"}) == "2"; }, 15s));

  auto d = admin("GET", "/admin/dashboard");
  ASSERT_EQ(d.status, 200) << d.body;
  auto data = data_of(d);
  const auto& overview = data.at("overview").as_object();
  EXPECT_EQ(overview.at("totalApiKeys").as_int64(), 3);
  EXPECT_EQ(overview.at("activeApiKeys").as_int64(), 1);
  EXPECT_EQ(overview.at("totalRequestsUsed").as_int64(), 2);
  EXPECT_EQ(overview.at("totalInputTokensUsed").as_int64(), 1010);
  EXPECT_EQ(overview.at("totalCostMicroUsd").as_int64(), 2468);
  EXPECT_EQ(data.at("recentActivity").at("apiKeysCreatedToday").as_int64(), 3);
  EXPECT_EQ(data.at("recentActivity").at("requestsToday").as_int64(), 2);
  EXPECT_EQ(data.at("recentActivity").at("tokensToday").as_int64(), 1212);
  EXPECT_TRUE(data.at("accounts").as_array().empty());

  // A key enabled again counts at once (the summary is cached, its generation moved).
  ASSERT_EQ(admin("PUT", "/admin/api-keys/" + b, R"({"isActive":true})").status, 200);
  EXPECT_EQ(data_of(admin("GET", "/admin/dashboard")).at("overview").at("activeApiKeys").as_int64(), 2);

  auto t = admin("GET", "/admin/usage-trend?days=3");
  ASSERT_EQ(t.status, 200) << t.body;
  auto trend = json::parse(t.body).as_object();
  EXPECT_EQ(trend.at("granularity").as_string(), "day");
  const auto& days = trend.at("data").as_array();
  ASSERT_EQ(days.size(), 3u);
  EXPECT_EQ(days[2].at("requests").as_int64(), 2);
  EXPECT_EQ(days[2].at("totalTokens").as_int64(), 1212);
  EXPECT_EQ(days[0].at("requests").as_int64(), 0);
  auto h = json::parse(admin("GET", "/admin/usage-trend?granularity=hour").body).as_object();
  ASSERT_EQ(h.at("data").as_array().size(), 24u);
  EXPECT_EQ(h.at("data").as_array().back().at("requests").as_int64(), 2);
  EXPECT_TRUE(h.at("data").as_array().back().as_object().contains("hour"));
  EXPECT_EQ(admin("GET", "/admin/usage-trend?granularity=week").status, 400);
  EXPECT_EQ(admin("GET", "/admin/usage-trend?days=400").status, 400);
  EXPECT_EQ(admin("GET", "/admin/usage-trend?granularity=hour&hours=169").status, 400);
  EXPECT_EQ(http_get(instances[0]->relay->port(), "/admin/dashboard").status, 401);
}

}  // namespace
}  // namespace crs::test
