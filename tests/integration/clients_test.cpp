// Real, unmodified clients from npm (tests/clients) against the relay and the fake upstream.
#include <filesystem>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

TEST(RealClients, AnthropicTypeScriptSdk) {
  std::string clients = source_dir() + "/tests/clients";
  if (!std::filesystem::exists(clients + "/node_modules/@anthropic-ai/sdk"))
    GTEST_FAIL() << "run `make test` (it installs tests/clients with npm ci) or `npm ci --prefix tests/clients`";
  TempDir dir;
  FakeUpstreamProcess fake(dir);
  ASSERT_TRUE(fake.start());
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto created = relay.cli({"keys", "create", "--name", "sdk", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string key(boost::json::parse(created.out).as_object()["key"].as_string());
  ASSERT_EQ(relay.cli({"accounts", "add", "--type", "claude-console", "--name", "fake", "--base-url", fake.url(),
                       "--api-key", "sk-ant-api03-sdk-test-account"})
                .exit_code,
            0);
  ASSERT_TRUE(wait_until([&] {
    return http_request(relay.port(), "POST", "/api/v1/messages/count_tokens", R"({"model":"m","messages":[]})",
                        {{"x-api-key", key}})
               .status == 200;
  }));
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

}  // namespace
}  // namespace crs::test
