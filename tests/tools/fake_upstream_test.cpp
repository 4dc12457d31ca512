// The fake Anthropic upstream that every relay test depends on: its wire format and its faults.
#include <signal.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

class FakeUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SpawnOptions o;
    o.argv = {fake_upstream_binary(), "--port", "0", "--threads", "2"};
    o.stdout_path = dir_.file("fake.log");
    auto child = Subprocess::spawn(o);
    ASSERT_TRUE(child.ok());
    process_.emplace(std::move(child.value()));
    ASSERT_TRUE(wait_until([&] { return read_file(dir_.file("fake.log")).find("listening on") != std::string::npos; }));
    port_ = std::stoi(read_file(dir_.file("fake.log")).substr(13));
  }

  HttpResponse messages(const std::string& body, std::map<std::string, std::string> headers = {}) {
    headers.emplace("x-api-key", "sk-ant-api03-test");
    headers.emplace("anthropic-version", "2023-06-01");
    return http_request(port_, "POST", "/v1/messages?beta=true", body, headers);
  }

  json::array recorded() {
    auto r = http_get(port_, "/_fake/requests");
    return json::parse(r.body).as_object()["requests"].as_array();
  }

  json::object stats() { return json::parse(http_get(port_, "/_fake/stats").body).as_object(); }

  void script(const std::string& body) {
    ASSERT_EQ(http_request(port_, "POST", "/_fake/behaviors", body).status, 200);
  }

  TempDir dir_;
  std::optional<Subprocess> process_;
  int port_ = 0;
};

const std::string kStreamBody =
    R"({"model":"claude-sonnet-4-5-20250929","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hi"}]})";
const std::string kBody =
    R"({"model":"claude-sonnet-4-5-20250929","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]})";

// A streaming request as raw bytes, for tests that watch the connection itself.
std::string raw_stream_request(const std::string& behavior) {
  return "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-fake-behavior: " + behavior +
         "\r\nContent-Length: " + std::to_string(kStreamBody.size()) + "\r\n\r\n" + kStreamBody;
}

std::vector<std::pair<std::string, json::object>> parse_sse(const std::string& text) {
  std::vector<std::pair<std::string, json::object>> events;
  size_t pos = 0;
  while (true) {
    auto e = text.find("event: ", pos);
    if (e == std::string::npos) break;
    auto eol = text.find('\n', e);
    std::string name = text.substr(e + 7, eol - e - 7);
    auto d = text.find("data: ", eol);
    auto deol = text.find('\n', d);
    events.emplace_back(name, json::parse(text.substr(d + 6, deol - d - 6)).as_object());
    pos = deol;
  }
  return events;
}

TEST_F(FakeUpstreamTest, StreamFollowsTheSpecSequence) {
  auto r = messages(kStreamBody);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_FALSE(r.header("request-id").empty());
  auto events = parse_sse(r.body);
  std::vector<std::string> names;
  for (auto& [n, d] : events) {
    names.push_back(n);
    EXPECT_EQ(d["type"].as_string(), n);  // event name and data type agree
  }
  std::vector<std::string> expected{"message_start",       "content_block_start", "ping",
                                    "content_block_delta", "content_block_delta", "content_block_delta",
                                    "content_block_stop",  "message_delta",       "message_stop"};
  EXPECT_EQ(names, expected);
  auto& start = events[0].second["message"].as_object();
  EXPECT_EQ(start["model"].as_string(), "claude-sonnet-4-5-20250929");
  EXPECT_EQ(start["usage"].as_object()["output_tokens"].as_int64(), 1);
  EXPECT_GT(start["usage"].as_object()["input_tokens"].as_int64(), 0);
  EXPECT_EQ(events[7].second["usage"].as_object()["output_tokens"].as_int64(), 9);
  EXPECT_EQ(events[7].second["delta"].as_object()["stop_reason"].as_string(), "end_turn");
}

