// Metering, exactly: 2,000 mixed requests over three `crs serve` instances on one Redis
// (streams, non-streams, clients that leave mid-stream, upstream faults before and during the
// answer; half of them from OpenAI Chat Completions clients). Per key, the tokens the relay recorded equal the tokens the fake upstream emitted,
// and every cost total (all time, per day, the limits' counters) equals the sum of the
// per-request costs.
#include <atomic>
#include <map>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/client_api.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr int kRequests = 2000;
constexpr int kKeys = 4;
constexpr int kClients = 24;
const std::string kModel = "claude-sonnet-4-5-20250929";

struct Sums {
  int64_t input = 0, output = 0, cache_create = 0, cache_read = 0, answers = 0;
  bool operator==(const Sums&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Sums& s) {
  return os << "{in " << s.input << ", out " << s.output << ", cache+ " << s.cache_create << ", cache> "
            << s.cache_read << ", answers " << s.answers << "}";
}

// What each request does, by its index: the mode picks a script of the fake upstream through
// the body ("mode=..."), `leave` makes the client hang up after the first event.
struct Plan {
  bool stream;
  std::string mode;
  bool leave;
  ClientApi api = ClientApi::Messages;
};

Plan plan_by_mode(int i) {
  switch ((i / kKeys) % 10) {
    case 0: return {false, "plain", false};
    case 1: return {true, "plain", false};
    case 2: return {true, "stall", true};       // the client leaves mid-stream
    case 3: return {true, "reset", false};      // upstream connection reset after 4 events
    case 4: return {true, "overload", false};   // an error event mid-stream
    case 5: return {false, "cache", false};
    case 6: return {true, "cache", false};
    case 7: return {true, "long", false};
    case 8: return {false, i % 80 == 32 ? "fail" : "plain", false};  // now and then a 500
    default: return {true, i % 80 == 36 ? "refuse" : "plain", false};  // or a reset before any answer
  }
}

// Half the requests come from OpenAI clients: the body of one user turn is the same text in
// both APIs, only the route differs.
Plan plan_of(int i) {
  Plan p = plan_by_mode(i);
  if ((i / 3) % 2 == 1) p.api = ClientApi::Chat;
  return p;
}

std::string body_of(int i, int key, const Plan& p) {
  json::object o{{"model", kModel},
                 {"max_tokens", 100},
                 {"stream", p.stream},
                 {"messages", json::array{json::object{
                                  {"role", "user"},
                                  {"content", "key=K" + std::to_string(key) + " mode=" + p.mode + " request " +
                                                  std::to_string(i) + std::string(static_cast<size_t>(i % 37), 'x')}}}}};
  return json::serialize(o);
}

class MeteringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
    for (auto* d : {&dir_a, &dir_b, &dir_c}) {
      d->write("config/config.toml", "[usage]\nrecordsPerKey = 5000\n[loadBalancing.failureRecovery]\ntemporaryFailureDelay = 1\nmaxBackoffTime = 1\n");
      relays.push_back(std::make_unique<RelayProcess>(
          *d, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                       "ENCRYPTION_KEY=mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", "WORKERS=1"}));
      ASSERT_TRUE(relays.back()->start()) << relays.back()->log();
    }
    for (int a = 0; a < 3; ++a) {
      std::string name = fmt::format("acct{}", a), secret = fmt::format("sk-ant-api03-metering-{}", a);
      auto r = relays[0]->cli({"accounts", "add", "--type", "claude-console", "--name", name, "--base-url", fake.url(),
                               "--api-key", secret, "--json"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    // Two keys without counted limits (charged through the batched writer), two with (charged
    // by the completion script before the answer ends).
    std::vector<std::vector<std::string>> flags{{}, {"--tags", "plain"}, {"--daily-cost", "100000"},
                                                {"--concurrency", "1000", "--total-cost", "100000"}};
    for (int k = 0; k < kKeys; ++k) {
      std::string name = fmt::format("K{}", k);
      std::vector<std::string> args{"keys", "create", "--name", name, "--json"};
      args.insert(args.end(), flags[k].begin(), flags[k].end());
      auto r = relays[0]->cli(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      auto o = json::parse(r.out).as_object();
      keys.emplace_back(o["key"].as_string());
      ids.emplace_back(o["id"].as_string());
    }
    script(R"({"bodyContains":"mode=stall","behavior":{"stallAfterEvents":3,"stallMs":10000}})");
    script(R"({"bodyContains":"mode=reset","behavior":{"resetAfterEvents":4}})");
    script(R"({"bodyContains":"mode=overload","behavior":{"errorAfterEvents":5}})");
    script(R"({"bodyContains":"mode=cache","behavior":{"cacheCreationInputTokens":1200,"cacheReadInputTokens":34000,"outputTokens":77}})");
    script(R"({"bodyContains":"mode=long","behavior":{"deltas":25,"dripMs":1}})");
    // Faults before any answer come from one account only: the relay fails over to another.
    script(R"({"credential":"sk-ant-api03-metering-0","bodyContains":"mode=fail","behavior":{"status":500}})");
    script(R"({"credential":"sk-ant-api03-metering-0","bodyContains":"mode=refuse","behavior":{"resetBeforeResponse":true}})");
    // And one 500 from whichever account the first such request meets, so there is at least one.
    script(R"({"bodyContains":"mode=fail","behavior":{"status":500},"times":1})");
  }

  void script(const std::string& json_text) {
    ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/behaviors", json_text).status, 200) << json_text;
  }

  // One request; returns its status (0 when the client left on purpose).
  int send(int i) {
    int key = i % kKeys;
    Plan p = plan_of(i);
    int port = relays[static_cast<size_t>(i % 3)]->port();
    std::string body = body_of(i, key, p);
    if (!p.leave) {
      return http_request(port, "POST", api_path(p.api), body,
                          {{"x-api-key", keys[static_cast<size_t>(key)]}, {"content-type", "application/json"}}, 30s)
          .status;
    }
    RawConnection c(port);
    c.send("POST " + api_path(p.api) + " HTTP/1.1\r\nHost: relay\r\nx-api-key: " + keys[static_cast<size_t>(key)] +
           "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    std::string seen;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (seen.find(stream_marker(p.api)) == std::string::npos && std::chrono::steady_clock::now() < deadline)
      seen += c.receive(20ms);
    return 0;  // the connection closes here, mid-stream
  }

  json::array fake_requests() {
    auto log = json::parse(fake.requests_json());
    return log.is_array() ? log.as_array() : log.as_object().at("requests").as_array();
  }

  // What the fake upstream emitted, per key (from its request log).
  std::vector<Sums> emitted() {
    std::vector<Sums> out(kKeys);
    for (const auto& r : fake_requests()) {
      const auto& o = r.as_object();
      const auto* usage = o.if_contains("usage");
      if (!usage || !usage->is_object()) continue;
      std::string body(o.at("body").as_string());
      size_t at = body.find("key=K");
      if (at == std::string::npos) continue;
      Sums& s = out[static_cast<size_t>(body[at + 5] - '0')];
      const auto& u = usage->as_object();
      auto n = [&](const char* name) { return u.contains(name) ? u.at(name).as_int64() : 0; };
      int64_t in = n("input_tokens"), outp = n("output_tokens"), cc = n("cache_creation_input_tokens"),
              cr = n("cache_read_input_tokens");
      s.input += in;
      s.output += outp;
      s.cache_create += cc;
      s.cache_read += cr;
      s.answers += in + outp + cc + cr > 0 ? 1 : 0;
    }
    return out;
  }

  int64_t field(const std::string& hash, const std::string& name) {
    std::string v = redis.cli({"HGET", hash, name});
    return v.empty() ? 0 : std::stoll(v);
  }

  Sums recorded(const std::string& id) {
    Sums s{field("usage:" + id, "totalInputTokens"), field("usage:" + id, "totalOutputTokens"),
           field("usage:" + id, "totalCacheCreateTokens"), field("usage:" + id, "totalCacheReadTokens"), 0};
    for (const auto& line : records(id)) {
      auto o = json::parse(line).as_object();
      s.answers += o["totalTokens"].as_int64() > 0 ? 1 : 0;
    }
    return s;
  }

  std::vector<std::string> records(const std::string& id) {
    std::string out = redis.cli({"LRANGE", "usage:records:" + id, "0", "-1"});
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < out.size()) {
      size_t end = out.find('\n', start);
      if (end == std::string::npos) end = out.size();
      if (end > start) lines.push_back(out.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  }

  TempDir dir_a, dir_b, dir_c;
  RedisServer redis{dir_a.file("redis")};
  FakeUpstreamProcess fake{dir_a};
  std::vector<std::unique_ptr<RelayProcess>> relays;
  std::vector<std::string> keys, ids;
};

TEST_F(MeteringTest, TwoThousandMixedRequestsAreBilledExactly) {
  auto started = std::chrono::steady_clock::now();
  std::atomic<int> next{0};
  std::vector<std::atomic<int>> statuses(600);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = next++; i < kRequests; i = next++) ++statuses[static_cast<size_t>(send(i))];
    });
  }
  for (auto& t : clients) t.join();
  auto sent_at = std::chrono::steady_clock::now();
  int ok = statuses[200], left = statuses[0];
  int failed = kRequests - ok - left;
  EXPECT_GT(ok, kRequests / 2);
  EXPECT_EQ(left, kRequests / 10) << "clients that hung up";
  // Every kind of fault happened at the upstream (mid-stream ones reach clients inside a 200).
  std::map<std::string, int> outcomes;
  for (const auto& r : fake_requests()) ++outcomes[std::string(r.as_object().at("outcome").as_string())];
  for (const char* outcome : {"complete", "error_status", "reset", "error_event"})
    EXPECT_GT(outcomes[outcome], 0) << outcome;
  EXPECT_GT(outcomes["stalled"] + outcomes["client_gone"], 0);
  EXPECT_LE(outcomes["stalled"] + outcomes["client_gone"], left);

  auto expected = emitted();
  std::vector<Sums> got(kKeys);
  bool equal = wait_until([&] {
    for (int k = 0; k < kKeys; ++k) got[static_cast<size_t>(k)] = recorded(ids[static_cast<size_t>(k)]);
    return got == expected;
  }, 30s, 200ms);
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_EQ(got[static_cast<size_t>(k)], expected[static_cast<size_t>(k)]) << "key K" << k;
    EXPECT_GT(expected[static_cast<size_t>(k)].answers, 300) << "key K" << k;
  }
  ASSERT_TRUE(equal);
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::cout << "sent " << kRequests << " requests in " << ms(sent_at - started) << " ms (" << ok << " answered 200, "
            << left << " left mid-stream, " << failed << " errors); totals equal after "
            << ms(std::chrono::steady_clock::now() - sent_at) << " ms more\n";

  // Costs: per-request records, all-time, per-day and (for limited keys) the limit counters agree.
  int64_t all_keys = 0;
  for (int k = 0; k < kKeys; ++k) {
    const std::string& id = ids[static_cast<size_t>(k)];
    int64_t per_request = 0;
    std::map<std::string, int> by_endpoint;
    for (const auto& line : records(id)) {
      auto record = json::parse(line).as_object();
      per_request += record["costMicro"].as_int64();
      ++by_endpoint[std::string(record["endpoint"].as_string())];
    }
    EXPECT_GT(per_request, 0);
    EXPECT_GT(by_endpoint["/v1/messages"], 100) << "key K" << k;
    EXPECT_GT(by_endpoint["/v1/chat/completions"], 100) << "key K" << k;
    EXPECT_EQ(field("usage:" + id, "totalCostMicro"), per_request) << "key K" << k;
    int64_t daily = 0;
    std::string days = redis.cli({"SMEMBERS", "usage:" + id + ":models"});
    EXPECT_EQ(days, kModel);
    for (const auto& day : {0, 1}) {  // the run may cross midnight
      auto t = std::chrono::system_clock::now() + 8h - std::chrono::hours(24 * day);
      std::time_t tt = std::chrono::system_clock::to_time_t(t);
      std::tm tm{};
      gmtime_r(&tt, &tm);
      char label[16];
      std::strftime(label, sizeof label, "%Y-%m-%d", &tm);
      daily += field("usage:daily:" + id + ":" + label, "costMicro");
    }
    EXPECT_EQ(daily, per_request) << "key K" << k;
    EXPECT_EQ(field("limit:" + id, "totalCost"), per_request) << "key K" << k;
    EXPECT_EQ(field("limit:" + id, "totalTokens"),
              got[static_cast<size_t>(k)].input + got[static_cast<size_t>(k)].output +
                  got[static_cast<size_t>(k)].cache_create + got[static_cast<size_t>(k)].cache_read)
        << "key K" << k;
    all_keys += per_request;
  }
  EXPECT_EQ(field("usage:global:total", "totalCostMicro"), all_keys);
  // No concurrency slot is left held.
  EXPECT_EQ(redis.cli({"ZCARD", "limit:concurrency:" + ids[3]}), "0");
}

}  // namespace
}  // namespace crs::test
