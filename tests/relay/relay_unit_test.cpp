#include <gtest/gtest.h>

#include "accounts/account_registry.hpp"
#include "relay/request_fields.hpp"
#include "relay/whole_events.hpp"
#include "adapters/anthropic_wire.hpp"
#include "scheduler/scheduler.hpp"
#include "upstream/endpoint.hpp"

namespace crs {
namespace {

// The upstream request head the account's kind builds for a Messages call.
http::request<http::empty_body> upstream_request(const http_server::Request& client, std::string_view query,
                                                 const accounts::Account& account, const upstream::BaseUrl& base) {
  static const std::string body = "{}";
  adapters::ClientCall call{client, query, adapters::Operation::Messages, "", false, body};
  return adapters::find_adapter(account.type)->build_request(call, account, base).head;
}

TEST(RequestFields, FindsModelStreamAndMessages) {
  std::string body = R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}],"stream":true,"model":"claude-x"})";
  auto f = relay::read_request_fields(body, true);
  EXPECT_EQ(f.error, "");
  EXPECT_EQ(f.model, "claude-x");
  EXPECT_TRUE(f.stream);
}

// A client is never sent half an event: what goes out ends where an event does, however the
// upstream's bytes are cut, unless one event outgrows the limit.
TEST(WholeEvents, WhatGoesOutEndsWhereAnEventDoes) {
  const std::string stream = "event: a\ndata: {\"x\":1}\n\nevent: b\r\ndata: 2\r\n\r\n: ping\r\rdata: 3\n\n";
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    relay::WholeEvents whole(1024);
    std::string sent;
    for (size_t at = 0; at < stream.size(); at += piece) {
      sent += whole.take(std::string_view(stream).substr(at, piece));
      EXPECT_FALSE(whole.partial_sent());
      EXPECT_TRUE(sent.empty() || relay::last_event_end(sent) == sent.size()) << piece << ": " << sent;
    }
    sent += whole.rest();
    EXPECT_EQ(sent, stream) << piece;
  }
  // Cut inside the second event: only the first went out, the rest is held (and dropped).
  relay::WholeEvents cut(1024);
  EXPECT_EQ(cut.take("event: a\ndata: 1\n\nevent: b\ndata: {\"te"), "event: a\ndata: 1\n\n");
  EXPECT_EQ(cut.rest(), "event: b\ndata: {\"te");
}

TEST(WholeEvents, AnEventLongerThanTheLimitGoesOutAsItComes) {
  relay::WholeEvents whole(12);
  EXPECT_EQ(whole.take("data: 1\n\ndata: 0123"), "data: 1\n\n");
  EXPECT_EQ(whole.take("456789"), "data: 0123456789");  // past the limit: out, unfinished
  EXPECT_TRUE(whole.partial_sent());
  EXPECT_EQ(whole.take("abc"), "abc");  // the same event keeps going out
  EXPECT_EQ(whole.take("\n\ndata: x"), "\n\n");
  EXPECT_FALSE(whole.partial_sent());
  EXPECT_EQ(whole.rest(), "data: x");
  // A long event whose blank line is split between chunks ends there: the next unfinished
  // event is held again.
  relay::WholeEvents split(12);
  EXPECT_EQ(split.take("data: 0123456789abcdef\n"), "data: 0123456789abcdef\n");
  EXPECT_TRUE(split.partial_sent());
  EXPECT_EQ(split.take("\ndata: y"), "\n");
  EXPECT_FALSE(split.partial_sent());
  EXPECT_EQ(split.rest(), "data: y");
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
  auto req = upstream_request(client, "beta=true", console, *base);
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
  auto o = upstream_request(client, "", oauth, *anthropic);
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
    return std::string(upstream_request(client, query, console, *base).target());
  };
  EXPECT_EQ(target("key=cr_secret"), "/v1/messages");
  EXPECT_EQ(target("key=cr_secret&beta=true"), "/v1/messages?beta=true");
  EXPECT_EQ(target("beta=true&key=cr_secret&x=1"), "/v1/messages?beta=true");
  EXPECT_EQ(target("betakey=cr_secret&beta"), "/v1/messages?beta");
  EXPECT_EQ(target("&&key=cr_secret&"), "/v1/messages");
}

