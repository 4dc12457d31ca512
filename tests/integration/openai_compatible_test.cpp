// OpenAI-compatible accounts end to end, against the fake provider's /v1/chat/completions: the
// official Anthropic SDK served by it, tool calls and their streamed arguments brought back as
// tool_use blocks, usage metered from the provider's report (or estimated without one), its
// errors in the Anthropic shape, models it does not serve kept away from it, and both proxies.
#include <filesystem>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "integration/test_proxy.hpp"
#include "support/json.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kModel = "claude-sonnet-4-5-20250929";
const std::string kProviderModel = "gpt-fake-1";
const std::string kProviderKey = "sk-provider-fake-0000000001";

std::string message(bool stream, const std::string& text = "hi", const std::string& model = kModel) {
  return R"({"model":")" + model + R"(","max_tokens":64,"stream":)" + (stream ? "true" : "false") +
         R"(,"messages":[{"role":"user","content":")" + text + R"("}]})";
}

class OpenAiCompatibleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake.start());
    dir.write("config/config.toml", "[relay]\nmaxAttempts = 2\n");
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto r = relay->cli({"keys", "create", "--name", "bridge", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    key = std::string(parse_object(r.out)["key"].as_string());
    key_id = std::string(parse_object(r.out)["id"].as_string());
  }

  // The provider's account, serving kModel as kProviderModel.
  std::string add_account(const std::string& name, const std::string& proxy = "") {
    std::vector<std::string> args{"accounts", "add", "--type", "openai-compatible", "--name", name, "--base-url",
                                  fake.url() + "/v1", "--api-key", kProviderKey, "--model-map",
                                  kModel + "=" + kProviderModel, "--json"};
    if (!proxy.empty()) args.insert(args.end(), {"--proxy", proxy});
    auto r = relay->cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(wait_until([&] { return post(message(false)).status != 503; }));
    return std::string(parse_object(r.out)["id"].as_string());
  }

  HttpResponse post(const std::string& body, const std::string& path = "/v1/messages") {
    return http_request(relay->port(), "POST", path, body, {{"x-api-key", key}, {"content-type", "application/json"}});
  }
  json::array requests() { return parse_object(fake.requests_json())["requests"].as_array(); }
  json::object last_request() { return requests().back().as_object(); }
  json::object last_body() { return parse_object(std::string(last_request()["body"].as_string())); }
  std::string redis(const std::vector<std::string>& args) {
    RedisServer cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
    return cli.cli(args);
  }

  TempDir dir;
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  std::string key, key_id;
};

TEST_F(OpenAiCompatibleTest, TheAnthropicSdkIsServedByTheProvider) {
  std::string clients = source_dir() + "/tests/clients";
  ASSERT_TRUE(std::filesystem::exists(clients + "/node_modules/@anthropic-ai/sdk")) << "npm ci --prefix tests/clients";
  add_account("provider");
  auto r = run_command({"node", clients + "/anthropic_sdk.mjs"},
                       {"CRS_BASE_URL=http://127.0.0.1:" + std::to_string(relay->port()) + "/api", "CRS_KEY=" + key,
                        "CRS_SKIP_COUNT_TOKENS=1"},
                       clients, 60s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"failed\":[]"), std::string::npos) << r.out << r.err;
  // What the provider got: Chat Completions for its own model name, with its key; streams ask
  // for the usage chunk.
  int streams = 0;
  for (const auto& v : requests()) {
    const auto& rec = v.as_object();
    if (rec.at("path").as_string() != "/v1/chat/completions") continue;
    EXPECT_EQ(rec.at("credential").as_string(), kProviderKey);
    auto body = parse_object(std::string(rec.at("body").as_string()));
    EXPECT_EQ(body["model"].as_string(), kProviderModel);
    EXPECT_TRUE(body["messages"].is_array());
    if (body.contains("stream")) {
      ++streams;
      EXPECT_EQ(json::serialize(body["stream_options"]), R"({"include_usage":true})");
    }
  }
  EXPECT_GE(streams, 1);
  // An OpenAI client reaches it too (translated there and back).
  auto chat = post(R"({"model":")" + kModel + R"(","messages":[{"role":"user","content":"hi"}]})",
                   "/openai/claude/v1/chat/completions");
  ASSERT_EQ(chat.status, 200) << chat.body;
  EXPECT_EQ(parse_object(chat.body)["object"].as_string(), "chat.completion");
}

