// OpenAI Chat Completions clients through the relay's front door, on the wire: the stream's
// chunks and its end (also when the upstream fails mid-way), whole answers, every refusal in
// OpenAI's error shape with OpenAI's statuses, the "openai" permission, and the counts. The
// official SDK's view is in clients_test.cpp; limits, stickiness, health and metering run
// for both APIs in their own tests.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/json.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kModel = "claude-sonnet-4-5-20250929";
const std::string kAccountKey = "sk-ant-api03-openai-inbound-000";
const std::string kChat = "/openai/claude/v1/chat/completions";

std::string chat(bool stream, const std::string& text = "hi", const std::string& extra = "") {
  return R"({"model":")" + kModel + R"(","max_tokens":64,"stream":)" + (stream ? "true" : "false") + extra +
         R"(,"messages":[{"role":"user","content":")" + text + R"("}]})";
}

// The data lines of an SSE body, in order.
std::vector<std::string> data_lines(const std::string& body) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    std::string line = body.substr(at, end - at);
    if (line.starts_with("data: ")) out.push_back(line.substr(6));
    at = end + 1;
  }
  return out;
}

class OpenAiInboundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake.start());
    dir.write("config/config.toml", "[server]\nmaxBodyBytes = 65536\n");
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto r = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                         "--api-key", kAccountKey});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    key = make_key({});
  }

  std::string make_key(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"keys", "create", "--name", "chat", "--json"});
    auto r = relay->cli(flags);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string made(parse_object(r.out)["key"].as_string());
    EXPECT_TRUE(wait_until([&] {
      return http_request(relay->port(), "GET", "/openai/v1/models", "", {{"authorization", "Bearer " + made}}).status != 503;
    }));
    return made;
  }

  HttpResponse post(const std::string& body, const std::string& with_key, const std::string& path = kChat) {
    return http_request(relay->port(), "POST", path, body,
                        {{"authorization", "Bearer " + with_key}, {"content-type", "application/json"}});
  }

  // An error answer in OpenAI's shape: error.{message,type,param,code}, nothing of Anthropic's.
  static void expect_openai_error(const HttpResponse& r, int status, const std::string& type, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.header("content-type").find("application/json"), std::string::npos);
    auto o = parse_object(r.body);
    ASSERT_TRUE(o.contains("error") && o["error"].is_object()) << r.body;
    auto& e = o["error"].as_object();
    EXPECT_EQ(e["type"].as_string(), type) << r.body;
    EXPECT_FALSE(e["message"].as_string().empty()) << r.body;
    EXPECT_TRUE(e.contains("param") && e["param"].is_null()) << r.body;
    EXPECT_EQ(e["code"].as_string(), code) << r.body;
    EXPECT_FALSE(o.contains("type")) << "the Anthropic envelope leaked: " << r.body;
  }

  TempDir dir;
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  std::string key;
};

TEST_F(OpenAiInboundTest, AStreamIsChatChunksEndingInDone) {
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":4,"text":"w","chunkBytes":7})", 1));
  auto r = post(chat(true), key);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.header("content-type").find("text/event-stream"), std::string::npos);
  EXPECT_EQ(r.body.find("event:"), std::string::npos) << "Anthropic event lines leaked: " << r.body;
  auto lines = data_lines(r.body);
  ASSERT_GE(lines.size(), 7u) << r.body;  // role, 4 deltas, finish, [DONE]
  EXPECT_EQ(lines.back(), "[DONE]");
  std::string id, text;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    auto c = parse_object(lines[i]);
    ASSERT_EQ(c["object"].as_string(), "chat.completion.chunk") << lines[i];
    EXPECT_EQ(c["model"].as_string(), kModel);
    EXPECT_FALSE(c.contains("usage")) << "usage without stream_options.include_usage: " << lines[i];
    if (i == 0) {
      id = std::string(c["id"].as_string());
      EXPECT_EQ(c["choices"].as_array()[0].as_object()["delta"].as_object()["role"].as_string(), "assistant");
    }
    EXPECT_EQ(c["id"].as_string(), id);
    auto& choice = c["choices"].as_array()[0].as_object();
    if (auto* t = choice["delta"].as_object().if_contains("content"); t && t->is_string()) text += t->as_string();
    if (i + 2 == lines.size()) EXPECT_EQ(choice["finish_reason"].as_string(), "stop");
    else EXPECT_TRUE(choice["finish_reason"].is_null()) << lines[i];
  }
  EXPECT_EQ(text, "w0 w1 w2 w3 ");
  EXPECT_EQ(id, "chatcmpl-" + r.header("x-request-id"));
}