TEST(Endpoint, BaseAndProxyUrls) {
  auto b = upstream::parse_base_url("http://127.0.0.1:9000");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->port, 9000);
  EXPECT_EQ(b->path_prefix, "");
  EXPECT_EQ(b->authority, "127.0.0.1:9000");
  // The Host header: no default port, a v6 address in brackets.
  EXPECT_EQ(upstream::parse_base_url("https://api.anthropic.com/")->authority, "api.anthropic.com");
  EXPECT_EQ(upstream::parse_base_url("http://h:80/p")->authority, "h");
  EXPECT_EQ(upstream::parse_base_url("https://h:80")->authority, "h:80");
  EXPECT_EQ(upstream::parse_base_url("http://[::1]:8080")->authority, "[::1]:8080");
  EXPECT_EQ(upstream::parse_base_url("https://[fe80::1]")->authority, "[fe80::1]");
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
  ASSERT_TRUE(adapters::read_answer_usage(body, u, model));
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
  ASSERT_TRUE(adapters::read_answer_usage(plain, p, model));
  EXPECT_EQ(p.cache_creation_5m, 40);
  EXPECT_EQ(p.cache_creation_1h, 0);
  std::string none = R"({"id":"m"})";
  usage::Usage n;
  EXPECT_FALSE(adapters::read_answer_usage(none, n, model));
  std::string broken = "{\"usage\":";
  EXPECT_FALSE(adapters::read_answer_usage(broken, n, model));
  EXPECT_TRUE(n.empty());
  // Numbers of any shape are rounded and clamped, never thrown on; server tools are read.
  std::string odd = R"({"usage":{"input_tokens":12.6,"output_tokens":1e300,"cache_read_input_tokens":-5,)"
                    R"("cache_creation_input_tokens":18446744073709551615,"server_tool_use":{"web_search_requests":3}}})";
  usage::Usage o;
  ASSERT_TRUE(adapters::read_answer_usage(odd, o, model));
  EXPECT_EQ(o.input_tokens, 13);
  EXPECT_EQ(o.output_tokens, usage::kMaxTokenCount);
  EXPECT_EQ(o.cache_read_input_tokens, 0);
  EXPECT_EQ(o.cache_creation_input_tokens, usage::kMaxTokenCount);
  EXPECT_EQ(o.web_search_requests, 3);
  // More significant digits than a double holds, an exponent beyond its range.
  std::string long_numbers = R"({"usage":{"input_tokens":18.4111111111111111111111111111111675,"output_tokens":2e400,)"
                             R"("cache_read_input_tokens":-1e400,"cache_creation_input_tokens":123456789012345678901234}})";
  usage::Usage l;
  ASSERT_TRUE(adapters::read_answer_usage(long_numbers, l, model));
  EXPECT_EQ(l.input_tokens, 18);
  EXPECT_EQ(l.output_tokens, usage::kMaxTokenCount);
  EXPECT_EQ(l.cache_read_input_tokens, 0);
  EXPECT_EQ(l.cache_creation_input_tokens, usage::kMaxTokenCount);
}

TEST(RequestFields, MaxTokens) {
  std::string body = R"({"model":"m","max_tokens":4096,"messages":[]})";
  EXPECT_EQ(relay::read_request_fields(body, true).max_tokens, 4096);
  std::string none = R"({"model":"m","messages":[]})";
  EXPECT_EQ(relay::read_request_fields(none, true).max_tokens, 0);
  std::string odd = R"({"model":"m","max_tokens":"many","messages":[]})";
  EXPECT_EQ(relay::read_request_fields(odd, true).max_tokens, 0);
  // Read as written (simdjson's get_double gave 1068 for the first), clamped, never dropped.
  // The fields after max_tokens are read too, whatever its value.
  struct Case {
    std::string body;
    int64_t max_tokens;
  };
  for (const auto& [text, max_tokens] : std::vector<Case>{
           {R"({"max_tokens":0.84467440737098375495e4,"model":"m","messages":[]})", 8446},
           {R"({"max_tokens":1e400,"model":"m","messages":[]})", usage::kMaxTokenCount},
           {R"({"max_tokens":1.5,"model":"m","messages":[]})", 1},
           {R"({"max_tokens":-5,"model":"m","messages":[]})", 0},
           {R"({"max_tokens":{"a":[1]},"model":"m","messages":[]})", 0},
       }) {
    std::string copy = text;
    auto f = relay::read_request_fields(copy, true);
    EXPECT_EQ(f.max_tokens, max_tokens) << text;
    EXPECT_EQ(f.error, "") << text;
    EXPECT_EQ(f.model, "m") << text;
  }
}

// A request holds its account's node, not the list nor a copy: a status change makes a new node
// for that account only, and a node held by a request outlives every later snapshot.
TEST(AccountRegistry, ARequestHoldsItsAccountsNodeAlone) {
  accounts::AccountRegistry registry;
  std::vector<accounts::Account> all(3);
  all[0].id = "a";
  all[1].id = "b";
  all[2].id = "c";
  registry.replace(all);
  auto first = registry.snapshot();
  auto held = first->share((*first)[1]);
  EXPECT_EQ(held.get(), &(*first)[1]) << "shared, not copied";
  std::weak_ptr<const accounts::AccountList> first_list = first;
  registry.set_status("b", "error", 0, "why");
  auto second = registry.snapshot();
  EXPECT_EQ(&(*second)[0], &(*first)[0]) << "an account that did not change is the same node";
  EXPECT_NE(&(*second)[1], &(*first)[1]);
  EXPECT_EQ((*second)[1].status, "error");
  EXPECT_EQ(held->status, all[1].status) << "what a request holds does not change under it";
  first.reset();
  registry.replace({});
  EXPECT_TRUE(first_list.expired()) << "a held account does not keep its list";
  EXPECT_EQ(held->id, "b");
  accounts::Account elsewhere;
  elsewhere.id = "x";
  EXPECT_EQ(registry.snapshot()->share(elsewhere)->id, "x") << "not of the list: a copy";
}

}  // namespace
}  // namespace crs
