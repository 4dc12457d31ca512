// Every counted limit of a key, end to end: the request that crosses it is refused with the
// right status and message, and the one before it passes.
#include <atomic>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/client_api.hpp"
#include "support/json.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kModel = "claude-sonnet-4-5-20250929";
const std::string kAccountKey = "sk-ant-api03-limits-account-0000";

std::string body(bool stream = false) {
  return R"({"model":")" + kModel + R"(","max_tokens":100,"stream":)" + (stream ? "true" : "false") +
         R"(,"messages":[{"role":"user","content":"hi"}]})";
}

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake.start());
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{"CRS_TEST_UNUSED=1"});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto r = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                         "--api-key", kAccountKey, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A key with these flags; waits until the relay serves it.
  void make_key(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"keys", "create", "--name", "limited", "--json"});
    auto r = relay->cli(flags);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto o = parse_object(r.out);
    key = std::string(o["key"].as_string());
    key_id = std::string(o["id"].as_string());
    ASSERT_TRUE(wait_until([&] { return count_tokens().status == 200; }, 5s));
  }

  // A request in the API under test (Messages unless the test is run for both).
  std::string api_request(bool stream = false) { return api_body(api, kModel, 100, stream, "hi"); }
  HttpResponse post() { return post(api_request()); }
  HttpResponse post(const std::string& b) {
    return http_request(relay->port(), "POST", api_path(api), b,
                        {{"x-api-key", key}, {"content-type", "application/json"}});
  }
  HttpResponse count_tokens() {
    return http_request(relay->port(), "POST", "/v1/messages/count_tokens", body(),
                        {{"x-api-key", key}, {"content-type", "application/json"}});
  }
  std::string redis(const std::vector<std::string>& args) {
    RedisServer cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
    return cli.cli(args);
  }

  TempDir dir;
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  std::string key, key_id;
  ClientApi api = ClientApi::Messages;
};

// The limits an OpenAI client meets are the same, in its error shape (the same members).
class LimitsForBothApis : public LimitsTest, public ::testing::WithParamInterface<ClientApi> {
 protected:
  LimitsForBothApis() { api = GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Api, LimitsForBothApis, ::testing::Values(ClientApi::Messages, ClientApi::Chat), api_name);

void expect_refusal(const HttpResponse& r, int status, const std::string& type, const std::string& words) {
  EXPECT_EQ(r.status, status) << r.body;
  auto o = parse_object(r.body);
  ASSERT_TRUE(o.contains("error")) << r.body;
  EXPECT_EQ(o["error"].as_object()["type"].as_string(), type) << r.body;
  EXPECT_NE(std::string(o["error"].as_object()["message"].as_string()).find(words), std::string::npos) << r.body;
}

TEST_P(LimitsForBothApis, RateWindowRequestsThenRetryAfter) {
  make_key({"--rate-window", "1", "--rate-requests", "3"});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post().status, 200) << i;
  auto refused = post();
  expect_refusal(refused, 429, "rate_limit_error", "3 requests in this key's 1-minute window (limit 3)");
  int retry_after = std::stoi(refused.headers["retry-after"]);
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 60);
  auto o = parse_object(refused.body);
  EXPECT_EQ(o["currentRequests"].as_int64(), 3);
  EXPECT_EQ(o["requestLimit"].as_int64(), 3);
  EXPECT_TRUE(o.contains("resetAt"));
  // count_tokens consumes nothing and is still answered.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(count_tokens().status, 200);
}

TEST_F(LimitsTest, ScriptsForgottenByRedisAreSentAgain) {
  make_key({"--rate-window", "1", "--rate-requests", "4"});
  ASSERT_EQ(post().status, 200);
  redis({"SCRIPT", "FLUSH"});
  ASSERT_EQ(post(body(true)).status, 200);
  redis({"SCRIPT", "FLUSH"});
  ASSERT_EQ(post().status, 200);
  EXPECT_EQ(redis({"HGET", "limit:" + key_id, "winRequests"}), "3");
  EXPECT_TRUE(wait_until([&] { return redis({"HGET", "usage:" + key_id, "totalRequests"}) == "3"; }, 5s));
}

TEST_F(LimitsTest, CountTokensUsesNoWindow) {
  make_key({"--rate-window", "1", "--rate-requests", "1"});
  for (int i = 0; i < 10; ++i) ASSERT_EQ(count_tokens().status, 200);
  EXPECT_EQ(post().status, 200);
  EXPECT_EQ(post().status, 429);
}

