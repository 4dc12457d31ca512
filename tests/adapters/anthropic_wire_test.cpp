// The Anthropic kinds' request rules and the reading of a request's content needs.
#include <gtest/gtest.h>

#include "adapters/anthropic_wire.hpp"
#include "adapters/request_needs.hpp"

namespace crs {
namespace {

// A key holder cannot send the OAuth beta flag with an account's API key (it could get the
// account refused); the OAuth kind sends it once, whatever the client says.
TEST(AnthropicWire, OauthBetaFlagsGoOnlyWithOauthAccounts) {
  http_server::Request client{http::verb::post, "/v1/messages", 11};
  client.insert("anthropic-beta", "oauth-2025-04-20, prompt-caching-2024-07-31");
  client.insert("anthropic-beta", "OAUTH-2099-01-01");
  auto base = upstream::parse_base_url("https://api.anthropic.com");
  ASSERT_TRUE(base.ok());
  auto console = adapters::build_anthropic_request(client, "/v1/messages", "", adapters::AnthropicAuth::ApiKey,
                                                   "sk-ant-api03-x", *base);
  EXPECT_EQ(console["anthropic-beta"], "prompt-caching-2024-07-31");
  auto oauth = adapters::build_anthropic_request(client, "/v1/messages", "", adapters::AnthropicAuth::OauthBearer,
                                                 "sk-ant-oat01-x", *base);
  EXPECT_EQ(oauth["anthropic-beta"], "oauth-2025-04-20,prompt-caching-2024-07-31,OAUTH-2099-01-01");
}

adapters::RequestNeeds needs_of(std::string body) {
  adapters::RequestNeeds n;
  adapters::read_content_needs(body, n);
  return n;
}

TEST(RequestNeeds, ImagesToolsAndCacheControlAreFoundWhereverTheyAre) {
  auto plain = needs_of(R"({"model":"m","messages":[{"role":"user","content":"an image with cache_control and tools"}]})");
  EXPECT_FALSE(plain.images || plain.tools || plain.cache_control);
  auto image = needs_of(R"({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t",
      "content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}]})");
  EXPECT_TRUE(image.images);
  EXPECT_FALSE(image.cache_control);
  auto cached = needs_of(R"({"model":"m","system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[]})");
  EXPECT_TRUE(cached.cache_control);
  EXPECT_FALSE(cached.images);
  EXPECT_TRUE(needs_of(R"({"model":"m","tools":[{"name":"t","input_schema":{}}],"messages":[]})").tools);
  EXPECT_FALSE(needs_of(R"({"model":"m","tools":[],"messages":[]})").tools);
}

// What cannot be read is taken to need everything, so it never reaches a kind lacking one.
TEST(RequestNeeds, UnreadableBodiesNeedEverything) {
  std::string deep = R"({"model":"m","messages":[)";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "]}";
  auto d = needs_of(deep);
  EXPECT_TRUE(d.images && d.tools && d.cache_control);
  std::string big = R"({"model":"m","messages":[{"role":"user","content":")" + std::string(5 << 20, 'x') + R"("}]})";
  auto b = needs_of(big);
  EXPECT_TRUE(b.images && b.tools && b.cache_control);
  auto broken = needs_of(R"({"model":"m","messages":[)");
  EXPECT_TRUE(broken.images && broken.tools && broken.cache_control);
}

}  // namespace
}  // namespace crs

namespace crs {
namespace {

// Found by fuzzing (tests/fuzz/urls_fuzz.cpp): Boost.URL reads "http://h:80x/p" as port 80 and
// path "x/p", which would have become an upstream target without its leading "/".
TEST(AccountUrls, TextAfterThePortIsRefused) {
  EXPECT_FALSE(upstream::parse_base_url("http://127.0.0.1:808tp://127.0.0.1:80080"));
  EXPECT_FALSE(upstream::parse_base_url("http://h:80x/p"));
  EXPECT_TRUE(upstream::parse_base_url("http://h:80/p"));
  EXPECT_FALSE(upstream::parse_proxy_url("socks5://u:pw@127.0.0.1:1080x/y"));
  EXPECT_TRUE(upstream::parse_proxy_url("socks5://u:pw@127.0.0.1:1080"));
  EXPECT_TRUE(upstream::parse_proxy_url("http://127.0.0.1:3128/"));
}

}  // namespace
}  // namespace crs
