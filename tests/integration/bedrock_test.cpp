// Bedrock accounts end to end, against the fake Bedrock runtime of tools/fake_upstream, which
// recomputes every SigV4 signature and answers with real event-stream frames: the official
// Anthropic SDK through SigV4 and bearer accounts, streams and whole answers metered from what
// Bedrock reported, a corrupt, cut or throttled stream ending in an error event, errors before
// the answer failing over or reaching the client in the Anthropic shape, a refused signature
// marking the account, and both proxy kinds.
#include <algorithm>
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
const std::string kKeyId = "AKIDFAKEBEDROCK00001";
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFAKEKEY001";

std::string message(bool stream, const std::string& text = "hi", const std::string& extra = "") {
  return R"({"model":")" + kModel + R"(","max_tokens":64,"stream":)" + (stream ? "true" : "false") + extra +
         R"(,"messages":[{"role":"user","content":")" + text + R"("}]})";
}

class BedrockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake.start());
    json::object credentials{{"accessKeyId", kKeyId}, {"secretAccessKey", kSecret}};
    ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/aws-credentials", json::serialize(credentials)).status, 200);
    dir.write("config/config.toml", "[relay]\nmaxAttempts = 3\n");
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto r = relay->cli({"keys", "create", "--name", "bedrock", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    key = std::string(parse_object(r.out)["key"].as_string());
    key_id = std::string(parse_object(r.out)["id"].as_string());
  }

  // A SigV4 account (or, with `bearer`, a Bedrock API key account) on the fake; waits until it serves.
  std::string add_account(const std::string& name, const std::string& secret = kSecret, const std::string& bearer = "",
                          const std::string& proxy = "", bool wait = true) {
    std::vector<std::string> args{"accounts", "add", "--type", "bedrock", "--name", name, "--region", "us-east-1",
                                  "--base-url", fake.url(), "--json"};
    if (bearer.empty()) args.insert(args.end(), {"--aws-access-key-id", kKeyId, "--aws-secret-access-key", secret});
    else args.insert(args.end(), {"--api-key", bearer});
    if (!proxy.empty()) args.insert(args.end(), {"--proxy", proxy});
    auto r = relay->cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id(parse_object(r.out)["id"].as_string());
    if (wait) {
      EXPECT_TRUE(wait_until([&] { return post(message(false)).status != 503; }));
    }
    return id;
  }

  HttpResponse post(const std::string& body, const std::map<std::string, std::string>& extra = {}) {
    std::map<std::string, std::string> headers{{"x-api-key", key}, {"content-type", "application/json"}};
    headers.insert(extra.begin(), extra.end());
    return http_request(relay->port(), "POST", "/v1/messages", body, headers);
  }

  json::array requests() { return parse_object(fake.requests_json())["requests"].as_array(); }
  json::object last_request() { return requests().back().as_object(); }
  void script(const std::string& credential, const std::string& behavior, int times = 1) {
    ASSERT_TRUE(fake.script(credential, behavior, times));
  }
  json::object account(const std::string& id) { return parse_object(relay->cli({"accounts", "show", id, "--json"}).out); }
  std::string redis(const std::vector<std::string>& args) {
    RedisServer cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
    return cli.cli(args);
  }

  TempDir dir;
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  std::string key, key_id;
};