TEST_F(OpenAiInboundTest, IncludeUsageAddsAFinalUsageChunk) {
  ASSERT_TRUE(fake.script(kAccountKey, R"({"inputTokens":40,"cacheReadInputTokens":60,"outputTokens":9})", 1));
  auto r = post(chat(true, "hi", R"(,"stream_options":{"include_usage":true})"), key);
  ASSERT_EQ(r.status, 200) << r.body;
  auto lines = data_lines(r.body);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.back(), "[DONE]");
  auto last = parse_object(lines[lines.size() - 2]);
  EXPECT_TRUE(last["choices"].as_array().empty()) << lines[lines.size() - 2];
  auto& u = last["usage"].as_object();
  EXPECT_EQ(u["prompt_tokens"].as_int64(), 100);
  EXPECT_EQ(u["completion_tokens"].as_int64(), 9);
  EXPECT_EQ(u["total_tokens"].as_int64(), 109);
  EXPECT_EQ(u["prompt_tokens_details"].as_object()["cached_tokens"].as_int64(), 60);
  EXPECT_TRUE(parse_object(lines[0])["usage"].is_null()) << "earlier chunks carry usage: null";
}

TEST_F(OpenAiInboundTest, AWholeAnswerIsAChatCompletion) {
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":2,"text":"ok","inputTokens":11,"outputTokens":5})", 1));
  auto r = post(chat(false), key);
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = parse_object(r.body);
  EXPECT_EQ(o["object"].as_string(), "chat.completion");
  EXPECT_EQ(o["id"].as_string(), "chatcmpl-" + r.header("x-request-id"));
  auto& m = o["choices"].as_array()[0].as_object();
  EXPECT_EQ(m["message"].as_object()["content"].as_string(), "ok0 ok1 ");
  EXPECT_EQ(m["finish_reason"].as_string(), "stop");
  EXPECT_EQ(o["usage"].as_object()["prompt_tokens"].as_int64(), 11);
  EXPECT_EQ(o["usage"].as_object()["completion_tokens"].as_int64(), 5);
}

// The upstream fails in the middle: one error line, then [DONE], and a well-formed chunked end
// (http_request would see a truncated body if an empty translation became a 0-length chunk).
TEST_F(OpenAiInboundTest, AStreamCutMidWayEndsWithOneErrorLineThenDone) {
  for (const char* fault : {R"({"resetAfterEvents":4})", R"({"errorAfterEvents":5})"}) {
    SCOPED_TRACE(fault);
    ASSERT_TRUE(fake.script(kAccountKey, fault, 1));
    auto r = post(chat(true), key);
    ASSERT_EQ(r.status, 200) << r.body;
    auto lines = data_lines(r.body);
    ASSERT_GE(lines.size(), 2u) << r.body;
    EXPECT_EQ(lines.back(), "[DONE]") << r.body;
    auto error = parse_object(lines[lines.size() - 2]);
    ASSERT_TRUE(error.contains("error")) << r.body;
    EXPECT_FALSE(error["error"].as_object()["message"].as_string().empty());
    int errors = 0, dones = 0;
    for (const auto& l : lines) {
      errors += l.starts_with("{\"error\"");
      dones += l == "[DONE]";
    }
    EXPECT_EQ(errors, 1) << r.body;
    EXPECT_EQ(dones, 1) << r.body;
  }
}