TEST_F(FakeUpstreamTest, NonStreamingMessageWithFullUsage) {
  auto r = messages(kBody, {{"x-fake-behavior", R"({"deltas":2,"cacheReadInputTokens":7,"inputTokens":11})"}});
  ASSERT_EQ(r.status, 200);
  auto m = json::parse(r.body).as_object();
  EXPECT_EQ(m["type"].as_string(), "message");
  EXPECT_EQ(m["content"].as_array()[0].as_object()["text"].as_string(), "word0 word1 ");
  auto& u = m["usage"].as_object();
  EXPECT_EQ(u["input_tokens"].as_int64(), 11);
  EXPECT_EQ(u["output_tokens"].as_int64(), 6);
  EXPECT_EQ(u["cache_read_input_tokens"].as_int64(), 7);
  EXPECT_TRUE(u.contains("cache_creation"));
}

TEST_F(FakeUpstreamTest, RecordsEveryRequest) {
  messages(kBody, {{"anthropic-beta", "a-1"}, {"user-agent", "claude-cli/2.1.92 (external, cli)"}});
  http_request(port_, "POST", "/v1/messages/count_tokens", R"({"model":"m","messages":[]})",
               {{"authorization", "Bearer sk-ant-oat01-tok"}});
  auto list = recorded();
  ASSERT_EQ(list.size(), 2u);
  auto& first = list[0].as_object();
  EXPECT_EQ(first["target"].as_string(), "/v1/messages?beta=true");
  EXPECT_EQ(first["path"].as_string(), "/v1/messages");
  EXPECT_EQ(first["body"].as_string(), kBody);
  EXPECT_EQ(first["credential"].as_string(), "sk-ant-api03-test");
  EXPECT_EQ(first["headers"].as_object()["anthropic-beta"].as_string(), "a-1");
  EXPECT_EQ(first["outcome"].as_string(), "complete");
  EXPECT_EQ(first["usage"].as_object()["output_tokens"].as_int64(), 9);
  EXPECT_EQ(list[1].as_object()["credential"].as_string(), "sk-ant-oat01-tok");
  // since= returns only newer records
  auto newer = json::parse(http_get(port_, "/_fake/requests?since=1").body).as_object()["requests"].as_array();
  EXPECT_EQ(newer.size(), 1u);
}

TEST_F(FakeUpstreamTest, CountTokensAndModels) {
  auto c = http_request(port_, "POST", "/v1/messages/count_tokens", R"({"model":"m","messages":[]})",
                        {{"x-fake-behavior", R"({"inputTokens":14})"}});
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(c.body, R"({"input_tokens":14})");
  auto m = http_get(port_, "/v1/models");
  ASSERT_EQ(m.status, 200);
  auto o = json::parse(m.body).as_object();
  EXPECT_GE(o["data"].as_array().size(), 2u);
  EXPECT_EQ(o["data"].as_array()[0].as_object()["type"].as_string(), "model");
}

TEST_F(FakeUpstreamTest, ErrorStatusesWithHeaders) {
  auto r429 = messages(kBody, {{"x-fake-behavior", R"({"status":429,"retryAfter":17})"}});
  EXPECT_EQ(r429.status, 429);
  EXPECT_EQ(r429.header("retry-after"), "17");
  EXPECT_EQ(r429.header("anthropic-ratelimit-requests-remaining"), "0");
  auto body = json::parse(r429.body).as_object();
  EXPECT_EQ(body["type"].as_string(), "error");
  EXPECT_EQ(body["error"].as_object()["type"].as_string(), "rate_limit_error");

  EXPECT_EQ(json::parse(messages(kBody, {{"x-fake-behavior", R"({"status":529})"}}).body)
                .as_object()["error"].as_object()["type"].as_string(),
            "overloaded_error");
  EXPECT_EQ(messages(kBody, {{"x-fake-behavior", R"({"status":401})"}}).status, 401);
  EXPECT_EQ(messages(kBody, {{"x-fake-behavior", R"({"status":500})"}}).status, 500);
  auto html = messages(kBody, {{"x-fake-behavior", R"({"status":502,"htmlError":true})"}});
  EXPECT_EQ(html.status, 502);
  EXPECT_EQ(html.header("content-type"), "text/html");

  // The real API's own validation: bad JSON and missing fields are 400 invalid_request_error.
  auto bad = messages("{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("invalid_request_error"), std::string::npos);
  EXPECT_EQ(messages(R"({"model":"m","messages":[]})").status, 400);  // no max_tokens
  // A typo in a behaviour is reported, not ignored.
  EXPECT_EQ(messages(kBody, {{"x-fake-behavior", R"({"stauts":429})"}}).status, 400);
}

TEST_F(FakeUpstreamTest, ScriptedPerCredentialWithTimes) {
  script(R"({"credential":"sk-ant-api03-test","behavior":{"status":529},"times":2})");
  script(R"({"credential":"other","behavior":{"status":401}})");
  EXPECT_EQ(messages(kBody).status, 529);
  EXPECT_EQ(messages(kBody).status, 529);
  EXPECT_EQ(messages(kBody).status, 200);  // used up
  EXPECT_EQ(messages(kBody, {{"x-api-key", "other"}}).status, 401);
  EXPECT_EQ(messages(kBody, {{"x-api-key", "other"}}).status, 401);  // no times: stays
  ASSERT_EQ(http_request(port_, "DELETE", "/_fake/behaviors").status, 200);
  EXPECT_EQ(messages(kBody, {{"x-api-key", "other"}}).status, 200);
  EXPECT_EQ(http_request(port_, "POST", "/_fake/behaviors", R"({"behavior":{"nope":1}})").status, 400);
}

TEST_F(FakeUpstreamTest, MidStreamErrorEvent) {
  auto r = messages(kStreamBody, {{"x-fake-behavior", R"({"errorAfterEvents":4})"}});
  ASSERT_EQ(r.status, 200);
  auto events = parse_sse(r.body);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events.back().first, "error");
  EXPECT_EQ(events.back().second["error"].as_object()["type"].as_string(), "overloaded_error");
  EXPECT_EQ(recorded()[0].as_object()["outcome"].as_string(), "error_event");
  // 200 then an immediate error event (spec §7.7)
  auto early = parse_sse(messages(kStreamBody, {{"x-fake-behavior", R"({"errorAfterEvents":0})"}}).body);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].first, "error");
}