TEST_F(BedrockTest, TheAnthropicSdkThroughSigV4AndBearerAccounts) {
  std::string clients = source_dir() + "/tests/clients";
  ASSERT_TRUE(std::filesystem::exists(clients + "/node_modules/@anthropic-ai/sdk")) << "npm ci --prefix tests/clients";
  std::string signing = add_account("signing");
  auto run_sdk = [&] {
    auto r = run_command({"node", clients + "/anthropic_sdk.mjs"},
                         {"CRS_BASE_URL=http://127.0.0.1:" + std::to_string(relay->port()) + "/api", "CRS_KEY=" + key,
                          "CRS_SKIP_COUNT_TOKENS=1"},
                         clients, 60s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\"failed\":[]"), std::string::npos) << r.out << r.err;
  };
  run_sdk();
  ASSERT_EQ(relay->cli({"accounts", "disable", signing}).exit_code, 0);
  add_account("bearer", "", "ABSKfakebedrockapikey0000000001");
  run_sdk();
  // Every request reached Bedrock's paths, signed as sent (or with the bearer key), with the
  // cross-region id of the model, and a body Bedrock takes (the fake refuses anything else).
  int signed_ok = 0, bearer = 0;
  for (const auto& v : requests()) {
    const auto& r = v.as_object();
    EXPECT_EQ(r.at("modelId").as_string(), "us.anthropic." + kModel + "-v1:0");
    EXPECT_TRUE(std::string(r.at("path").as_string()).starts_with("/model/us.anthropic." + kModel + "-v1%3A0/invoke"));
    EXPECT_TRUE(r.at("signatureOk").as_bool());
    std::string credential(r.at("credential").as_string());
    signed_ok += credential == kKeyId;
    bearer += credential == "ABSKfakebedrockapikey0000000001";
  }
  EXPECT_GE(signed_ok, 2);
  EXPECT_GE(bearer, 2);
}

TEST_F(BedrockTest, StreamsAndWholeAnswersAreMeteredFromWhatBedrockReported) {
  add_account("a");
  script(kKeyId, R"({"inputTokens":321,"outputTokens":45,"cacheReadInputTokens":1000,"deltas":4})", 2);
  auto streamed = post(message(true));
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_NE(streamed.header("content-type").find("text/event-stream"), std::string::npos);
  EXPECT_TRUE(streamed.body.starts_with("event: message_start\n")) << streamed.body;
  EXPECT_NE(streamed.body.find("event: message_stop\n"), std::string::npos);
  EXPECT_EQ(streamed.body.find("amazon-bedrock-invocationMetrics"), std::string::npos);
  EXPECT_EQ(streamed.body.find("invocationLatency"), std::string::npos);
  EXPECT_FALSE(streamed.header("request-id").empty());
  auto whole = post(message(false));
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(parse_object(whole.body)["usage"].as_object()["input_tokens"].as_int64(), 321);
  // The key was charged exactly what the fake reported (add_account's request included), once
  // the fake has recorded the end of each answer.
  int64_t input = 0, output = 0, cache_read = 0;
  ASSERT_TRUE(wait_until([&] {
    auto all = requests();
    return std::all_of(all.begin(), all.end(), [](const json::value& v) { return v.as_object().contains("usage"); });
  }));
  for (const auto& v : requests()) {
    auto u = v.as_object().at("usage").as_object();
    input += u["input_tokens"].as_int64();
    output += u["output_tokens"].as_int64();
    cache_read += u["cache_read_input_tokens"].as_int64();
  }
  EXPECT_GE(output, 90);
  EXPECT_TRUE(wait_until([&] { return redis({"HGET", "usage:" + key_id, "totalOutputTokens"}) == std::to_string(output); }))
      << redis({"HGETALL", "usage:" + key_id});
  EXPECT_EQ(redis({"HGET", "usage:" + key_id, "totalInputTokens"}), std::to_string(input));
  EXPECT_EQ(redis({"HGET", "usage:" + key_id, "totalCacheReadTokens"}), std::to_string(cache_read));
}

