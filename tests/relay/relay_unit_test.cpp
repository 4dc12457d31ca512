#include <gtest/gtest.h>

#include "relay/request_fields.hpp"
#include "relay/upstream_errors.hpp"
#include "relay/upstream_request.hpp"
#include "scheduler/scheduler.hpp"
#include "upstream/endpoint.hpp"

namespace crs {
namespace {

TEST(RequestFields, FindsModelStreamAndMessages) {
  std::string body = R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}],"stream":true,"model":"claude-x"})";
  auto f = relay::read_request_fields(body, true);
  EXPECT_EQ(f.error, "");
  EXPECT_EQ(f.model, "claude-x");
  EXPECT_TRUE(f.stream);
}

TEST(RequestFields, Errors) {
  auto check = [](std::string body, const std::string& expected) {
    auto f = relay::read_request_fields(body, true);
    EXPECT_NE(f.error.find(expected), std::string::npos) << body << " -> " << f.error;
  };
  check("", "empty");
  check("[]", "not a JSON object");
  check("{\"model\":", "JSON");
  check(R"({"model":5,"messages":[]})", "model: must be a string");
  check(R"({"model":"m","messages":{}})", "messages: must be an array");
  check(R"({"model":"m"})", "messages: Field required");
  check(R"({"messages":[]})", "model: Field required");
  check(R"({"model":"m","messages":[],"stream":"yes"})", "stream: must be a boolean");
  std::string count = R"({"model":"m"})";
  EXPECT_EQ(relay::read_request_fields(count, false).error, "");
}

TEST(UpstreamRequest, HeadersForConsoleAndOauthAccounts) {
  http_server::Request client{http::verb::post, "/api/v1/messages?beta=true", 11};
  client.set("x-api-key", "cr_clientkey");
  client.set(http::field::authorization, "Bearer cr_clientkey");
  client.insert("anthropic-beta", "a, b");
  client.insert("anthropic-beta", "b,c");
  client.set("x-stainless-os", "Linux");
  client.set(http::field::cookie, "x=y");
  client.set("x-forwarded-for", "1.2.3.4");
  client.set(http::field::accept_encoding, "gzip, br, zstd");
  client.set(http::field::connection, "keep-alive");

  accounts::Account console;
  console.type = std::string(accounts::kClaudeConsole);
  console.credentials.api_key = "sk-ant-api03-account";
  auto base = upstream::parse_base_url("https://api.example.com:8443/prefix/");
  ASSERT_TRUE(base.ok());
  auto req = relay::build_upstream_request(client, "/v1/messages", "beta=true", console, *base);
  EXPECT_EQ(req.target(), "/prefix/v1/messages?beta=true");
  EXPECT_EQ(req["x-api-key"], "sk-ant-api03-account");
  EXPECT_EQ(req[http::field::authorization], "");
  EXPECT_EQ(req[http::field::cookie], "");
  EXPECT_EQ(req["x-forwarded-for"], "");
  EXPECT_EQ(req[http::field::host], "api.example.com:8443");
  EXPECT_EQ(req["anthropic-beta"], "a,b,c");
  EXPECT_EQ(req["anthropic-version"], "2023-06-01");
  EXPECT_EQ(req[http::field::accept_encoding], "identity");
  EXPECT_EQ(req["x-stainless-os"], "Linux");

  accounts::Account oauth;
  oauth.type = std::string(accounts::kClaudeOauth);
  oauth.credentials.access_token = "sk-ant-oat01-token";
  auto anthropic = upstream::parse_base_url("https://api.anthropic.com");
  auto o = relay::build_upstream_request(client, "/v1/messages", "", oauth, *anthropic);
  EXPECT_EQ(o[http::field::authorization], "Bearer sk-ant-oat01-token");
  EXPECT_EQ(o["x-api-key"], "");
  EXPECT_EQ(o["anthropic-beta"], "oauth-2025-04-20,a,b,c");
  EXPECT_EQ(o[http::field::host], "api.anthropic.com");
  EXPECT_EQ(o.target(), "/v1/messages");
}

// A relay key given as ?key=cr_... (or any other parameter) never reaches the upstream.
TEST(UpstreamRequest, OnlyTheBetaQueryParameterIsForwarded) {
  http_server::Request client{http::verb::post, "/v1/messages", 11};
  accounts::Account console;
  console.type = std::string(accounts::kClaudeConsole);
  console.credentials.api_key = "sk-ant-api03-account";
  auto base = upstream::parse_base_url("http://upstream.example");
  ASSERT_TRUE(base.ok());
  auto target = [&](std::string_view query) {
    return std::string(relay::build_upstream_request(client, "/v1/messages", query, console, *base).target());
  };
  EXPECT_EQ(target("key=cr_secret"), "/v1/messages");
  EXPECT_EQ(target("key=cr_secret&beta=true"), "/v1/messages?beta=true");
  EXPECT_EQ(target("beta=true&key=cr_secret&x=1"), "/v1/messages?beta=true");
  EXPECT_EQ(target("betakey=cr_secret&beta"), "/v1/messages?beta");
  EXPECT_EQ(target("&&key=cr_secret&"), "/v1/messages");
}

