#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "keys/key_cache.hpp"
#include "keys/key_fields.hpp"

namespace crs::keys {
namespace {
namespace json = boost::json;

json::object changes(std::string_view text) { return json::parse(text).as_object(); }

TEST(Usd, ParsesAndFormatsExactly) {
  int64_t m = -1;
  EXPECT_TRUE(parse_usd("12.5", m));
  EXPECT_EQ(m, 12'500'000);
  EXPECT_TRUE(parse_usd("$0.000001", m));
  EXPECT_EQ(m, 1);
  EXPECT_TRUE(parse_usd("7", m));
  EXPECT_EQ(m, 7'000'000);
  EXPECT_TRUE(parse_usd(".25", m));
  EXPECT_EQ(m, 250'000);
  for (const char* bad : {"", "-1", "-0.5", "+1", "1.0000001", "abc", "1.2.3", "1e3", "."}) EXPECT_FALSE(parse_usd(bad, m)) << bad;
  EXPECT_EQ(format_usd(12'500'000), "12.5");
  EXPECT_EQ(format_usd(1), "0.000001");
  EXPECT_EQ(format_usd(0), "0");
  EXPECT_EQ(format_usd(3'000'000), "3");
}

TEST(ModelRules, AllowListPrefixesAndDenyList) {
  ApiKey k;
  EXPECT_TRUE(model_allowed(k, "claude-opus-4-1"));
  k.allowed_models = {"claude-sonnet-*", "claude-haiku-4-5"};
  EXPECT_TRUE(model_allowed(k, "claude-sonnet-4-5-20250929"));
  EXPECT_TRUE(model_allowed(k, "claude-haiku-4-5"));
  EXPECT_FALSE(model_allowed(k, "claude-haiku-4-5-20251001"));  // exact name only
  EXPECT_FALSE(model_allowed(k, "claude-opus-4-1"));
  k.denied_models = {"claude-sonnet-4-5-20250929"};
  EXPECT_FALSE(model_allowed(k, "claude-sonnet-4-5-20250929"));
  EXPECT_TRUE(model_allowed(k, "claude-sonnet-4-20250514"));
}

// A provider's name for a refused model is refused too (Bedrock would run it).
TEST(ModelRules, ProviderIdsAreJudgedAsTheModelTheyName) {
  ApiKey k;
  k.denied_models = {"claude-opus*"};
  EXPECT_FALSE(model_allowed(k, "us.anthropic.claude-opus-4-1-20250805-v1:0"));
  EXPECT_FALSE(model_allowed(k, "claude-opus-4-1-20250805[1m]"));
  EXPECT_TRUE(model_allowed(k, "global.anthropic.claude-sonnet-4-5-20250929-v1:0"));
  EXPECT_FALSE(model_allowed(k, "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x"));
  k.denied_models = {"claude-sonnet-4-5-20250929"};
  EXPECT_FALSE(model_allowed(k, "claude-sonnet-4-5-20250929[1m]"));
  k = ApiKey{};
  EXPECT_TRUE(model_allowed(k, "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x"));
}

TEST(KeyChanges, AppliesEveryFieldAndRoundTripsThroughTheHash) {
  ApiKey k;
  auto s = apply_changes(k, changes(R"({"name":"team","description":"d","tags":"b,a,b","concurrencyLimit":5,
      "rateLimitWindow":"60","rateLimitRequests":10,"rateLimitCost":"2.5","totalTokenLimit":1000000,
      "dailyCostLimit":10,"weeklyCostLimit":"50.25","totalCostLimit":0.1,"weeklyResetDay":3,"weeklyResetHour":9,
      "permissions":["claude"],"allowedModels":"claude-sonnet-*","restrictedModels":["claude-opus-4-1"],
      "allowedClients":"claude_code","expiresAt":"2027-01-31T00:00:00Z","claudeAccountId":"group:g1"})"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(k.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(k.limits.concurrency, 5);
  EXPECT_EQ(k.limits.rate_window_minutes, 60);
  EXPECT_EQ(k.limits.rate_cost_micro, 2'500'000);
  EXPECT_EQ(k.limits.weekly_cost_micro, 50'250'000);
  EXPECT_EQ(k.limits.total_cost_micro, 100'000);
  EXPECT_EQ(k.limits.weekly_reset_day, 3);
  EXPECT_EQ(k.allowed_clients, (std::vector<std::string>{"claude_code"}));
  ApiKey back = from_hash(to_hash(k));
  EXPECT_EQ(to_json(back), to_json(k));
}

TEST(KeyChanges, RefusesBadInputAndLeavesTheKeyAlone) {
  ApiKey k;
  k.name = "before";
  struct Case {
    std::string body;
    const char* error_starts;
  } cases[] = {
      {R"({"name":""})", "name:"},
      {R"({"nmae":"typo"})", "nmae: unknown field"},
      {R"({"name":"x","concurrencyLimit":-1})", "concurrencyLimit:"},
      {R"({"name":"x","concurrencyLimit":"five"})", "concurrencyLimit:"},
      {R"({"name":"x","dailyCostLimit":"-3"})", "dailyCostLimit:"},
      {R"({"name":"x","dailyCostLimit":"1.0000001"})", "dailyCostLimit:"},
      {R"({"name":"x","rateLimitRequests":10})", "rateLimitWindow:"},
      {R"({"name":"x","rateLimitWindow":10})", "rateLimitWindow:"},
      {R"({"name":"x","permissions":["claude","bogus"]})", "permissions:"},
      {R"({"name":"x","allowedClients":["curl"]})", "allowedClients:"},
      {R"({"name":"x","expiresAt":"tomorrow"})", "expiresAt:"},
      {R"({"name":"x","expiresAt":"2027-02-29T00:00:00Z"})", "expiresAt:"},
      {R"({"name":"x","dailyCostLimit":0.0000001})", "dailyCostLimit:"},
      {R"({"name":"x","tags":"ok,)" + std::string(201, 'x') + R"("})", "tags:"},
      {R"({"name":"x","expirationMode":"activation"})", "activationDays:"},
      {R"({"name":"x","weeklyResetDay":0})", "weeklyResetDay:"},
      {R"({"name":"x","weeklyResetHour":24})", "weeklyResetHour:"},
  };
  for (const auto& c : cases) {
    auto s = apply_changes(k, changes(c.body));
    ASSERT_FALSE(s) << c.body;
    EXPECT_TRUE(s.error().message.starts_with(c.error_starts)) << c.body << " -> " << s.error().message;
    EXPECT_EQ(k.name, "before");
  }
  EXPECT_TRUE(apply_changes(k, changes(R"({"expiresAt":"2028-02-29T00:00:00Z","dailyCostLimit":0.1})")));
  // Ignored members of the Node.js service's clients do no harm.
  EXPECT_TRUE(apply_changes(k, changes(R"({"icon":"x","activationUnit":"days"})")));
}

TEST(KeyHash, ReadsTheNodeServicesLegacyForms) {
  store::HashRecord r{{"id", "k"}, {"name", "n"}, {"permissions", "all"}, {"enableModelRestriction", "false"},
                      {"restrictedModels", "[\"claude-opus-4-1\"]"}, {"enableClientRestriction", "true"},
                      {"allowedClients", "[\"claude_code\"]"}, {"tokenLimit", "5000"}, {"weeklyOpusCostLimit", "9"},
                      {"rateLimitCost", "1.25"}, {"isActive", "false"}};
  auto k = from_hash(r);
  EXPECT_TRUE(k.permissions.empty());      // "all"
  EXPECT_TRUE(k.denied_models.empty());    // restriction switched off
  EXPECT_EQ(k.allowed_clients, (std::vector<std::string>{"claude_code"}));
  EXPECT_EQ(k.limits.total_tokens, 0);     // CRS tokenLimit is per window: not read as a total
  EXPECT_EQ(k.limits.weekly_cost_micro, 0);
  EXPECT_EQ(k.limits.rate_cost_micro, 1'250'000);
  EXPECT_FALSE(k.enabled);
}

TEST(ClientRules, FamiliesFromUserAgents) {
  EXPECT_EQ(client_family("claude-cli/2.0.14 (external, cli)"), "claude_code");
  EXPECT_EQ(client_family("Claude-CLI/1.0"), "claude_code");
  EXPECT_EQ(client_family("GeminiCLI/v0.1.5 (linux; x64)"), "gemini_cli");
  EXPECT_EQ(client_family("codex_cli_rs/0.38.0"), "codex_cli");
  EXPECT_EQ(client_family("factory-cli/0.19.3"), "droid_cli");
  EXPECT_EQ(client_family("Anthropic/JS 1.14.0"), "");
  EXPECT_EQ(client_family("curl/7.88.1 claude-cli/1.0"), "");
}

}  // namespace
}  // namespace crs::keys

namespace crs::keys {
namespace {

// A lookup that read Redis before an invalidation must not be stored after it: it would bring
// a revoked or renewed key back for the cache's whole TTL.
TEST(KeyCache, ALookupFromBeforeAnInvalidationIsNotStored) {
  KeyCache cache;
  ApiKey record;
  record.id = "k1";
  auto key = std::make_shared<const ApiKey>(record);
  uint64_t before = cache.generation();
  cache.invalidate("k1");  // the key was revoked while its lookup was in flight
  cache.put("digest", key, before);
  EXPECT_FALSE(cache.lookup("digest").has_value());
  cache.put("digest", key, cache.generation());
  ASSERT_TRUE(cache.lookup("digest").has_value());
  EXPECT_EQ(cache.lookup("digest")->get(), key.get()) << "the record itself, not a copy";
  uint64_t again = cache.generation();
  cache.clear();  // the invalidation channel reconnected
  cache.put("other", nullptr, again);
  EXPECT_FALSE(cache.lookup("other").has_value());
}

}  // namespace
}  // namespace crs::keys