TEST_F(OpenAiCompatibleTest, ToolCallsComeBackAsToolUseBlocks) {
  add_account("provider");
  std::string body = R"({"model":")" + kModel +
                     R"(","max_tokens":64,"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],)"
                     R"("messages":[{"role":"user","content":"weather in Paris"}]})";
  ASSERT_TRUE(fake.script(kProviderKey, R"({"deltas":1,"toolUse":{"name":"get_weather","input":{"city":"Paris"}}})", 2));
  auto whole = post(body);
  ASSERT_EQ(whole.status, 200) << whole.body;
  auto m = parse_object(whole.body);
  EXPECT_EQ(m["stop_reason"].as_string(), "tool_use");
  auto& block = m["content"].as_array().back().as_object();
  EXPECT_EQ(block["type"].as_string(), "tool_use");
  EXPECT_EQ(block["name"].as_string(), "get_weather");
  EXPECT_EQ(block["input"], json::parse(R"({"city":"Paris"})"));
  EXPECT_TRUE(last_body()["tools"].as_array()[0].as_object().contains("function")) << "tools were not translated";
  std::string streamed_body = body;
  streamed_body.insert(1, R"("stream":true,)");
  auto streamed = post(streamed_body);
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_NE(streamed.body.find(R"("type":"tool_use","id":"call_fakeprovider01","name":"get_weather")"), std::string::npos)
      << streamed.body;
  EXPECT_NE(streamed.body.find(R"({\"city\":\"Paris\"})"), std::string::npos) << streamed.body;
  EXPECT_NE(streamed.body.find(R"("stop_reason":"tool_use")"), std::string::npos) << streamed.body;
  EXPECT_NE(streamed.body.find("event: message_stop"), std::string::npos);
}

TEST_F(OpenAiCompatibleTest, UsageIsTheProvidersReportOrAnEstimateWithoutOne) {
  add_account("provider");
  ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/reset").status, 200);
  ASSERT_TRUE(fake.script(kProviderKey, R"({"inputTokens":200,"cacheReadInputTokens":50,"outputTokens":30})", 2));
  ASSERT_EQ(post(message(true)).status, 200);
  ASSERT_EQ(post(message(false)).status, 200);
  auto totals = [&](const char* field) { return redis({"HGET", "usage:" + key_id, field}); };
  // add_account's own request is in the totals too: compare with everything the fake reported.
  ASSERT_TRUE(wait_until([&] { return totals("totalCacheReadTokens") == "100"; })) << redis({"HGETALL", "usage:" + key_id});
  EXPECT_TRUE(wait_until([&] {
    return std::stoll(totals("totalOutputTokens")) >= 60 && std::stoll(totals("totalInputTokens")) >= 400;
  }));
  auto records = redis({"LRANGE", "usage:records:" + key_id, "0", "1"});
  EXPECT_NE(records.find(R"("model":"gpt-fake-1")"), std::string::npos) << "priced as the model that served: " << records;
  // Without a report: the request's size in, the text that passed out, never free.
  std::string before_out = totals("totalOutputTokens");
  ASSERT_TRUE(fake.script(kProviderKey, R"({"omitUsage":true,"deltas":8,"text":"abcdefgh"})", 1));
  ASSERT_EQ(post(message(true)).status, 200);
  EXPECT_TRUE(wait_until([&] { return std::stoll(totals("totalOutputTokens")) >= std::stoll(before_out) + 16; }))
      << totals("totalOutputTokens") << " after " << before_out;
  // Whole answers too, and the record says it was estimated.
  before_out = totals("totalOutputTokens");
  ASSERT_TRUE(fake.script(kProviderKey, R"({"omitUsage":true,"deltas":8,"text":"abcdefgh"})", 1));
  ASSERT_EQ(post(message(false)).status, 200);
  EXPECT_TRUE(wait_until([&] { return std::stoll(totals("totalOutputTokens")) >= std::stoll(before_out) + 16; }))
      << totals("totalOutputTokens") << " after " << before_out;
  EXPECT_TRUE(wait_until([&] {
    return redis({"LRANGE", "usage:records:" + key_id, "0", "0"}).find(R"("estimated":true)") != std::string::npos;
  })) << redis({"LRANGE", "usage:records:" + key_id, "0", "0"});
}