TEST(UpstreamErrors, ClassifiedFromStructuredFieldsOnly) {
  using relay::UpstreamVerdict;
  auto verdict = [](unsigned status, std::string_view body, bool oauth = false, bool refreshed = false) {
    return relay::classify_upstream_error(status, relay::parse_error_body(body), oauth, refreshed);
  };
  auto body = [](std::string type, std::string message) {
    return R"({"type":"error","error":{"type":")" + type + R"(","message":")" + message + R"("}})";
  };
  EXPECT_EQ(verdict(400, body("invalid_request_error", "This organization has been disabled.")),
            UpstreamVerdict::Unauthorized);
  EXPECT_EQ(verdict(400, body("invalid_request_error", "This organization has been disabled")),
            UpstreamVerdict::Unauthorized);
  // Quoted in a validation error, in free text, or outside the error shape: the client's fault.
  EXPECT_EQ(verdict(400, body("invalid_request_error", "Input tag 'This organization has been disabled' found")),
            UpstreamVerdict::ClientFault);
  EXPECT_EQ(verdict(400, "This organization has been disabled."), UpstreamVerdict::ClientFault);
  EXPECT_EQ(verdict(400, R"({"error":{"type":"x","message":"ok"},"m":"This organization has been disabled."})"),
            UpstreamVerdict::ClientFault);
  EXPECT_EQ(verdict(403, body("permission_error",
                              "OAuth authentication is currently not allowed for this organization.")),
            UpstreamVerdict::Unauthorized);
  EXPECT_EQ(verdict(403, body("permission_error", "x OAuth authentication is currently not allowed for this organization")),
            UpstreamVerdict::Failing);
  EXPECT_EQ(verdict(429, body("rate_limit_error", "Extra usage is required for long context requests")),
            UpstreamVerdict::ClientFault);
  EXPECT_EQ(verdict(429, body("rate_limit_error", "Number of request tokens has exceeded your limit")),
            UpstreamVerdict::RateLimited);
  EXPECT_EQ(verdict(401, "", true, false), UpstreamVerdict::RefreshOauth);
  EXPECT_EQ(verdict(401, "", true, true), UpstreamVerdict::Unauthorized);
  EXPECT_EQ(verdict(401, ""), UpstreamVerdict::Unauthorized);
  EXPECT_EQ(verdict(402, body("billing_error", "Your credit balance is too low")), UpstreamVerdict::Failing);
  EXPECT_EQ(verdict(404, body("not_found_error", "model: x")), UpstreamVerdict::ClientFault);
  EXPECT_EQ(verdict(413, "<html>too large</html>"), UpstreamVerdict::ClientFault);
  EXPECT_EQ(verdict(529, body("overloaded_error", "Overloaded")), UpstreamVerdict::Overloaded);
  EXPECT_EQ(verdict(502, "<html>bad gateway</html>"), UpstreamVerdict::Failing);
}

TEST(UpstreamRequest, RateLimitUntil) {
  http::response_header<> h;
  EXPECT_EQ(relay::rate_limit_until_ms(h, 1000, 60000), 61000);
  h.set(http::field::retry_after, "17");
  EXPECT_EQ(relay::rate_limit_until_ms(h, 1000, 60000), 18000);
  http::response_header<> unified;
  unified.set("anthropic-ratelimit-unified-reset", "2000000000");
  EXPECT_EQ(relay::rate_limit_until_ms(unified, 1000, 60000), 2000000000000);
  http::response_header<> standard;
  standard.set("anthropic-ratelimit-requests-reset", "2030-01-01T00:00:00Z");
  EXPECT_EQ(relay::rate_limit_until_ms(standard, 1000, 60000), 1893456000000);
}

TEST(Endpoint, BaseAndProxyUrls) {
  auto b = upstream::parse_base_url("http://127.0.0.1:9000");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->port, 9000);
  EXPECT_EQ(b->path_prefix, "");
  EXPECT_FALSE(upstream::parse_base_url("ftp://x").ok());
  EXPECT_FALSE(upstream::parse_base_url("https://u:p@x").ok());
  auto p = upstream::parse_proxy_url("socks5://user:pa%40ss@proxy:1080");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, upstream::Proxy::Kind::Socks5);
  EXPECT_EQ(p->password, "pa@ss");
  EXPECT_EQ(upstream::parse_proxy_url("http://proxy:3128")->kind, upstream::Proxy::Kind::Http);
  EXPECT_FALSE(upstream::parse_proxy_url("http://proxy").ok());
  EXPECT_FALSE(upstream::parse_proxy_url("https://proxy:1").ok());
  EXPECT_EQ(upstream::redact_proxy_url("http://u:secret@p:1"), "http://u:***@p:1");
}