TEST_F(BedrockTest, ABrokenStreamEndsWithOneErrorEventAndIsMeteredAsPartial) {
  std::string id = add_account("a");
  struct Case {
    const char* behavior;
    const char* type;
    const char* words;
    const char* health;  // the class of the account's last error
  } cases[] = {
      {R"({"corruptCrcAtEvent":3})", "api_error", "corrupt", "server"},
      {R"({"truncateAfterEvents":4})", "api_error", "middle of a frame", "server"},
      {R"({"exceptionAfterEvents":3})", "rate_limit_error", "Too many tokens", "rate_limited"},
      {R"({"exceptionAfterEvents":2,"exceptionType":"modelStreamErrorException"})", "api_error", "model stream failed",
       "server"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.behavior);
    script(kKeyId, c.behavior);
    auto r = post(message(true));
    ASSERT_EQ(r.status, 200) << r.body;
    size_t error = r.body.find("event: error\n");
    ASSERT_NE(error, std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("event: error\n", error + 1), std::string::npos) << "two error events: " << r.body;
    EXPECT_NE(r.body.find(std::string(R"("type":")") + c.type + "\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(c.words), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("message_stop"), std::string::npos) << r.body;
    EXPECT_TRUE(r.body.ends_with("\n\n")) << r.body;
    // The account's health counts it against the account.
    EXPECT_TRUE(wait_until([&] {
      auto last = account(id)["health"].as_object()["lastError"];
      return last.is_object() && last.as_object()["class"] == c.health;
    })) << json::serialize(account(id));
    ASSERT_EQ(relay->cli({"accounts", "reset-state", id}).exit_code, 0);
  }
  // Each broken stream was metered as partial.
  EXPECT_TRUE(wait_until([&] {
    std::string records = redis({"LRANGE", "usage:records:" + key_id, "0", "-1"});
    size_t partial = 0;
    for (size_t at = 0; (at = records.find("\"partial\":true", at)) != std::string::npos; ++at) ++partial;
    return partial == 4;
  })) << redis({"LRANGE", "usage:records:" + key_id, "0", "-1"});
}

TEST_F(BedrockTest, ErrorsBeforeTheAnswerFailOverOrReachTheClientInTheAnthropicShape) {
  std::string first = add_account("first");
  // One account: Bedrock's throttling is a 429 rate_limit_error, without Bedrock's words for it.
  script(kKeyId, R"({"status":429})");
  auto throttled = post(message(false));
  EXPECT_EQ(throttled.status, 429) << throttled.body;
  EXPECT_EQ(parse_object(throttled.body)["error"].as_object()["type"].as_string(), "rate_limit_error");
  EXPECT_EQ(throttled.body.find("ThrottlingException"), std::string::npos) << throttled.body;
  ASSERT_EQ(relay->cli({"accounts", "reset-state", first}).exit_code, 0);
  // A request Bedrock finds invalid is the client's: 400, the account untouched.
  script(kKeyId, R"({"status":400,"errorMessage":"messages.0.content: Field required"})");
  auto invalid = post(message(false));
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(invalid.body.find("messages.0.content: Field required"), std::string::npos) << invalid.body;
  EXPECT_EQ(account(first)["status"].as_string(), "active");
  // Two accounts: throttled, unavailable or failing, the request goes to the other one.
  std::string second = add_account("second", kSecret, "ABSKsecondaccount000000000001");
  for (const char* fault : {R"({"status":429})", R"({"status":503})", R"({"status":500})"}) {
    SCOPED_TRACE(fault);
    ASSERT_EQ(http_request(fake.port(), "DELETE", "/_fake/behaviors").status, 200);
    for (const auto& id : {first, second}) ASSERT_EQ(relay->cli({"accounts", "reset-state", id}).exit_code, 0);
    size_t before = requests().size();
    script("*", fault, 1);  // whichever account is tried first fails
    auto r = post(message(true));
    EXPECT_EQ(r.status, 200) << r.body;
    auto all = requests();
    ASSERT_EQ(all.size(), before + 2);
    EXPECT_NE(all[before].as_object()["credential"], all[before + 1].as_object()["credential"]);
  }
}

TEST_F(BedrockTest, ARefusedSignatureMarksTheAccountAndTellsTheClientNothingOfIt) {
  std::string wrong = add_account("wrong-secret", "not-the-secret-0000000000000000000000000", "", "", false);
  HttpResponse r;
  ASSERT_TRUE(wait_until([&] {
    r = post(message(false));
    return r.status != 503;
  }));
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(r.body.find("signature"), std::string::npos) << r.body;
  EXPECT_FALSE(last_request()["signatureOk"].as_bool());
  EXPECT_TRUE(wait_until([&] { return account(wrong)["status"].as_string() == "unauthorized"; }))
      << json::serialize(account(wrong));
  auto after = post(message(false));
  EXPECT_EQ(after.status, 503) << after.body;
  // Nothing of the secret, in any listing or log.
  EXPECT_EQ(relay->cli({"accounts", "list", "--json"}).out.find("not-the-secret"), std::string::npos);
  EXPECT_EQ(relay->log().find("not-the-secret"), std::string::npos);
  EXPECT_EQ(relay->log().find(kSecret), std::string::npos);
}

TEST_F(BedrockTest, WhatBedrockRefusesNeverLeavesTheRelay) {
  add_account("a");
  // Claude Code's extras: metadata, an OAuth beta, cache_control with a scope; all removed.
  std::string body = R"({"model":")" + kModel +
                     R"(","max_tokens":64,"stream":false,"metadata":{"user_id":"u1"},"service_tier":"auto",)"
                     R"("system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral","scope":"global"}}],)"
                     R"("messages":[{"role":"user","content":"hi"}]})";
  auto r = post(body, {{"anthropic-beta", "oauth-2025-04-20,interleaved-thinking-2025-05-14,claude-code-20250219"}});
  EXPECT_EQ(r.status, 200) << r.body;
  auto sent = parse_object(std::string(last_request()["body"].as_string()));
  EXPECT_EQ(json::serialize(sent["anthropic_beta"]), R"(["interleaved-thinking-2025-05-14"])");
  EXPECT_EQ(sent["anthropic_version"].as_string(), "bedrock-2023-05-31");
  // A URL image cannot go to Bedrock: a clear 400, nothing sent.
  size_t before = requests().size();
  std::string url_image = R"({"model":")" + kModel +
                          R"(","max_tokens":8,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]})";
  auto refused = post(url_image);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("by URL"), std::string::npos) << refused.body;
  EXPECT_EQ(requests().size(), before);
}