TEST_F(FakeUpstreamTest, ResetMidStream) {
  RawConnection c(port_);
  ASSERT_TRUE(c.send(raw_stream_request(R"({"resetAfterEvents":3})")));
  std::string got = c.receive(2s);
  EXPECT_NE(got.find("event: ping"), std::string::npos);
  EXPECT_EQ(got.find("content_block_delta"), std::string::npos);
  EXPECT_EQ(got.find("0\r\n\r\n"), std::string::npos) << "a reset stream has no final chunk";
  EXPECT_EQ(recorded()[0].as_object()["outcome"].as_string(), "reset");
}

TEST_F(FakeUpstreamTest, StallHoldsUntilTheClientLeaves) {
  {
    RawConnection c(port_);
    ASSERT_TRUE(c.send(raw_stream_request(R"({"stallAfterEvents":2})")));
    std::string got = c.receive(700ms);
    EXPECT_NE(got.find("content_block_start"), std::string::npos);
    EXPECT_EQ(got.find("ping"), std::string::npos);
    EXPECT_EQ(stats()["inFlight"].as_int64(), 1);
  }  // the client disconnects
  EXPECT_TRUE(wait_until([&] { return stats()["inFlight"].as_int64() == 0; }, 3s));
  EXPECT_EQ(recorded()[0].as_object()["outcome"].as_string(), "stalled");
}

TEST_F(FakeUpstreamTest, DripAndLatencyAndAwkwardChunks) {
  auto start = std::chrono::steady_clock::now();
  auto r = messages(kStreamBody, {{"x-fake-behavior", R"({"latencyMs":150,"dripMs":30,"chunkBytes":7,"crlf":true})"}});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.status, 200);
  EXPECT_GE(took, 150ms + 8 * 30ms);
  EXPECT_NE(r.body.find("event: message_stop\r\ndata: "), std::string::npos);
}

TEST_F(FakeUpstreamTest, TracksConcurrency) {
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&] { messages(kStreamBody, {{"x-fake-behavior", R"({"latencyMs":300})"}}); });
  for (auto& t : clients) t.join();
  auto s = stats();
  EXPECT_EQ(s["maxInFlight"].as_int64(), 4);
  EXPECT_EQ(s["inFlight"].as_int64(), 0);
  EXPECT_EQ(s["total"].as_int64(), 4);
  ASSERT_EQ(http_request(port_, "POST", "/_fake/reset").status, 200);
  EXPECT_EQ(stats()["maxInFlight"].as_int64(), 0);
  EXPECT_TRUE(recorded().empty());
}

}  // namespace
}  // namespace crs::test