TEST_F(OpenAiCompatibleTest, ProviderErrorsInTheAnthropicShape) {
  std::string id = add_account("provider");
  ASSERT_TRUE(fake.script(kProviderKey, R"({"status":400,"errorMessage":"Invalid 'messages[0].content'"})", 1));
  auto invalid = post(message(false));
  EXPECT_EQ(invalid.status, 400);
  auto e = parse_object(invalid.body);
  EXPECT_EQ(e["type"].as_string(), "error");
  EXPECT_EQ(e["error"].as_object()["type"].as_string(), "invalid_request_error");
  EXPECT_EQ(e["error"].as_object()["message"].as_string(), "Invalid 'messages[0].content'");
  ASSERT_TRUE(fake.script(kProviderKey, R"({"status":429,"retryAfter":3})", 1));
  auto limited = post(message(false));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(parse_object(limited.body)["error"].as_object()["type"].as_string(), "rate_limit_error");
  ASSERT_EQ(relay->cli({"accounts", "reset-state", id}).exit_code, 0);
  // Mid-stream: the provider's error chunk is an Anthropic error event.
  ASSERT_TRUE(fake.script(kProviderKey, R"({"errorAfterEvents":2})", 1));
  auto cut = post(message(true));
  EXPECT_NE(cut.body.find("event: error"), std::string::npos) << cut.body;
  // The provider refusing the account's key: the account is marked, the client told nothing of it.
  ASSERT_TRUE(fake.script(kProviderKey, R"({"status":401})", 1));
  auto refused = post(message(false));
  EXPECT_EQ(refused.status, 500) << refused.body;
  EXPECT_TRUE(wait_until([&] {
    return parse_object(relay->cli({"accounts", "show", id, "--json"}).out)["status"].as_string() == "unauthorized";
  }));
}

TEST_F(OpenAiCompatibleTest, ItServesOnlyTheModelsItNames) {
  // Without a model list or mapping it is refused: it would take every Claude request.
  auto bare = relay->cli({"accounts", "add", "--type", "openai-compatible", "--name", "bare", "--base-url",
                          fake.url() + "/v1", "--api-key", kProviderKey});
  EXPECT_NE(bare.exit_code, 0);
  EXPECT_NE(bare.err.find("--models"), std::string::npos) << bare.err;
  add_account("provider");
  size_t before = requests().size();
  auto other = post(message(false, "hi", "claude-haiku-4-5-20251001"));
  EXPECT_EQ(other.status, 404) << other.body;
  EXPECT_EQ(requests().size(), before);
}

TEST_F(OpenAiCompatibleTest, ThroughSocks5AndHttpConnectProxies) {
  TestProxy proxy(dir, "proxy-user", "proxy-pass");
  ASSERT_TRUE(proxy.ready());
  std::string port = proxy.port();
  for (std::string scheme : {"socks5", "http"}) {
    SCOPED_TRACE(scheme);
    std::string id = add_account("via-" + scheme, scheme + "://proxy-user:proxy-pass@127.0.0.1:" + port);
    for (bool stream : {false, true}) EXPECT_EQ(post(message(stream)).status, 200);
    EXPECT_TRUE(proxy.tunneled(scheme, fake.port())) << proxy.log();
    ASSERT_EQ(relay->cli({"accounts", "disable", id}).exit_code, 0);
  }
}

}  // namespace
}  // namespace crs::test