// A key holder cannot reach a refused model by its Bedrock name, nor pause an account by asking
// for a model the AWS account may not use.
TEST_F(BedrockTest, KeyHoldersCanNeitherDodgeModelRulesNorPauseAccounts) {
  std::string id = add_account("a");
  auto r = relay->cli({"keys", "create", "--name", "no-opus", "--deny-models", "claude-opus*", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string no_opus(parse_object(r.out)["key"].as_string());
  for (const char* model : {"us.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1-20250805[1m]",
                            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"}) {
    std::string body = R"({"model":")" + std::string(model) + R"(","max_tokens":8,"messages":[{"role":"user","content":"hi"}]})";
    auto refused = http_request(relay->port(), "POST", "/v1/messages", body, {{"x-api-key", no_opus}});
    EXPECT_EQ(refused.status, 403) << model << ": " << refused.body;
  }
  ASSERT_TRUE(fake.script(kKeyId, R"({"status":403,"bedrockError":"AccessDeniedException","errorMessage":"You don't have access to the model with the specified model ID."})", 3));
  for (int i = 0; i < 3; ++i) {
    auto denied = post(message(false));
    EXPECT_EQ(denied.status, 403) << denied.body;
    EXPECT_EQ(parse_object(denied.body)["error"].as_object()["type"].as_string(), "permission_error");
  }
  EXPECT_EQ(account(id)["status"].as_string(), "active");
  EXPECT_EQ(post(message(false)).status, 200);
}

TEST_F(BedrockTest, ThroughSocks5AndHttpConnectProxies) {
  TestProxy proxy(dir, "proxy-user", "proxy-pass");
  ASSERT_TRUE(proxy.ready());
  std::string port = proxy.port();
  for (std::string scheme : {"socks5", "http"}) {
    SCOPED_TRACE(scheme);
    std::string id = add_account("via-" + scheme, kSecret, "", scheme + "://proxy-user:proxy-pass@127.0.0.1:" + port);
    for (bool stream : {false, true}) {
      auto r = post(message(stream));
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_TRUE(last_request()["signatureOk"].as_bool());
    }
    EXPECT_TRUE(proxy.tunneled(scheme, fake.port())) << proxy.log();
    ASSERT_EQ(relay->cli({"accounts", "disable", id}).exit_code, 0);
  }
}

}  // namespace
}  // namespace crs::test