TEST_F(OpenAiInboundTest, EveryRefusalIsAnOpenAiError) {
  expect_openai_error(http_request(relay->port(), "POST", kChat, chat(false)), 401, "authentication_error",
                      "invalid_api_key");
  expect_openai_error(post(chat(false), "cr_" + std::string(64, '0')), 401, "authentication_error", "invalid_api_key");
  expect_openai_error(post("{not json", key), 400, "invalid_request_error", "invalid_request_error");
  expect_openai_error(post(chat(false, "hi", R"(,"n":2)"), key), 400, "invalid_request_error", "invalid_request_error");
  expect_openai_error(post(R"({"model":")" + kModel + R"(","messages":[]})", key), 400, "invalid_request_error",
                      "invalid_request_error");
  // The key's rules: the permission the route needs, the models it may use.
  std::string claude_only = make_key({"--permissions", "claude"});
  auto refused = post(chat(false), claude_only);
  expect_openai_error(refused, 403, "permission_error", "permission_error");
  EXPECT_NE(refused.body.find("openai"), std::string::npos) << refused.body;
  std::string opus_only = make_key({"--models", "claude-opus*"});
  expect_openai_error(post(chat(false), opus_only), 403, "permission_error", "permission_error");
  // Upstream errors keep their status, except 529, which OpenAI clients do not know.
  ASSERT_TRUE(fake.script(kAccountKey, R"({"status":400,"errorMessage":"max_tokens: too large"})", 1));
  auto bad = post(chat(false), key);
  expect_openai_error(bad, 400, "invalid_request_error", "invalid_request_error");
  EXPECT_NE(bad.body.find("max_tokens: too large"), std::string::npos);
  ASSERT_TRUE(fake.script(kAccountKey, R"({"status":529})", 1));
  expect_openai_error(post(chat(false), key), 503, "overloaded_error", "overloaded_error");
  // A body over server.maxBodyBytes is refused from its length alone, before the route is
  // known: with the members an OpenAI client reads too.
  std::string raw = raw_exchange(relay->port(), "POST " + kChat + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
                                                    "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 413")) << raw;
  EXPECT_NE(raw.find(R"("code":"request_too_large")"), std::string::npos) << raw;
}

TEST_F(OpenAiInboundTest, TheOpenAiPermissionOpensOnlyTheOpenAiRoutes) {
  std::string openai_only = make_key({"--permissions", "openai"});
  EXPECT_EQ(post(chat(false), openai_only).status, 200);
  std::string messages = R"({"model":")" + kModel + R"(","max_tokens":8,"messages":[{"role":"user","content":"hi"}]})";
  auto refused = http_request(relay->port(), "POST", "/v1/messages", messages, {{"x-api-key", openai_only}});
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(parse_object(refused.body)["type"].as_string(), "error");  // the Anthropic shape there
  // The model lists an OpenAI client may call: its own routes, and /api/v1, which both kinds share.
  for (const char* path : {"/openai/v1/models", "/openai/claude/v1/models", "/api/v1/models"})
    EXPECT_EQ(http_request(relay->port(), "GET", path, "", {{"authorization", "Bearer " + openai_only}}).status, 200)
        << path;
  EXPECT_EQ(http_request(relay->port(), "GET", "/v1/models", "", {{"authorization", "Bearer " + openai_only}}).status,
            403);
  auto one = http_request(relay->port(), "GET", "/openai/v1/models/" + kModel, "", {{"authorization", "Bearer " + key}});
  ASSERT_EQ(one.status, 200) << one.body;
  auto model = parse_object(one.body);
  EXPECT_EQ(model["object"].as_string(), "model");
  EXPECT_FALSE(model.contains("type")) << one.body;
  auto missing = http_request(relay->port(), "GET", "/openai/v1/models/nope", "", {{"authorization", "Bearer " + key}});
  expect_openai_error(missing, 404, "not_found_error", "not_found_error");
}

TEST_F(OpenAiInboundTest, ChatRequestsAreCountedAsTheirOwnFamily) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post(chat(i % 2 == 0), key).status, 200);
  ASSERT_EQ(post("{", key).status, 400);
  auto metrics = http_request(relay->port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(crs_http_requests_total{family="chat_completions",code="2xx"} 3)"), std::string::npos)
      << metrics.substr(0, 3000);
  EXPECT_NE(metrics.find(R"(crs_http_requests_total{family="chat_completions",code="4xx"} 1)"), std::string::npos);
}

}  // namespace
}  // namespace crs::test