TEST_P(LimitsForBothApis, WindowCostDailyWeeklyTotalAndTokens) {
  // Every answer of the fake costs more than $0.000001 and uses more than 10 tokens: the first
  // request passes on an untouched budget, the second finds it spent.
  struct Case {
    std::vector<std::string> flags;
    int status;
    std::string type, words, code;
  } cases[] = {
      {{"--rate-window", "5", "--rate-cost", "0.000001"}, 429, "rate_limit_error", "in this key's 5-minute window", ""},
      {{"--daily-cost", "0.000001"}, 402, "billing_error", "Daily cost limit reached", "daily_cost_limit_exceeded"},
      {{"--weekly-cost", "0.000001"}, 402, "billing_error", "Weekly cost limit reached", "weekly_cost_limit_exceeded"},
      {{"--total-cost", "0.000001"}, 402, "billing_error", "Total cost limit reached", "total_cost_limit_exceeded"},
      {{"--token-limit", "10"}, 402, "billing_error", "Token limit reached", "token_limit_exceeded"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.words);
    make_key(c.flags);
    ASSERT_EQ(post(api_request(true)).status, 200);
    auto refused = post();
    expect_refusal(refused, c.status, c.type, c.words);
    auto o = parse_object(refused.body);
    if (!c.code.empty()) {
      EXPECT_EQ(o["error"].as_object()["code"].as_string(), c.code);
      EXPECT_TRUE(o.contains("currentCost") || o.contains("currentTokens"));
    }
    bool resets = c.code == "daily_cost_limit_exceeded" || c.code == "weekly_cost_limit_exceeded";
    if (!c.code.empty() && c.code != "token_limit_exceeded") {
      EXPECT_EQ(o.contains("resetAt"), resets);
    }
  }
}

TEST_F(LimitsTest, ALimitSetLaterCountsWhatWasAlreadySpent) {
  make_key({});
  // Without counted limits the charge reaches Redis after the answer: wait for all three.
  auto tokens = [&] {
    std::string v = redis({"HGET", "limit:" + key_id, "totalTokens"});
    return v.empty() ? int64_t{0} : std::stoll(v);
  };
  ASSERT_EQ(post().status, 200);
  ASSERT_TRUE(wait_until([&] { return tokens() > 0; }, 5s));
  int64_t per_request = tokens();
  for (int i = 0; i < 2; ++i) ASSERT_EQ(post().status, 200);
  ASSERT_TRUE(wait_until([&] { return tokens() == 3 * per_request; }, 5s)) << tokens();
  int64_t spent = std::stoll(redis({"HGET", "limit:" + key_id, "totalCost"}));
  ASSERT_GT(spent, 0);
  auto set_total_cost = [&](int64_t micro) {
    std::string limit = std::to_string(micro / 1000000) + "." + std::to_string(1000000 + micro % 1000000).substr(1);
    while (limit.back() == '0') limit.pop_back();  // as the relay stores it
    if (limit.back() == '.') limit.pop_back();
    ASSERT_EQ(relay->cli({"keys", "update", key_id, "--total-cost", limit}).exit_code, 0);
  };
  // A budget of exactly what was spent is already used up. A refusal spends nothing, so the
  // requests that meet the instance's older copy of the key (before the change reaches it)
  // change nothing either.
  set_total_cost(spent);
  ASSERT_TRUE(wait_until([&] { return post().status == 402; }, 5s));
  expect_refusal(post(), 402, "billing_error", "Total cost limit reached");
  // Just above it: exactly one more request passes, then the budget is spent.
  set_total_cost(spent + 1);
  ASSERT_TRUE(wait_until([&] { return post().status == 200; }, 5s));
  expect_refusal(post(), 402, "billing_error", "Total cost limit reached");
}

