// Real, unmodified clients from npm (tests/clients) against the relay and the fake upstream.
#include <filesystem>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

std::string create_key(RelayProcess& relay, std::vector<std::string> flags) {
  std::vector<std::string> args{"keys", "create", "--json"};
  args.insert(args.end(), flags.begin(), flags.end());
  auto created = relay.cli(args);
  EXPECT_EQ(created.exit_code, 0) << created.err;
  if (created.exit_code != 0) return "";
  return std::string(boost::json::parse(created.out).as_object()["key"].as_string());
}

// The relay with a key and a Claude Console account on the fake upstream, serving.
class RealClients : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(clients + "/node_modules/@anthropic-ai/sdk") ||
        !std::filesystem::exists(clients + "/node_modules/openai"))
      GTEST_FAIL() << "run `make test` (it installs tests/clients with npm ci) or `npm ci --prefix tests/clients`";
    ASSERT_TRUE(fake.start());
    ASSERT_TRUE(relay.start()) << relay.log();
    key = create_key(relay, {"--name", "sdk"});
    ASSERT_FALSE(key.empty());
    ASSERT_EQ(relay.cli({"accounts", "add", "--type", "claude-console", "--name", "fake", "--base-url", fake.url(),
                         "--api-key", "sk-ant-api03-sdk-test-account"})
                  .exit_code,
              0);
    ASSERT_TRUE(wait_until([&] {
      return http_request(relay.port(), "POST", "/api/v1/messages/count_tokens", R"({"model":"m","messages":[]})",
                          {{"x-api-key", key}})
                 .status == 200;
    }));
  }

  std::string clients = source_dir() + "/tests/clients";
  TempDir dir;
  FakeUpstreamProcess fake{dir};
  RelayProcess relay{dir, {}};
  std::string key;
};

TEST_F(RealClients, AnthropicTypeScriptSdk) {
  auto r = run_command({"node", clients + "/anthropic_sdk.mjs"},
                       {"CRS_BASE_URL=http://127.0.0.1:" + std::to_string(relay.port()) + "/api", "CRS_KEY=" + key},
                       clients, 60s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"failed\":[]"), std::string::npos) << r.out << r.err;
  // The SDK sent its own headers, which reached the upstream.
  std::string seen = fake.requests_json();
  EXPECT_NE(seen.find("Anthropic/JS"), std::string::npos);
  EXPECT_NE(seen.find("x-stainless-lang"), std::string::npos);
}

// The official openai SDK through every Chat Completions prefix, to a Claude Console account:
// plain and streamed chat, tools and their results, an image, models, and the errors it must
// raise as its own classes (tests/clients/openai_sdk.mjs).
TEST_F(RealClients, OpenAiTypeScriptSdk) {
  std::string claude_only = create_key(relay, {"--name", "claude-only", "--permissions", "claude"});
  std::string sonnet_only = create_key(relay, {"--name", "sonnet-only", "--models", "claude-sonnet*"});
  ASSERT_FALSE(claude_only.empty() || sonnet_only.empty());
  // The tool call's answer first: its request repeats the question that asks for the tool.
  for (const char* script : {R"({"credential":"*","bodyContains":"tool result here","behavior":{}})",
                             R"({"credential":"*","bodyContains":"weather please",)"
                             R"("behavior":{"toolUse":{"name":"get_weather","input":{"city":"Paris"}}}})"})
    ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/behaviors", script).status, 200);
  for (std::string base : {"/openai/claude/v1", "/api/v1", "/openai/v1", "/v1"}) {
    SCOPED_TRACE(base);
    auto r = run_command({"node", clients + "/openai_sdk.mjs"},
                         {"CRS_BASE_URL=http://127.0.0.1:" + std::to_string(relay.port()) + base, "CRS_KEY=" + key,
                          "CRS_CLAUDE_ONLY_KEY=" + claude_only, "CRS_SONNET_ONLY_KEY=" + sonnet_only},
                         clients, 60s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\"failed\":[]"), std::string::npos) << r.out << r.err;
  }
  // What reached the upstream was a Messages request: the system prompt lifted out, the tool's
  // call and result as blocks, the image as base64.
  std::string seen = fake.requests_json();
  for (const char* part : {R"(\"system\":\"Be brief.\")", R"(\"type\":\"tool_use\")", R"(\"type\":\"tool_result\")",
                           R"(\"tool_use_id\":\"toolu_01FakeUpstreamCall\")", R"(\"media_type\":\"image/png\")",
                           R"(\"input_schema\")"})
    EXPECT_NE(seen.find(part), std::string::npos) << part;
}

}  // namespace
}  // namespace crs::test