TEST(Scheduler, PriorityThenLeastRecentlyUsedSkippingUnusable) {
  scheduler::PriorityLruScheduler s;
  accounts::AccountList all(4);
  all[0].id = "low-priority";
  all[0].priority = 90;
  all[1].id = "a";
  all[1].priority = 10;
  all[2].id = "b";
  all[2].priority = 10;
  all[3].id = "limited";
  all[3].priority = 1;
  all[3].status = std::string(accounts::kStatusRateLimited);
  all[3].unavailable_until_ms = 5000;
  EXPECT_EQ(s.pick(all, {}, 1000)->id, "a");
  EXPECT_EQ(s.pick(all, {}, 1000)->id, "b");  // least recently used among equals
  EXPECT_EQ(s.pick(all, {}, 1000)->id, "a");
  EXPECT_EQ(s.pick(all, {"a", "b"}, 1000)->id, "low-priority");
  EXPECT_EQ(s.pick(all, {}, 6000)->id, "limited");  // its cool-down is over
  all[1].enabled = all[2].enabled = all[0].enabled = false;
  all[3].status = std::string(accounts::kStatusUnauthorized);
  EXPECT_FALSE(s.pick(all, {}, 6000).has_value());
}

}  // namespace
}  // namespace crs

namespace crs {
namespace {

TEST(AnswerUsage, ReadsTheTopLevelUsageOnly) {
  std::string body = R"({"id":"m","model":"claude-served-1","content":[{"type":"text","text":"\"usage\": {not this}"}],)"
                     R"("usage":{"input_tokens":12,"output_tokens":87,"cache_read_input_tokens":5,)"
                     R"("cache_creation_input_tokens":9,"cache_creation":{"ephemeral_5m_input_tokens":2,)"
                     R"("ephemeral_1h_input_tokens":7},"service_tier":"standard"},"x":1})";
  usage::Usage u;
  std::string model;
  ASSERT_TRUE(relay::read_answer_usage(body, u, model));
  EXPECT_EQ(model, "claude-served-1");
  EXPECT_EQ(u.input_tokens, 12);
  EXPECT_EQ(u.output_tokens, 87);
  EXPECT_EQ(u.cache_read_input_tokens, 5);
  EXPECT_EQ(u.cache_creation_input_tokens, 9);
  EXPECT_EQ(u.cache_creation_5m, 2);
  EXPECT_EQ(u.cache_creation_1h, 7);
  // Without a TTL breakdown every cache write is a 5-minute write, as in apply_usage_object.
  std::string plain = R"({"usage":{"input_tokens":1,"cache_creation_input_tokens":40}})";
  usage::Usage p;
  ASSERT_TRUE(relay::read_answer_usage(plain, p, model));
  EXPECT_EQ(p.cache_creation_5m, 40);
  EXPECT_EQ(p.cache_creation_1h, 0);
  std::string none = R"({"id":"m"})";
  usage::Usage n;
  EXPECT_FALSE(relay::read_answer_usage(none, n, model));
  std::string broken = "{\"usage\":";
  EXPECT_FALSE(relay::read_answer_usage(broken, n, model));
  EXPECT_TRUE(n.empty());
  // Numbers of any shape are rounded and clamped, never thrown on; server tools are read.
  std::string odd = R"({"usage":{"input_tokens":12.6,"output_tokens":1e300,"cache_read_input_tokens":-5,)"
                    R"("cache_creation_input_tokens":18446744073709551615,"server_tool_use":{"web_search_requests":3}}})";
  usage::Usage o;
  ASSERT_TRUE(relay::read_answer_usage(odd, o, model));
  EXPECT_EQ(o.input_tokens, 13);
  EXPECT_EQ(o.output_tokens, usage::kMaxTokenCount);
  EXPECT_EQ(o.cache_read_input_tokens, 0);
  EXPECT_EQ(o.cache_creation_input_tokens, usage::kMaxTokenCount);
  EXPECT_EQ(o.web_search_requests, 3);
}

TEST(RequestFields, MaxTokens) {
  std::string body = R"({"model":"m","max_tokens":4096,"messages":[]})";
  EXPECT_EQ(relay::read_request_fields(body, true).max_tokens, 4096);
  std::string none = R"({"model":"m","messages":[]})";
  EXPECT_EQ(relay::read_request_fields(none, true).max_tokens, 0);
  std::string odd = R"({"model":"m","max_tokens":"many","messages":[]})";
  EXPECT_EQ(relay::read_request_fields(odd, true).max_tokens, 0);
}

}  // namespace
}  // namespace crs