// A budget is reserved at admission (input from the body, output at max_tokens) and settled
// at completion: 50 requests of $0.05 each, sent at once against a $0.01 total budget, overspend
// it by at most one request; the rest are refused with 402. The reservation is released when
// the request ends, whether it was charged or failed.
TEST_F(LimitsTest, ConcurrentRequestsCannotOverspendABudget) {
  make_key({"--total-cost", "0.01"});
  // sonnet 4.5: 3,334 output tokens x $15/MTok = $0.05
  ASSERT_TRUE(fake.script(kAccountKey, R"({"outputTokens":3334,"inputTokens":1,"latencyMs":300})"));
  std::string expensive = R"({"model":")" + kModel + R"(","max_tokens":4000,"messages":[{"role":"user","content":"hi"}]})";
  std::vector<std::thread> clients;
  std::atomic<int> ok{0}, refused{0}, other{0};
  for (int i = 0; i < 50; ++i)
    clients.emplace_back([&] {
      int status = post(expensive).status;
      (status == 200 ? ok : status == 402 ? refused : other)++;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(ok.load(), 1);
  EXPECT_EQ(ok.load() + refused.load(), 50);
  int64_t spent = std::stoll(redis({"HGET", "limit:" + key_id, "totalCost"}));
  EXPECT_LE(spent, 10'000 + 50'000) << ok.load() << " requests passed";
  EXPECT_EQ(redis({"ZCARD", "limit:concurrency:" + key_id}), "0") << "every reservation settled";
  EXPECT_EQ(redis({"HGET", "limit:" + key_id, "resCost"}), "0");
  EXPECT_EQ(redis({"HGET", "limit:" + key_id, "resTokens"}), "0");
}

// The reservation of an instance that died is given back when its lease expires: admission
// tidies expired leases and takes their reservations off (it reads a running sum, not every
// lease, so thousands of requests in flight cost it nothing).
TEST_F(LimitsTest, AReservationOfACrashedInstanceExpiresWithItsLease) {
  make_key({"--total-cost", "1", "--concurrency", "1"});  // admitted exactly (not from a grant)
  redis({"ZADD", "limit:concurrency:" + key_id, "1", "crashed:req|5000000|0"});  // expired long ago
  redis({"HSET", "limit:" + key_id, "resCost", "5000000", "resTokens", "0"});
  EXPECT_EQ(post().status, 200) << "a dead instance's $5 reservation still counted";
  EXPECT_EQ(redis({"ZCARD", "limit:concurrency:" + key_id}), "0");
  EXPECT_EQ(redis({"HGET", "limit:" + key_id, "resCost"}), "0");
}

// A failed request gives its reservation back: a budget that fits one request at a time is
// not eaten by requests that the upstream refused.
TEST_F(LimitsTest, AFailedRequestReleasesItsReservation) {
  make_key({"--total-cost", "1"});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(fake.script(kAccountKey, R"({"status":400,"errorType":"invalid_request_error"})", 1));
    ASSERT_EQ(post().status, 400);
  }
  EXPECT_EQ(redis({"ZCARD", "limit:concurrency:" + key_id}), "0");
  EXPECT_EQ(post().status, 200);
}

// The slot of a request that ends in an error is free before the client reads the error, so
// a client that retries at once is not refused by its own finished request.
TEST_F(LimitsTest, AnErrorAnswerFreesTheSlotBeforeTheClientSeesIt) {
  make_key({"--concurrency", "1"});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(fake.script(kAccountKey, R"({"status":400,"errorType":"invalid_request_error"})", 1));
    ASSERT_EQ(post().status, 400);
    ASSERT_EQ(post().status, 200) << "retry " << i;
  }
}

TEST_P(LimitsForBothApis, ConcurrencySlotsAreHeldWhileStreamingAndReleasedAfter) {
  make_key({"--concurrency", "2"});
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":3,"dripMs":400})", 2));
  std::string streamed = api_request(true);
  std::string raw = "POST " + api_path(api) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-api-key: " + key +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(streamed.size()) +
                    "\r\n\r\n" + streamed;
  RawConnection first(relay->port()), second(relay->port());
  ASSERT_TRUE(first.send(raw));
  ASSERT_TRUE(second.send(raw));
  EXPECT_NE(first.receive(300ms).find(stream_marker(api)), std::string::npos);
  EXPECT_NE(second.receive(300ms).find(stream_marker(api)), std::string::npos);
  auto refused = post();
  expect_refusal(refused, 429, "rate_limit_error", "2 requests in flight (limit 2)");
  EXPECT_EQ(refused.headers["retry-after"], "1");
  EXPECT_EQ(parse_object(refused.body)["concurrencyLimit"].as_int64(), 2);
  // Both streams end; their slots are free at once.
  first.receive(3s);
  second.receive(3s);
  EXPECT_TRUE(wait_until([&] { return redis({"ZCARD", "limit:concurrency:" + key_id}) == "0"; }, 2s));
  EXPECT_EQ(post().status, 200);
  EXPECT_EQ(post().status, 200);  // sequential requests never collide with their own release
  EXPECT_EQ(redis({"ZCARD", "limit:concurrency:" + key_id}), "0");
  // An upstream error and a client that leaves release their slots too.
  ASSERT_TRUE(fake.script(kAccountKey, R"({"status":400,"errorType":"invalid_request_error"})", 1));
  EXPECT_EQ(post().status, 400);
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":20,"dripMs":300})", 1));
  {
    RawConnection leaving(relay->port());
    ASSERT_TRUE(leaving.send(raw));
    EXPECT_NE(leaving.receive(500ms).find(stream_marker(api)), std::string::npos);
  }
  EXPECT_TRUE(wait_until([&] { return redis({"ZCARD", "limit:concurrency:" + key_id}) == "0"; }, 3s));
}

}  // namespace
}  // namespace crs::test
