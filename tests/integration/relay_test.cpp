// The relay end to end: real crs serve, real redis-server (embedded), the fake upstream.
#include <atomic>
#include <csignal>
#include <regex>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "integration/test_proxy.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

const std::string kModel = "claude-sonnet-4-5-20250929";

std::string message_body(bool stream, const std::string& text = "Hello") {
  return R"({"model":")" + kModel + R"(","max_tokens":100,"stream":)" + (stream ? "true" : "false") +
         R"(,"messages":[{"role":"user","content":")" + text + R"("}]})";
}

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  return ec ? json::value() : v;
}

// error.type of an Anthropic error body (the body itself if it is not one).
std::string type_of(const HttpResponse& r) {
  auto v = parse(r.body);
  return v.is_object() ? std::string(v.as_object()["error"].as_object()["type"].as_string()) : r.body;
}

std::string iso_now_plus_days(int days) {
  std::time_t t = std::time(nullptr) + days * 86400;
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
  return buf;
}

class RelayTest : public ::testing::Test {
 protected:
  void start(const std::string& config_toml = "") {
    ASSERT_TRUE(fake.start());
    if (!config_toml.empty()) dir.write("config/config.toml", config_toml);
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{"LOG_LEVEL=debug"});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto created = relay->cli({"keys", "create", "--name", "tester", "--json"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    auto o = parse(created.out).as_object();
    key = std::string(o["key"].as_string());
    key_id = std::string(o["id"].as_string());
  }

  std::string add_account(const std::string& name, const std::string& api_key, int priority = 50,
                          const std::string& proxy = "") {
    std::vector<std::string> args{"accounts", "add", "--type", "claude-console", "--name", name, "--base-url",
                                  fake.url(), "--api-key", api_key, "--priority", std::to_string(priority), "--json"};
    if (!proxy.empty()) {
      args.push_back("--proxy");
      args.push_back(proxy);
    }
    auto r = relay->cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id(parse(r.out).as_object()["id"].as_string());
    // Wait until the relay has the account (it reloads on the invalidation message).
    wait_until([&] { return post("/v1/messages/count_tokens", R"({"model":"m","messages":[]})").status != 503; }, 5s);
    return id;
  }

  HttpResponse post(const std::string& path, const std::string& body, std::map<std::string, std::string> headers = {}) {
    headers.emplace("x-api-key", key);
    headers.emplace("content-type", "application/json");
    return http_request(relay->port(), "POST", path, body, headers);
  }

  void reset_fake() { ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/reset").status, 200); }

  json::array recorded() { return parse(fake.requests_json()).as_object()["requests"].as_array(); }

  // A session token of the admin login generated at the first start (data/init.json).
  std::string admin_token() {
    auto init = parse(read_file(dir.file("data/init.json"))).as_object();
    json::object login{{"username", init["adminUsername"]}, {"password", init["adminPassword"]}};
    auto r = http_request(relay->port(), "POST", "/web/auth/login", json::serialize(login),
                          {{"content-type", "application/json"}});
    auto o = parse(r.body);
    return o.is_object() && o.as_object().contains("token") ? std::string(o.as_object()["token"].as_string()) : "";
  }

  json::object account(const std::string& id) {
    auto r = relay->cli({"accounts", "show", id, "--json"});
    return parse(r.out).as_object();
  }
  // The message of the account's last error in its health stats ("" if none yet).
  std::string last_error(const std::string& id) {
    auto e = account(id)["health"].as_object()["lastError"];
    return e.is_object() ? std::string(e.as_object()["message"].as_string()) : std::string();
  }

  TempDir dir;
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  std::string key, key_id;
};

TEST_F(RelayTest, NonStreamingThroughEveryPrefix) {
  start();
  add_account("console-1", "sk-ant-api03-upstream-key-one");
  reset_fake();
  for (std::string prefix : {"/api", "/claude", ""}) {
    auto r = post(prefix + "/v1/messages?beta=true", message_body(false),
                  {{"anthropic-beta", "tools-2024"}, {"user-agent", "claude-cli/2.1.92 (external, cli)"},
                   {"x-stainless-lang", "js"}, {"cookie", "session=abc"}, {"x-forwarded-for", "10.0.0.1"}});
    ASSERT_EQ(r.status, 200) << prefix << " " << r.body;
    auto m = parse(r.body).as_object();
    EXPECT_EQ(m["type"].as_string(), "message");
    EXPECT_FALSE(r.header("request-id").empty());
    EXPECT_FALSE(r.header("x-request-id").empty());
  }
  auto reqs = recorded();
  ASSERT_EQ(reqs.size(), 3u);
  const auto& last = reqs.back().as_object();
  EXPECT_EQ(last.at("target").as_string(), "/v1/messages?beta=true");
  const auto& h = last.at("headers").as_object();
  EXPECT_EQ(h.at("x-api-key").as_string(), "sk-ant-api03-upstream-key-one");
  EXPECT_FALSE(h.contains("authorization"));
  EXPECT_FALSE(h.contains("cookie"));
  EXPECT_FALSE(h.contains("x-forwarded-for"));
  EXPECT_EQ(h.at("anthropic-version").as_string(), "2023-06-01");
  EXPECT_EQ(h.at("anthropic-beta").as_string(), "tools-2024");
  EXPECT_EQ(h.at("user-agent").as_string(), "claude-cli/2.1.92 (external, cli)");
  EXPECT_EQ(h.at("x-stainless-lang").as_string(), "js");
  EXPECT_EQ(h.at("accept-encoding").as_string(), "identity");
}

TEST_F(RelayTest, StreamedBytesEqualWhatTheUpstreamSent) {
  start();
  add_account("console-1", "sk-ant-api03-upstream-key-one");
  // 20 deltas written in 13-byte pieces: events arrive split across reads. (A scripted
  // behaviour: the relay does not forward a client's x-fake-behavior header.)
  ASSERT_TRUE(fake.script("sk-ant-api03-upstream-key-one", R"({"deltas":20,"chunkBytes":13})"));
  auto relayed = post("/api/v1/messages", message_body(true));
  ASSERT_EQ(relayed.status, 200) << relayed.body;
  size_t deltas = 0;
  for (size_t at = relayed.body.find("event: content_block_delta"); at != std::string::npos;
       at = relayed.body.find("event: content_block_delta", at + 1))
    ++deltas;
  EXPECT_EQ(deltas, 20u);
  EXPECT_EQ(relayed.header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(relayed.header("cache-control"), "no-cache");
  EXPECT_EQ(relayed.header("x-accel-buffering"), "no");
  // The same request straight to the fake: identical bytes but for the message id.
  auto direct = http_request(fake.port(), "POST", "/v1/messages", message_body(true),
                             {{"x-api-key", "sk-ant-api03-upstream-key-one"}});
  std::regex id("msg_fake[0-9]+");
  EXPECT_EQ(std::regex_replace(relayed.body, id, "ID"), std::regex_replace(direct.body, id, "ID"));
  EXPECT_NE(relayed.body.find("event: message_stop"), std::string::npos);
}

TEST_F(RelayTest, LargeBodyReachesTheUpstreamByteIdentical) {
  start();
  add_account("console-1", "sk-ant-api03-upstream-key-one");
  std::string big(1024 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 97) big[i] = "abc \\\"\n\t"[i % 7] == '\\' ? 'y' : "abcdefg"[i % 7];
  std::string body = R"({"model":")" + kModel + R"(","max_tokens":10,"metadata":{"user_id":"{\"session_id\":\"s\"}"},)" +
                     R"("messages":[{"role":"user","content":")" + big + R"("},{"role":"system","content":"x"}],)" +
                     R"("unknown_field":{"kept":[1,2.5,null,true]}})";
  auto r = post("/v1/messages", body);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  auto reqs = recorded();
  EXPECT_EQ(reqs.back().as_object()["body"].as_string(), body);
}

// Bodies are read straight into their request (http/server.cpp), not through Beast's parser:
// a body split across reads, one partly read with the header, a second request right behind
// the first body in the same write, a body that stops (with a length, and chunked), and one
// the client abandons.
TEST_F(RelayTest, BodiesInPiecesAndPipelinedReachTheUpstreamIntact) {
  start("[server]\nrequestReadTimeout = 1\n");
  add_account("console-1", "sk-ant-api03-upstream-key-one");
  auto body_of = [](char fill, size_t size) {
    std::string text(size, fill);
    return R"({"model":")" + kModel + R"(","max_tokens":10,"messages":[{"role":"user","content":")" + text + "\"}]}";
  };
  auto head = [&](const std::string& body) {
    return "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
           "\r\ncontent-type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  };
  std::string first = body_of('a', 150000), second = body_of('b', 120000);
  {
    RawConnection c(relay->port());
    ASSERT_TRUE(c.send(head(first) + first.substr(0, 1000)));
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(c.send(first.substr(1000, 70000)));
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(c.send(first.substr(71000) + head(second) + second.substr(0, 5)));
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(c.send(second.substr(5)));
    std::string answers;
    auto count = [&](const std::string& what) {
      size_t n = 0;
      for (size_t at = answers.find(what); at != std::string::npos; at = answers.find(what, at + 1)) ++n;
      return n;
    };
    wait_until([&] {
      answers += c.receive(100ms);
      return count("\"stop_reason\"") >= 2;
    });
    EXPECT_EQ(count("HTTP/1.1 200"), 2u) << answers.substr(0, 500);
    EXPECT_EQ(answers.find("HTTP/1.1 4"), std::string::npos) << answers.substr(0, 500);
  }
  // (`accounts add` checked the account with a count_tokens call first.)
  auto messages = [&] {
    std::vector<std::string> bodies;
    for (auto& r : recorded())
      if (r.as_object()["path"].as_string() == "/v1/messages") bodies.emplace_back(r.as_object()["body"].as_string());
    return bodies;
  };
  auto reqs = messages();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0], first);
  EXPECT_EQ(reqs[1], second);

  // A body that stops arriving gets 408 after server.requestReadTimeout; one whose client
  // leaves is dropped. Neither reaches the upstream, and the relay goes on serving.
  {
    RawConnection stalled(relay->port());
    ASSERT_TRUE(stalled.send(head(first) + first.substr(0, 40000)));
    std::string answer;
    wait_until([&] {
      answer += stalled.receive(100ms);
      return answer.find("\r\n\r\n") != std::string::npos;
    }, 5s);
    EXPECT_NE(answer.find("HTTP/1.1 408"), std::string::npos) << answer;
  }
  {
    RawConnection stalled_chunks(relay->port());
    ASSERT_TRUE(stalled_chunks.send("POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                                    "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"mod\r\n"));
    std::string answer;
    wait_until([&] {
      answer += stalled_chunks.receive(100ms);
      return answer.find("\r\n\r\n") != std::string::npos;
    }, 5s);
    EXPECT_NE(answer.find("HTTP/1.1 408"), std::string::npos) << "chunked: " << answer;
  }
  {
    RawConnection abandoned(relay->port());
    ASSERT_TRUE(abandoned.send(head(first) + first.substr(0, 40000)));
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(messages().size(), 2u);
  EXPECT_EQ(post("/api/v1/messages", second).status, 200);
  EXPECT_EQ(messages().back(), second);
}

TEST_F(RelayTest, AdmissionErrorsHaveTheAnthropicShape) {
  start("[server]\nmaxBodyBytes = 2048\n");
  add_account("console-1", "sk-ant-api03-upstream-key-one");
  auto missing = http_request(relay->port(), "POST", "/api/v1/messages", message_body(false));
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(type_of(missing), "authentication_error");
  auto wrong = post("/api/v1/messages", message_body(false), {{"x-api-key", "cr_" + std::string(64, '0')}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(type_of(wrong), "authentication_error");
  auto bearer = http_request(relay->port(), "POST", "/api/v1/messages", message_body(false),
                             {{"authorization", "Bearer " + key}});
  EXPECT_EQ(bearer.status, 200);
  auto bad_json = post("/api/v1/messages", "{\"model\": ");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(type_of(bad_json), "invalid_request_error");
  EXPECT_EQ(post("/api/v1/messages", R"({"model":"m","max_tokens":1})").status, 400);  // no messages
  EXPECT_EQ(post("/api/v1/messages", R"({"messages":[]})").status, 400);               // no model
  EXPECT_EQ(post("/api/v1/messages", R"([1,2])").status, 400);
  auto too_big = post("/api/v1/messages", std::string(4096, ' ') + message_body(false));
  EXPECT_EQ(too_big.status, 413);
  EXPECT_EQ(type_of(too_big), "request_too_large");

  ASSERT_EQ(relay->cli({"keys", "disable", key_id}).exit_code, 0);
  EXPECT_TRUE(wait_until([&] { return post("/api/v1/messages", message_body(false)).status == 403; }, 3s))
      << "a disabled key must be refused at once (cache invalidated through pub/sub)";
  EXPECT_EQ(type_of(post("/api/v1/messages", message_body(false))), "permission_error");
  ASSERT_EQ(relay->cli({"keys", "enable", key_id}).exit_code, 0);
  EXPECT_TRUE(wait_until([&] { return post("/api/v1/messages", message_body(false)).status == 200; }, 3s));
}

// The rules of a key that need no counting: each refused request gets 403 permission_error
// naming the rule, and the request just inside the rule passes.
TEST_F(RelayTest, KeyRulesPermissionsClientsModelsAndExpiry) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  auto update = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"keys", "update", key_id});
    auto r = relay->cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  auto body_for = [](const std::string& model) {
    return R"({"model":")" + model + R"(","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})";
  };
  const std::map<std::string, std::string> claude_code{{"user-agent", "claude-cli/2.0.14 (external, cli)"}};
  const std::map<std::string, std::string> curl{{"user-agent", "curl/8.0"}};

  // Permissions: a key for OpenAI routes only may not use the Claude routes.
  update({"--permissions", "openai"});
  ASSERT_TRUE(wait_until([&] { return post("/v1/messages", body_for(kModel)).status == 403; }, 3s));
  auto refused = post("/v1/messages", body_for(kModel));
  EXPECT_EQ(type_of(refused), "permission_error");
  EXPECT_NE(refused.body.find("no permission for claude"), std::string::npos) << refused.body;
  EXPECT_EQ(post("/v1/messages/count_tokens", body_for(kModel)).status, 403);  // needs the permission too
  update({"--permissions", "claude,openai"});
  ASSERT_TRUE(wait_until([&] { return post("/v1/messages", body_for(kModel)).status == 200; }, 3s));

  // Clients: only Claude Code, for count_tokens too (it reaches an upstream account); the model
  // list stays open to any client.
  update({"--clients", "claude_code"});
  ASSERT_TRUE(wait_until([&] { return post("/v1/messages", body_for(kModel), curl).status == 403; }, 3s));
  auto wrong_client = parse(post("/v1/messages", body_for(kModel), curl).body).as_object();
  EXPECT_EQ(wrong_client["userAgent"].as_string(), "curl/8.0");
  EXPECT_EQ(wrong_client["allowedClients"].as_array().size(), 1u);
  EXPECT_NE(json::serialize(wrong_client).find("claude-cli/"), std::string::npos) << "the rule is shown";
  EXPECT_EQ(post("/v1/messages", body_for(kModel), claude_code).status, 200);
  EXPECT_EQ(post("/v1/messages/count_tokens", body_for(kModel), curl).status, 403);
  EXPECT_EQ(post("/v1/messages/count_tokens", body_for(kModel), claude_code).status, 200);
  EXPECT_EQ(http_request(relay->port(), "GET", "/v1/models", "", {{"x-api-key", key}, {"user-agent", "curl/8.0"}}).status,
            200);
  update({"--clients", ""});

  // Models: an allow-list with a prefix, and a deny-list inside it.
  update({"--models", "claude-sonnet-*", "--deny-models", "claude-sonnet-4-20250514"});
  ASSERT_TRUE(wait_until([&] { return post("/v1/messages", body_for("claude-opus-4-1-20250805")).status == 403; }, 3s));
  EXPECT_NE(post("/v1/messages", body_for("claude-opus-4-1-20250805")).body.find("claude-opus-4-1-20250805"),
            std::string::npos);
  EXPECT_EQ(post("/v1/messages", body_for("claude-sonnet-4-20250514")).status, 403);
  EXPECT_EQ(post("/v1/messages", body_for(kModel)).status, 200);
  auto listed = http_request(relay->port(), "GET", "/v1/models", "", {{"x-api-key", key}});
  ASSERT_EQ(listed.status, 200);
  auto list = parse(listed.body);
  for (const auto& m : list.as_object()["data"].as_array()) {
    std::string id(m.as_object().at("id").as_string());
    EXPECT_TRUE(id.starts_with("claude-sonnet-") && id != "claude-sonnet-4-20250514") << id;
  }
  update({"--models", "", "--deny-models", ""});

  // Expiry: a fixed date in the past refuses; one in the future passes.
  update({"--expires-at", "2020-01-01T00:00:00Z"});
  ASSERT_TRUE(wait_until([&] { return post("/v1/messages", body_for(kModel)).status == 403; }, 3s));
  EXPECT_NE(post("/v1/messages", body_for(kModel)).body.find("expired"), std::string::npos);
  update({"--expires-at", "2999-01-01T00:00:00Z"});
  ASSERT_TRUE(wait_until([&] { return post("/v1/messages", body_for(kModel)).status == 200; }, 3s));

  // Activation: the first request starts the clock, once.
  update({"--expires-after-first-use", "30"});
  ASSERT_TRUE(wait_until([&] { return relay->cli({"keys", "show", key_id, "--json"}).out.find("\"activation\"") != std::string::npos; }, 3s));
  EXPECT_EQ(post("/v1/messages", body_for(kModel)).status, 200);
  auto shown = parse(relay->cli({"keys", "show", key_id, "--json"}).out).as_object();
  EXPECT_TRUE(shown["isActivated"].as_bool());
  std::string expires(shown["expiresAt"].as_string());
  EXPECT_GT(expires, iso_now_plus_days(29));
  EXPECT_LT(expires, iso_now_plus_days(31));
  EXPECT_EQ(post("/v1/messages", body_for(kModel)).status, 200);
  EXPECT_EQ(parse(relay->cli({"keys", "show", key_id, "--json"}).out).as_object()["expiresAt"].as_string(), expires)
      << "activated once";
}

// A keep-alive connection remembers the digest of the key it presented last: a different key
// on the same connection must be looked up anew, never taken for the remembered one.
TEST_F(RelayTest, OneConnectionMayChangeItsKey) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  std::string body = message_body(false);
  auto request = [&](const std::string& k) {
    return "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + k +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
  };
  RawConnection c(relay->port());
  ASSERT_TRUE(c.send(request(key)));
  EXPECT_NE(c.receive(500ms).find("HTTP/1.1 200"), std::string::npos);
  ASSERT_TRUE(c.send(request(key)));
  EXPECT_NE(c.receive(500ms).find("HTTP/1.1 200"), std::string::npos);
  ASSERT_TRUE(c.send(request("cr_" + std::string(64, '0'))));
  std::string refused = c.receive(10s);  // returns at the close that follows the answer
  EXPECT_NE(refused.find("HTTP/1.1 401"), std::string::npos);
  // Refused from its headers, its body unread: the connection cannot carry another request.
  EXPECT_NE(refused.find("Connection: close"), std::string::npos) << refused;
  EXPECT_TRUE(c.closed_by_peer(1s));
}

int64_t rss_kib(pid_t pid) {
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find("VmRSS:");
  return at == std::string::npos ? -1 : std::stoll(status.substr(at + 6));
}

// Bodies are read only for a known key, grow as their bytes arrive, and what they hold
// together is capped: 64 connections announcing 32 MiB and sending nothing cost no memory,
// and the relay goes on serving.
TEST_F(RelayTest, AnnouncedBodiesHoldNoMemoryAndTheirBytesAreCapped) {
  start("[server]\nmaxBodyBytesInFlight = 4194304\n");
  add_account("a", "sk-ant-api03-account-a-000000");
  pid_t pid = relay->process().pid();
  int64_t before = rss_kib(pid);
  auto announce = [&](const std::string& key_header, size_t length) {
    auto c = std::make_unique<RawConnection>(relay->port());
    EXPECT_TRUE(c->send("POST /v1/messages HTTP/1.1\r\nHost: x\r\n" + key_header +
                        "content-type: application/json\r\ncontent-length: " + std::to_string(length) + "\r\n\r\n"));
    return c;
  };
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 64; ++i) idle.push_back(announce("x-api-key: " + key + "\r\n", 32 << 20));
  // Without a key: refused from the headers, the connection closed, the body never read.
  for (int i = 0; i < 8; ++i) {
    auto c = announce("", 32 << 20);
    std::string answer = c->receive(10s);  // returns at the close that follows the answer
    EXPECT_NE(answer.find("HTTP/1.1 401"), std::string::npos) << answer;
    EXPECT_TRUE(c->closed_by_peer(1s));
  }
  EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200);
  int64_t after = rss_kib(pid);
  EXPECT_LT(after - before, 64 * 1024) << before << " KiB -> " << after << " KiB";

  // Bytes that do arrive are held and counted: 3 MiB of a slow body leave too little of the
  // 4 MiB for a 2 MiB one, which gets 503 and a closed connection; small requests still pass.
  auto slow = announce("x-api-key: " + key + "\r\n", 32 << 20);
  ASSERT_TRUE(slow->send(std::string(3 << 20, ' ')));
  EXPECT_TRUE(wait_until([&] { return post("/v1/messages", message_body(false)).status == 200; }, 5s));
  auto big = announce("x-api-key: " + key + "\r\n", 2 << 20);
  big->send(std::string(2 << 20, ' '));
  std::string refused = big->receive(10s);  // returns at the close that follows the answer
  EXPECT_NE(refused.find("HTTP/1.1 503"), std::string::npos) << refused.substr(0, 300);
  EXPECT_NE(refused.find("Retry-After"), std::string::npos);
  EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200);
  slow.reset();  // its bytes are given back
  std::string body = message_body(false, std::string(1 << 20, 'x'));
  EXPECT_TRUE(wait_until([&] { return post("/v1/messages", body).status == 200; }, 5s));
}

// An answer that streams gives back its request's body as it starts (no other attempt will send
// it): open streams do not hold their bodies, in memory or in the budget for bodies held. With
// 1 MiB for bodies, eight open streams of 400 KB bodies; then a small request still passes.
TEST_F(RelayTest, OpenStreamsGiveBackTheirBodies) {
  start("[server]\nmaxBodyBytesInFlight = 1048576\n");
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("*", R"({"deltas":3,"stallAfterEvents":1,"stallMs":60000})"));
  std::string body = message_body(true, std::string(400 << 10, 'x'));
  std::vector<std::unique_ptr<RawConnection>> streams;
  for (int i = 0; i < 8; ++i) {
    auto c = std::make_unique<RawConnection>(relay->port());
    ASSERT_TRUE(c->send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                        "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body));
    std::string seen;
    ASSERT_TRUE(wait_until([&] {
      seen += c->receive(50ms);
      bool refused = seen.find("\r\n\r\n") != std::string::npos && !seen.starts_with("HTTP/1.1 200");
      return refused || seen.find("message_start") != std::string::npos;
    }, 10s)) << "stream " << i << ": " << seen.substr(0, 300);
    ASSERT_NE(seen.find("HTTP/1.1 200"), std::string::npos) << "stream " << i << ": " << seen.substr(0, 300);
    streams.push_back(std::move(c));
  }
  EXPECT_EQ(parse(fake.stats_json()).as_object()["inFlight"].as_int64(), 8);
  EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200);
}

TEST_F(RelayTest, NoAccountMeans503) {
  start();
  auto r = post("/v1/messages", message_body(false));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("overloaded_error"), std::string::npos);
  EXPECT_NE(r.body.find("No upstream account"), std::string::npos);
}

// A key bound to an account uses only that account, never the shared pool: an error of that
// account goes to the client, and while it rests the answer is a 503 that names it.
TEST_F(RelayTest, AKeyBoundToAnAccountNeverReachesAnother) {
  start();
  add_account("first", "sk-ant-api03-first-account-key", 10);
  std::string second = add_account("second", "sk-ant-api03-second-account-key", 20);
  auto refused = relay->cli({"keys", "update", key_id, "--account", "no-such-account"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("no account with id no-such-account"), std::string::npos) << refused.err;
  ASSERT_EQ(relay->cli({"keys", "update", key_id, "--account", second}).exit_code, 0);
  auto last_credential = [&] {
    auto reqs = recorded();
    return reqs.empty() ? std::string() : std::string(reqs.back().as_object().at("credential").as_string());
  };
  // Once the instance has the changed key, the lower-priority bound account serves everything.
  ASSERT_TRUE(wait_until([&] {
    return post("/v1/messages", message_body(false)).status == 200 && last_credential() == "sk-ant-api03-second-account-key";
  }, 5s));
  reset_fake();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(post("/v1/messages", message_body(i % 2 == 1)).status, 200);
  ASSERT_TRUE(fake.script("sk-ant-api03-second-account-key", R"({"status":429,"retryAfter":120})"));
  auto limited = post("/v1/messages", message_body(false));
  EXPECT_EQ(limited.status, 429) << limited.body;
  auto resting = post("/v1/messages", message_body(false));
  EXPECT_EQ(resting.status, 503) << resting.body;
  EXPECT_NE(resting.body.find("The account " + second + " this key is bound to"), std::string::npos) << resting.body;
  for (const auto& req : recorded())
    EXPECT_EQ(req.as_object().at("credential").as_string(), "sk-ant-api03-second-account-key");
}

TEST_F(RelayTest, RateLimitedAccountIsSetAsideUntilRetryAfter) {
  start();
  std::string first = add_account("first", "sk-ant-api03-first-account-key", 10);
  std::string second = add_account("second", "sk-ant-api03-second-account-key", 20);
  reset_fake();
  ASSERT_TRUE(fake.script("sk-ant-api03-first-account-key", R"({"status":429,"retryAfter":120})"));
  auto r = post("/v1/messages", message_body(false));
  ASSERT_EQ(r.status, 200) << r.body;  // no client-visible error
  auto a = account(first);
  EXPECT_EQ(a["status"].as_string(), "rate_limited");
  int64_t until = a["unavailableUntil"].as_int64();
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(until, now + 100000);
  EXPECT_LT(until, now + 125000);
  // Account counts are for admins only.
  auto anonymous = parse(http_get(relay->port(), "/health").body).as_object();
  EXPECT_FALSE(anonymous["components"].as_object().contains("accounts"));
  EXPECT_FALSE(anonymous["components"].as_object()["redis"].as_object().contains("address"));
  auto health = parse(http_request(relay->port(), "GET", "/health", "", {{"authorization", "Bearer " + admin_token()}}).body)
                    .as_object();
  EXPECT_TRUE(health["components"].as_object()["redis"].as_object().contains("address"));
  auto summary = health["components"].as_object()["accounts"].as_object();
  EXPECT_EQ(summary["total"].as_int64(), 2);
  EXPECT_EQ(summary["usable"].as_int64(), 1);
  // Later requests go straight to the second account.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200);
  int first_calls = 0, second_calls = 0;
  for (const auto& req : recorded()) {
    auto cred = req.as_object().at("credential").as_string();
    if (cred == "sk-ant-api03-first-account-key") ++first_calls;
    if (cred == "sk-ant-api03-second-account-key") ++second_calls;
  }
  EXPECT_EQ(first_calls, 1);
  EXPECT_EQ(second_calls, 4);
}

TEST_F(RelayTest, FailoverOn529And500AndResetBeforeTheFirstByte) {
  start("[relay]\nmaxAttempts = 4\n");
  add_account("a", "sk-ant-api03-account-a-000000", 10);
  add_account("b", "sk-ant-api03-account-b-000000", 20);
  add_account("c", "sk-ant-api03-account-c-000000", 30);
  add_account("d", "sk-ant-api03-account-d-000000", 40);
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000", R"({"status":529})"));
  ASSERT_TRUE(fake.script("sk-ant-api03-account-b-000000", R"({"status":500})"));
  ASSERT_TRUE(fake.script("sk-ant-api03-account-c-000000", R"({"resetBeforeResponse":true})"));
  auto r = post("/v1/messages", message_body(true));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("event: message_stop"), std::string::npos);
  EXPECT_EQ(r.body.find("event: error"), std::string::npos) << "failover must be invisible to the client";
}

TEST_F(RelayTest, FailoverWithinAttemptsAndLastErrorReturned) {
  start("[relay]\nmaxAttempts = 2\n[loadBalancing.failureRecovery]\nfailureThreshold = 1\n");
  add_account("a", "sk-ant-api03-account-a-000000", 10);
  add_account("b", "sk-ant-api03-account-b-000000", 20);
  add_account("c", "sk-ant-api03-account-c-000000", 30);
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000", R"({"status":529})"));
  ASSERT_TRUE(fake.script("sk-ant-api03-account-b-000000", R"({"status":500,"errorMessage":"boom"})"));
  auto r = post("/v1/messages", message_body(false));
  EXPECT_EQ(r.status, 500) << r.body;  // two attempts, both failed: the last upstream error
  EXPECT_NE(r.body.find("boom"), std::string::npos);
  // One failure opens a circuit here (failureThreshold = 1): a and b now rest; c serves.
  auto ok = post("/v1/messages", message_body(false));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(RelayTest, ClientErrorsPassThroughWithoutFailover) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000", 10);
  add_account("b", "sk-ant-api03-account-b-000000", 20);
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000",
                          R"({"status":400,"errorMessage":"max_tokens: too large"})"));
  auto r = post("/v1/messages", message_body(false));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("max_tokens: too large"), std::string::npos);
}

TEST_F(RelayTest, AccountLevelMessagesAreRecognised) {
  start();
  std::string a = add_account("a", "sk-ant-api03-account-a-000000", 10);
  std::string b = add_account("b", "sk-ant-api03-account-b-000000", 20);
  // "Extra usage" is not a rate limit: the client gets the 429, the account keeps working.
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000",
                          R"({"status":429,"errorMessage":"Extra usage is required for long context requests"})", 1));
  auto extra = post("/v1/messages", message_body(false));
  EXPECT_EQ(extra.status, 429);
  EXPECT_NE(extra.body.find("Extra usage"), std::string::npos);
  EXPECT_EQ(account(a)["status"].as_string(), "active");
  // A disabled organization takes the account out, and the request moves on.
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000",
                          R"({"status":400,"errorMessage":"This organization has been disabled."})", 1));
  EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200);
  EXPECT_EQ(account(a)["status"].as_string(), "blocked");
  EXPECT_NE(std::string(account(a)["statusReason"].as_string()).find("This organization has been disabled"),
            std::string::npos);
  EXPECT_EQ(account(b)["status"].as_string(), "active");
}

// Upstream validation errors quote the client's input: a key holder who sends the ban message
// as a content block type must get the 400 back, and no account may change state.
TEST_F(RelayTest, AClientQuotingTheBanMessageDisablesNoAccount) {
  start();
  std::string a = add_account("a", "sk-ant-api03-account-a-000000", 10);
  std::string b = add_account("b", "sk-ant-api03-account-b-000000", 20);
  const char* quoted =
      R"({"status":400,"errorType":"invalid_request_error","errorMessage":"messages.0.content.0: Input tag 'This organization has been disabled.' found using 'type' does not match any of the expected tags"})";
  const char* forbidden =
      R"({"status":403,"errorType":"permission_error","errorMessage":"'OAuth authentication is currently not allowed for this organization' is not a valid tool name"})";
  ASSERT_TRUE(fake.script("*", quoted, 1));
  auto r = post("/v1/messages", message_body(false));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("Input tag"), std::string::npos);
  EXPECT_EQ(account(a)["status"].as_string(), "active");
  EXPECT_EQ(account(b)["status"].as_string(), "active");
  // A 403 quoting the other phrase cools the account down at most: it is not a ban.
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000", forbidden, 1));
  EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200);
  EXPECT_NE(account(a)["status"].as_string(), "unauthorized");
  EXPECT_EQ(account(b)["status"].as_string(), "active");
}

// One account whose secrets cannot be opened must not stop the others loading, now or after
// a restart: it is listed as failing with the reason, and never scheduled.
TEST_F(RelayTest, AnUnreadableAccountIsSkippedAndTheOthersServe) {
  start();
  std::string bad = add_account("bad", "sk-ant-api03-account-a-000000", 10);
  add_account("good", "sk-ant-api03-account-b-000000", 20);
  RedisServer redis_cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  redis_cli.cli({"HSET", "crs:account:" + bad, "credentials", "v1:not-sealed-by-this-key"});
  redis_cli.cli({"PUBLISH", "crs:invalidate", "account:" + bad});
  for (int restart = 0; restart < 2; ++restart) {
    if (restart) {
      ASSERT_EQ(relay->stop(), 0);
      ASSERT_TRUE(relay->start()) << relay->log();
    }
    if (!restart) {  // the invalidation arrives by pub/sub: until then the old credentials serve
      ASSERT_TRUE(wait_until(
          [&] {
            reset_fake();
            auto served = post("/v1/messages", message_body(false));
            auto seen = recorded();
            return served.status == 200 && seen.size() == 1 &&
                   seen[0].as_object().at("credential").as_string() == "sk-ant-api03-account-b-000000";
          },
          5s))
          << relay->log();
    }
    reset_fake();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200) << relay->log();
    auto seen = recorded();
    EXPECT_EQ(seen.size(), 4u);
    for (const auto& r : seen)
      EXPECT_EQ(r.as_object().at("credential").as_string(), "sk-ant-api03-account-b-000000");
    auto list = relay->cli({"accounts", "list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("cannot be read"), std::string::npos) << list.out;
  }
}

TEST_F(RelayTest, HtmlErrorFromAnEdgeIsWrapped) {
  start("[relay]\nmaxAttempts = 1\n");
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000", R"({"status":502,"htmlError":true})"));
  auto r = post("/v1/messages", message_body(false));
  EXPECT_EQ(r.status, 502);
  auto v = parse(r.body);
  ASSERT_TRUE(v.is_object()) << r.body;
  EXPECT_EQ(v.as_object()["error"].as_object()["type"].as_string(), "api_error");
}

TEST_F(RelayTest, ResetAfterTheFirstByteEndsWithAnErrorEvent) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000", R"({"resetAfterEvents":4})"));
  auto r = post("/v1/messages", message_body(true));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("event: content_block_delta"), std::string::npos);
  EXPECT_NE(r.body.find("event: error"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("api_error"), std::string::npos);
  EXPECT_EQ(r.body.find("message_stop"), std::string::npos);
}

TEST_F(RelayTest, StalledUpstreamIsCutWithATimeoutEvent) {
  start("[relay]\nidleTimeout = 600\n");
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000", R"({"stallAfterEvents":3})"));
  auto t0 = std::chrono::steady_clock::now();
  auto r = post("/v1/messages", message_body(true));
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("event: error"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("timeout_error"), std::string::npos);
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(wait_until([&] { return parse(fake.stats_json()).as_object()["inFlight"].as_int64() == 0; }, 2s));
}

// Every upstream connection of a burst is kept for the next burst: with 150 requests in flight
// at once (one I/O thread, so one pool), the second burst opens no new connection. The pool
// used to keep 64 idle per target and closed the rest, so at 256 concurrent requests a third
// of them opened a connection (bench/results/2026-12-05-profile-64-vs-256.md).
TEST_F(RelayTest, ABurstsUpstreamConnectionsAreAllKeptForTheNextBurst) {
  start("[server]\nworkers = 1\n");
  add_account("pool", "sk-ant-api03-pool-account-000000");
  constexpr int kBurst = 150;
  auto burst = [&] {
    ASSERT_TRUE(fake.script("*", R"({"latencyMs":3000})"));
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kBurst; ++i)
      clients.emplace_back([&] {
        if (post("/v1/messages", message_body(false)).status == 200) ++ok;
      });
    for (auto& t : clients) t.join();
    EXPECT_EQ(ok.load(), kBurst);
  };
  auto stats = [&] { return parse(fake.stats_json()).as_object(); };
  burst();
  auto first = stats();
  // The requests overlapped (the condition of the test), and each needed its own connection.
  ASSERT_GE(first["maxInFlight"].as_int64(), 100) << json::serialize(first);
  EXPECT_GE(first["connections"].as_object()["accepted"].as_int64(), first["maxInFlight"].as_int64());
  reset_fake();
  burst();
  auto second = stats();
  ASSERT_GE(second["maxInFlight"].as_int64(), 100) << json::serialize(second);
  // Each request in flight in the first burst held a connection of its own, and the pool kept
  // them all: the second burst opens new ones only for requests beyond the first's peak (none
  // when both overlapped completely, a few when a slow machine started the first one late).
  // The fake counts the test's own calls too (the script and stats calls since the reset).
  int64_t opened = second["connections"].as_object()["accepted"].as_int64() - 2;
  EXPECT_LE(opened, std::max<int64_t>(0, second["maxInFlight"].as_int64() - first["maxInFlight"].as_int64()))
      << json::serialize(first) << "\n" << json::serialize(second);
}

// A request pipelined behind a stream (both in one write) waits in the session's read buffer,
// which a stream otherwise gives up while it answers: it is answered after the stream, whole.
TEST_F(RelayTest, ARequestPipelinedBehindAStreamIsAnsweredAfterIt) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  auto request = [&](bool stream) {
    std::string body = message_body(stream);
    return "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
  };
  RawConnection c(relay->port());
  ASSERT_TRUE(c.send(request(true) + request(false)));
  std::string answers;
  ASSERT_TRUE(wait_until([&] {
    answers += c.receive(100ms);
    return answers.find("\"stop_reason\":\"end_turn\"", answers.find("message_stop")) != std::string::npos;
  }, 10s)) << answers.substr(0, 500);
  size_t second = answers.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << answers.substr(0, 500);
  EXPECT_EQ(answers.find("HTTP/1.1 200"), 0u);
  EXPECT_LT(answers.find("message_stop"), second) << "the stream ends before the next answer begins";
  EXPECT_EQ(answers.find("HTTP/1.1 4"), std::string::npos);
}

TEST_F(RelayTest, ClientDisconnectClosesTheUpstreamPromptly) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000", R"({"stallAfterEvents":3})"));
  {
    RawConnection c(relay->port());
    std::string body = message_body(true);
    ASSERT_TRUE(c.send("POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                       "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body));
    EXPECT_NE(c.receive(1s).find("content_block_start"), std::string::npos);
    ASSERT_EQ(parse(fake.stats_json()).as_object()["inFlight"].as_int64(), 1);
  }  // the client goes away mid-stream
  auto gone = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return parse(fake.stats_json()).as_object()["inFlight"].as_int64() == 0; }, 1s))
      << "the upstream connection must be closed within 1 s";
  EXPECT_LT(std::chrono::steady_clock::now() - gone, 1s);
  // What was used until the cut is still recorded, marked partial.
  RedisServer redis_cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  ASSERT_TRUE(wait_until([&] { return redis_cli.cli({"LLEN", "usage:records:" + key_id}) == "1"; }, 5s));
  auto record = parse(redis_cli.cli({"LINDEX", "usage:records:" + key_id, "0"})).as_object();
  EXPECT_TRUE(record["partial"].as_bool());
  EXPECT_GT(record["inputTokens"].as_int64(), 0);
  // The relay is fine afterwards.
  ASSERT_TRUE(http_request(fake.port(), "DELETE", "/_fake/behaviors").status == 200);
  EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200);
}

// A client that reads 500 deltas and hangs up before message_delta (the upstream pauses there)
// is charged the output that passed, estimated from the deltas and marked so, never 1 token.
TEST_F(RelayTest, HangingUpBeforeTheFinalCountStillChargesTheOutput) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  const int deltas = 500;
  const int64_t true_output = 2300;  // what the upstream says in message_delta, never seen here
  ASSERT_TRUE(fake.script("*", R"({"deltas":500,"text":"tokentokentoken","outputTokens":2300,"stallAfterEvents":504})"));
  std::string body = message_body(true);
  {
    RawConnection c(relay->port());
    ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                       "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body));
    std::string got;
    ASSERT_TRUE(wait_until([&] {
      got += c.receive(100ms);
      return got.find("content_block_stop") != std::string::npos;
    }, 10s)) << got.size();
  }  // hangs up before message_delta
  RedisServer redis_cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  ASSERT_TRUE(wait_until([&] { return redis_cli.cli({"LLEN", "usage:records:" + key_id}) == "1"; }, 5s));
  auto record = parse(redis_cli.cli({"LINDEX", "usage:records:" + key_id, "0"})).as_object();
  EXPECT_TRUE(record["partial"].as_bool());
  EXPECT_TRUE(record["estimated"].as_bool());
  int64_t output = record["outputTokens"].as_int64();
  EXPECT_GT(output, true_output * 8 / 10) << deltas << " deltas";
  EXPECT_LT(output, true_output * 12 / 10);
}

// Streamed and whole answers: one-hour cache writes restated without their breakdown in
// message_delta, web searches, and a served model other than the one asked for are all billed
// as the upstream bills them.
// JSON ambiguity (issue 22): parsers differ on which of two equal keys wins, so a field the
// relay acts on may appear once; escapes are judged as what they spell. A key's model rules
// cannot be slipped past either way, and what the upstream receives is what was judged.
TEST_F(RelayTest, DuplicateOrEscapedFieldsCannotSlipPastTheModelRules) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  auto r = relay->cli({"keys", "update", key_id, "--models", "claude-sonnet-*"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string opus = "claude-opus-4-1-20250805";
  auto msg = [](const std::string& fields) {
    return "{" + fields + R"(,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})";
  };
  ASSERT_TRUE(wait_until([&] { return post("/v1/messages", msg(R"("model":")" + opus + "\"")).status == 403; }, 3s));
  reset_fake();

  struct Case {
    const char* what;
    std::string body;
    int status;
    const char* says;
  };
  const std::vector<Case> cases{
      {"the denied model first", msg(R"("model":")" + opus + R"(","model":")" + kModel + "\""), 400, "model: appears more than once"},
      {"the denied model last", msg(R"("model":")" + kModel + R"(","model":")" + opus + "\""), 400, "model: appears more than once"},
      {"an escaped second key", msg(R"("model":")" + kModel + R"(","mod\u0065l":")" + opus + "\""), 400, "more than once"},
      {"stream twice", msg(R"("model":")" + kModel + R"(","stream":false,"stream":true)"), 400, "stream: appears more than once"},
      {"max_tokens twice", R"({"model":")" + kModel + R"(","max_tokens":1,"max_tokens":100000,"messages":[]})", 400,
       "max_tokens: appears more than once"},
      {"an escaped key alone", msg(R"("m\u006fdel":")" + opus + "\""), 403, "claude-opus-4-1-20250805"},
      {"an escaped model", msg(R"("model":"claude-\u006fpus-4-1-20250805")"), 403, "claude-opus-4-1-20250805"},
      {"an escaped allowed model", msg(R"("model":"claude-s\u006fnnet-4-5-20250929")"), 200, "\"type\":\"message\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto answer = post("/v1/messages", c.body);
    EXPECT_EQ(answer.status, c.status) << answer.body;
    EXPECT_NE(answer.body.find(c.says), std::string::npos) << answer.body;
    if (c.status == 400) {
      EXPECT_EQ(type_of(answer), "invalid_request_error");
    }
  }
  // Only the allowed model reached the upstream, escaped as sent (the upstream reads it as sonnet).
  auto seen = recorded();
  ASSERT_EQ(seen.size(), 1u) << json::serialize(seen);
  EXPECT_NE(json::serialize(seen).find(R"(claude-s\\u006fnnet)"), std::string::npos) << json::serialize(seen);
}

TEST_F(RelayTest, OneHourCacheWritesWebSearchesAndTheServedModelAreBilled) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("*", R"({"inputTokens":10,"outputTokens":50,"cacheCreationInputTokens":1000,)"
                               R"("cacheCreation1hTokens":800,"restateInputInDelta":true,"webSearchRequests":2,)"
                               R"("servedModel":"claude-opus-4-5-20251101"})"));
  RedisServer redis_cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  for (bool stream : {true, false}) {
    ASSERT_EQ(post("/v1/messages", message_body(stream)).status, 200);
    std::string n = stream ? "1" : "2";
    ASSERT_TRUE(wait_until([&] { return redis_cli.cli({"LLEN", "usage:records:" + key_id}) == n; }, 5s));
    auto record = parse(redis_cli.cli({"LINDEX", "usage:records:" + key_id, "0"})).as_object();
    EXPECT_EQ(record["model"].as_string(), "claude-opus-4-5-20251101") << stream;
    EXPECT_EQ(record["ephemeral1hTokens"].as_int64(), 800) << stream;
    EXPECT_EQ(record["ephemeral5mTokens"].as_int64(), 200) << stream;
    EXPECT_EQ(record["webSearchRequests"].as_int64(), 2) << stream;
    // opus 4.5: 10 x $5 + 50 x $25 + 200 x $6.25 + 800 x $10 (per MTok) + 2 searches x $0.01
    EXPECT_EQ(record["costMicro"].as_int64(), 50 + 1250 + 1250 + 8000 + 20000) << stream;
    EXPECT_FALSE(record.contains("pricedByFallback"));
  }
}

// HTTP/1.0 has no chunked encoding: the stream comes as it is and ends with the connection.
TEST_F(RelayTest, Http10ClientsGetAStreamWithoutChunks) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  std::string body = message_body(true);
  std::string answer = raw_exchange(relay->port(), "POST /v1/messages HTTP/1.0\r\nHost: x\r\nx-api-key: " + key +
                                                       "\r\ncontent-type: application/json\r\ncontent-length: " +
                                                       std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_NE(answer.find(" 200 "), std::string::npos) << answer.substr(0, 300);
  EXPECT_EQ(answer.find("chunked"), std::string::npos) << answer.substr(0, 300);
  auto head_end = answer.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  EXPECT_TRUE(answer.substr(head_end + 4).starts_with("event: message_start")) << answer.substr(0, 400);
  EXPECT_NE(answer.find("event: message_stop"), std::string::npos);
}

// A half-close (SHUT_WR after the request) is not a hang-up: the client gets its whole answer,
// streamed or not, even when the upstream takes long enough for the client watch to arm.
TEST_F(RelayTest, AHalfClosedClientGetsItsWholeAnswer) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("*", R"({"latencyMs":300,"dripMs":20,"deltas":10})"));
  for (bool stream : {false, true}) {
    std::string body = message_body(stream);
    RawConnection c(relay->port());
    ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-api-key: " + key +
                       "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body));
    c.shutdown_write();
    std::string got;
    wait_until([&] {
      got += c.receive(100ms);
      return got.find(stream ? "message_stop" : "\"usage\"") != std::string::npos;
    }, 10s);
    EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << stream << " " << got.substr(0, 300);
    EXPECT_NE(got.find(stream ? "event: message_stop" : "\"end_turn\""), std::string::npos) << stream << got;
  }
  for (const auto& r : recorded()) EXPECT_EQ(r.as_object().at("outcome").as_string(), "complete");
}

// A model without an exact price entry is priced by its family, flagged on its record, and
// listed by `crs pricing check` (exit 1) until the table has it.
TEST_F(RelayTest, ModelsPricedByFallbackAreFlaggedAndListed) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  auto clean = relay->cli({"pricing", "check", "--json"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  ASSERT_TRUE(fake.script("*", R"({"servedModel":"claude-sonnet-9-20300101"})"));
  ASSERT_EQ(post("/v1/messages", message_body(false)).status, 200);
  RedisServer redis_cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  ASSERT_TRUE(wait_until([&] { return redis_cli.cli({"LLEN", "usage:records:" + key_id}) == "1"; }, 5s));
  auto record = parse(redis_cli.cli({"LINDEX", "usage:records:" + key_id, "0"})).as_object();
  EXPECT_TRUE(record["pricedByFallback"].as_bool());
  auto check = relay->cli({"pricing", "check", "--json"});
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  EXPECT_NE(check.out.find("claude-sonnet-9-20300101"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("family:sonnet"), std::string::npos) << check.out;
  EXPECT_EQ(check.out.find(kModel), std::string::npos) << "a priced model is not listed";
}

// SIGTERM with a grace period shorter than a stream: at its end the stream gets an error event
// (not a silent cut mid-delta), its slot is freed, its partial usage written, and the relay
// exits 0.
TEST_F(RelayTest, StreamsOutlivingTheGracePeriodEndCleanly) {
  start("[server]\ngracePeriod = 1\n");
  add_account("a", "sk-ant-api03-account-a-000000");
  auto created = relay->cli({"keys", "create", "--name", "limited", "--concurrency", "5", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string limited(parse(created.out).as_object()["key"].as_string());
  std::string limited_id(parse(created.out).as_object()["id"].as_string());
  ASSERT_TRUE(fake.script("*", R"({"deltas":100,"dripMs":100,"inputTokens":100})"));
  std::string body = message_body(true);
  RawConnection c(relay->port());
  ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + limited +
                     "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) +
                     "\r\n\r\n" + body));
  std::string got;
  ASSERT_TRUE(wait_until([&] {
    got += c.receive(50ms);
    return got.find("content_block_delta") != std::string::npos;
  }, 5s));
  relay->process().send_signal(SIGTERM);
  ASSERT_TRUE(wait_until([&] {
    got += c.receive(100ms);
    return got.find("event: error") != std::string::npos;
  }, 10s)) << got.substr(got.size() > 500 ? got.size() - 500 : 0);
  EXPECT_NE(got.find("shutting down"), std::string::npos);
  EXPECT_EQ(got.find("message_stop"), std::string::npos);
  auto code = relay->process().wait_for(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << relay->log();

  ASSERT_TRUE(relay->start()) << relay->log();
  RedisServer redis_cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  EXPECT_EQ(redis_cli.cli({"ZCARD", "limit:concurrency:" + limited_id}), "0") << "the slot is still held";
  ASSERT_TRUE(wait_until([&] { return redis_cli.cli({"LLEN", "usage:records:" + limited_id}) == "1"; }, 10s));
  auto record = parse(redis_cli.cli({"LINDEX", "usage:records:" + limited_id, "0"})).as_object();
  EXPECT_TRUE(record["partial"].as_bool());
  EXPECT_EQ(record["inputTokens"].as_int64(), 100);
  EXPECT_GT(record["outputTokens"].as_int64(), 1);
}

// SIGTERM under load, again and again: always a clean exit (one run in 49 used to end in a
// segfault after "stopped").
TEST_F(RelayTest, RepeatedSigtermUnderLoadExitsCleanly) {
  start("[server]\ngracePeriod = 1\n");
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("*", R"({"deltas":20,"dripMs":30})"));
  for (int round = 0; round < 6; ++round) {
    if (round) {
      ASSERT_TRUE(relay->start()) << relay->log();
    }
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 8; ++i)
      clients.emplace_back([&, i] {
        while (!stop) {
          if (post("/v1/messages", message_body(i % 2 == 0)).status != 0) ++answered;
        }
      });
    wait_until([&] { return answered.load() >= 8; }, 5s);
    relay->process().send_signal(SIGTERM);
    auto code = relay->process().wait_for(15s);
    stop = true;
    for (auto& t : clients) t.join();
    ASSERT_TRUE(code.has_value()) << "round " << round;
    ASSERT_EQ(*code, 0) << "round " << round << "\n" << relay->log();
  }
}

// Before any byte of the answer: the client watch (armed once a request has waited ~20 ms)
// notices the hang-up and closes the upstream connection.
TEST_F(RelayTest, ClientLeavingBeforeTheAnswerClosesTheUpstream) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000", R"({"latencyMs":10000})"));
  for (bool stream : {false, true}) {
    {
      RawConnection c(relay->port());
      std::string body = message_body(stream);
      ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\n\r\n" + body));
      ASSERT_TRUE(wait_until([&] { return parse(fake.stats_json()).as_object()["inFlight"].as_int64() == 1; }, 2s));
      std::this_thread::sleep_for(100ms);  // longer than the watch's arming delay
    }  // the client goes away while the upstream still thinks
    auto gone = std::chrono::steady_clock::now();
    EXPECT_TRUE(wait_until([&] { return parse(fake.stats_json()).as_object()["inFlight"].as_int64() == 0; }, 1s))
        << "stream " << stream << ": the upstream connection must be closed within 1 s";
    EXPECT_LT(std::chrono::steady_clock::now() - gone, 1s);
  }
}

// The body of a chunked HTTP/1.1 answer (everything after the head).
std::string dechunk(const std::string& raw) {
  std::string out;
  size_t at = raw.find("\r\n\r\n");
  if (at == std::string::npos) return out;
  at += 4;
  while (at < raw.size()) {
    size_t line_end = raw.find("\r\n", at);
    if (line_end == std::string::npos) break;
    size_t size = std::stoul(raw.substr(at, line_end - at), nullptr, 16);
    if (size == 0 || line_end + 2 + size > raw.size()) break;
    out += raw.substr(line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return out;
}

// Writes to the client are tried at once without a timer (http/exchange.cpp); a client that
// reads slowly makes them wait, and gets every byte in order. One that stops reading is
// dropped after server.writeTimeout, and its upstream request is closed.
TEST_F(RelayTest, SlowReadersGetEveryByteAndStalledOnesAreDropped) {
  start("[server]\nwriteTimeout = 2\n");
  add_account("a", "sk-ant-api03-account-a-000000");
  // ~30 MB of events: more than the socket buffers between the fake, the relay and the
  // client hold (up to ~20 MB on loopback), so a client that stops reading stops the relay.
  constexpr int kDeltas = 100000;
  ASSERT_TRUE(fake.script("sk-ant-api03-account-a-000000",
                          R"({"deltas":)" + std::to_string(kDeltas) + R"(,"text":")" + std::string(200, 'w') + "\"}"));
  std::string body = message_body(true);
  std::string request = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
  {
    RawConnection slow(relay->port());
    ASSERT_TRUE(slow.send(request));
    std::this_thread::sleep_for(1500ms);  // nothing read yet, within the write timeout
    std::string raw;
    wait_until([&] {
      raw += slow.receive(50ms);
      return raw.find("\r\n0\r\n\r\n") != std::string::npos;
    }, 30s);
    std::string events = dechunk(raw);
    size_t deltas = 0;
    for (size_t at = events.find("event: content_block_delta"); at != std::string::npos;
         at = events.find("event: content_block_delta", at + 1))
      ++deltas;
    EXPECT_EQ(deltas, static_cast<size_t>(kDeltas));
    EXPECT_NE(events.find("event: message_stop"), std::string::npos);
    EXPECT_NE(events.find("w99999 "), std::string::npos);
  }
  {
    RawConnection stalled(relay->port());
    ASSERT_TRUE(stalled.send(request));
    // The relay's writes fill the socket and wait 2 s; then the client is dropped and the
    // upstream request closed. Nothing is read until then (a read would make room and let
    // the relay go on): the fake upstream tells when its request was closed.
    EXPECT_TRUE(wait_until([&] {
      auto last = recorded().back().as_object();
      return last.contains("outcome") && last["outcome"].as_string() == "client_gone";
    }, 30s)) << json::serialize(recorded().back().as_object()["outcome"]);
    // The answer ends without its last chunk, and the connection is closed.
    std::string raw;
    wait_until([&] {
      std::string more = stalled.receive(200ms);
      raw += more;
      return more.empty();
    }, 30s);
    EXPECT_TRUE(stalled.closed_by_peer(5s));
    EXPECT_EQ(raw.find("\r\n0\r\n\r\n"), std::string::npos);
    EXPECT_EQ(dechunk(raw).find("event: message_stop"), std::string::npos);
  }
  EXPECT_EQ(post("/v1/messages", message_body(false)).status, 200);
}

TEST_F(RelayTest, CountTokensAndModels) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  auto c = post("/api/v1/messages/count_tokens?beta=true", R"({"model":"m","messages":[{"role":"user","content":"x"}]})",
                {{"x-fake-behavior", "ignored by the relay"}});
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_TRUE(parse(c.body).as_object().contains("input_tokens"));
  auto m = http_request(relay->port(), "GET", "/api/v1/models", "", {{"x-api-key", key}});
  ASSERT_EQ(m.status, 200);
  auto list = parse(m.body).as_object();
  EXPECT_FALSE(list["data"].as_array().empty());
  EXPECT_EQ(list["data"].as_array()[0].as_object()["type"].as_string(), "model");
  EXPECT_EQ(http_request(relay->port(), "GET", "/api/v1/models").status, 401);
  EXPECT_EQ(http_request(relay->port(), "POST", "/api/api/event_logging/batch", "{}").status, 200);
}

TEST_F(RelayTest, UsageTotalsEqualWhatTheUpstreamEmitted) {
  start();
  add_account("a", "sk-ant-api03-account-a-000000");
  reset_fake();
  fake.script("sk-ant-api03-account-a-000000", R"({"cacheReadInputTokens":100,"cacheCreationInputTokens":40})", 5);
  fake.script("sk-ant-api03-account-a-000000", R"({"deltas":7})", 4);
  int sent = 0;
  for (int i = 0; i < 24; ++i) {
    bool stream = i % 2 == 0;
    auto r = post("/v1/messages", message_body(stream, "request number " + std::to_string(i)));
    ASSERT_EQ(r.status, 200) << r.body;
    ++sent;
  }
  // What the fake emitted, from its own record.
  int64_t in = 0, out = 0, cache_read = 0, cache_create = 0, requests = 0;
  for (const auto& req : recorded()) {
    const auto& o = req.as_object();
    if (o.at("path").as_string() != "/v1/messages") continue;
    const auto& u = o.at("usage").as_object();
    in += u.at("input_tokens").as_int64();
    out += u.at("output_tokens").as_int64();
    cache_read += u.at("cache_read_input_tokens").as_int64();
    cache_create += u.at("cache_creation_input_tokens").as_int64();
    ++requests;
  }
  ASSERT_EQ(requests, sent);
  RedisServer redis_cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  // An entry that is not an event is dropped without stopping the folding of the others.
  redis_cli.cli({"XADD", "usage:events", "*", "something", "else"});
  auto field = [&](const std::string& name) {
    std::string v = redis_cli.cli({"HGET", "usage:" + key_id, name});
    return v.empty() ? 0 : std::stoll(v);
  };
  ASSERT_TRUE(wait_until([&] { return field("totalRequests") == sent; }, 10s)) << field("totalRequests");
  EXPECT_EQ(field("totalInputTokens"), in);
  EXPECT_EQ(field("totalOutputTokens"), out);
  EXPECT_EQ(field("totalCacheReadTokens"), cache_read);
  EXPECT_EQ(field("totalCacheCreateTokens"), cache_create);
  // claude-sonnet-4-5: $3 in, $15 out, $3.75 cache write (5m), $0.30 cache read per million tokens.
  int64_t expected_micro = in * 3 + out * 15 + cache_read * 3 / 10 + cache_create * 375 / 100;
  EXPECT_EQ(field("totalCostMicro"), expected_micro);
  // Per-model daily aggregate and the request records exist too.
  EXPECT_EQ(std::stoll(redis_cli.cli({"LLEN", "usage:records:" + key_id})), sent);
  // Folded and removed; the odd entry may be added after the last fold, so wait for the next.
  EXPECT_TRUE(wait_until([&] { return redis_cli.cli({"XLEN", "usage:events"}) == "0"; }, 10s));
  EXPECT_TRUE(wait_until([&] { return redis_cli.cli({"XLEN", "usage:batches"}) == "0"; }, 10s));
  // The CLI shows the same totals.
  auto shown = relay->cli({"usage", "--key", key_id, "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  auto total = parse(shown.out).as_object()["total"].as_object();
  EXPECT_EQ(total["requests"].as_int64(), sent);
  EXPECT_EQ(total["inputTokens"].as_int64(), in);
  EXPECT_EQ(total["costMicroUsd"].as_int64(), expected_micro);
  EXPECT_EQ(parse(shown.out).as_object()["today"].as_object()["requests"].as_int64(), sent);
  EXPECT_EQ(relay->cli({"usage"}).exit_code, 1);
}

TEST_F(RelayTest, ThroughSocks5AndHttpConnectProxiesWithCredentials) {
  start("[relay]\nmaxAttempts = 1\n");
  TestProxy proxy(dir, "proxy-user", "p@ss word");
  ASSERT_TRUE(proxy.ready());
  std::string port = proxy.port();
  std::string creds = "proxy-user:p%40ss%20word@127.0.0.1:" + port;

  std::string socks = add_account("via-socks", "sk-ant-api03-via-socks-0000", 10, "socks5://" + creds);
  auto r1 = post("/v1/messages", message_body(true));
  EXPECT_EQ(r1.status, 200) << r1.body;
  EXPECT_TRUE(proxy.tunneled("socks5", fake.port())) << proxy.log();
  ASSERT_EQ(relay->cli({"accounts", "disable", socks}).exit_code, 0);

  std::string http = add_account("via-http", "sk-ant-api03-via-http-00000", 10, "http://" + creds);
  auto r2 = post("/v1/messages", message_body(false));
  EXPECT_EQ(r2.status, 200) << r2.body;
  EXPECT_TRUE(proxy.tunneled("http", fake.port())) << proxy.log();
  ASSERT_EQ(relay->cli({"accounts", "disable", http}).exit_code, 0);

  // Wrong proxy password: the account's last error is the proxy's refusal, and its circuit counts it.
  std::string bad = add_account("bad-proxy", "sk-ant-api03-bad-proxy-0000", 10,
                                "socks5://proxy-user:wrong@127.0.0.1:" + port);
  // (add_account's own probe request already met the refusal: 502.)
  EXPECT_EQ(post("/v1/messages", message_body(false)).status, 502);
  EXPECT_TRUE(wait_until([&] { return last_error(bad).find("SOCKS5 authentication failed") != std::string::npos; }))
      << last_error(bad);
  EXPECT_EQ(account(bad)["health"].as_object()["circuit"].as_object()["failures"].as_int64(), 2);
  // The proxy password is never shown.
  auto listing = relay->cli({"accounts", "list", "--json"});
  EXPECT_EQ(listing.out.find("p%40ss"), std::string::npos);
  EXPECT_EQ(listing.out.find("p@ss"), std::string::npos);
  EXPECT_EQ(listing.out.find("wrong"), std::string::npos);
}

// A real TLS server (socat with a certificate from a test CA) in front of the fake upstream.
TEST_F(RelayTest, TlsUpstreamIsVerified) {
  auto run = [&](std::vector<std::string> argv) {
    auto r = run_command(argv, {}, dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
  };
  run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days",
       "2", "-subj", "/CN=crs test CA"});
  run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
       "/CN=localhost"});
  dir.write("ext.cnf", "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  run({"openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
       "server.pem", "-days", "2", "-extfile", "ext.cnf"});
  dir.write("config/config.toml", "[relay]\nmaxAttempts = 1\ncaFile = \"" + dir.file("ca.pem") + "\"\n");
  start();
  int tls_port = free_port();
  SpawnOptions o;
  o.argv = {"socat", "OPENSSL-LISTEN:" + std::to_string(tls_port) + ",bind=127.0.0.1,reuseaddr,fork,cert=" +
                         dir.file("server.pem") + ",key=" + dir.file("server.key") + ",verify=0",
            "TCP:127.0.0.1:" + std::to_string(fake.port())};
  o.stdout_path = dir.file("socat.log");
  o.stderr_path = "=stdout";
  auto socat = Subprocess::spawn(o);
  ASSERT_TRUE(socat.ok()) << socat.error().message;
  ASSERT_TRUE(wait_until([&] { return RawConnection(tls_port).ok(); }));

  auto add = [&](const std::string& name, const std::string& url) {
    auto r = relay->cli({"accounts", "add", "--type", "claude-console", "--name", name, "--base-url", url,
                         "--api-key", "sk-ant-api03-tls-account-000", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::this_thread::sleep_for(300ms);
    return std::string(parse(r.out).as_object()["id"].as_string());
  };
  std::string good = add("tls", "https://localhost:" + std::to_string(tls_port));
  auto ok = post("/v1/messages", message_body(true));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("message_stop"), std::string::npos);
  auto ok2 = post("/v1/messages", message_body(false));  // a pooled TLS connection is reused
  EXPECT_EQ(ok2.status, 200) << ok2.body;
  ASSERT_EQ(relay->cli({"accounts", "disable", good}).exit_code, 0);

  // The certificate names "localhost", not 127.0.0.1: verification must fail.
  std::string mismatch = add("tls-ip", "https://127.0.0.1:" + std::to_string(tls_port));
  auto refused = post("/v1/messages", message_body(false));
  EXPECT_EQ(refused.status, 502) << refused.body;
  EXPECT_NE(refused.body.find("TLS handshake"), std::string::npos) << refused.body;
  EXPECT_TRUE(wait_until([&] { return last_error(mismatch).find("certificate verify failed") != std::string::npos; }))
      << last_error(mismatch);
}

TEST_F(RelayTest, NoSecretInAnyLog) {
  start();
  add_account("a", "sk-ant-api03-secret-upstream-key-123456");
  ASSERT_TRUE(fake.script("sk-ant-api03-secret-upstream-key-123456", R"({"status":429})", 1));
  post("/v1/messages", message_body(false));
  post("/v1/messages", message_body(true));
  post("/v1/messages", message_body(false), {{"x-api-key", "cr_wrongwrongwrongwrongwrong"}});
  relay->stop();
  std::string logs = relay->log() + read_file(dir.file("logs/crs.log")) + read_file(dir.file("logs/load-balancing.log"));
  EXPECT_FALSE(logs.empty());
  EXPECT_EQ(logs.find(key), std::string::npos) << "relay key in a log";
  EXPECT_EQ(logs.find("sk-ant-api03-secret-upstream-key-123456"), std::string::npos) << "upstream key in a log";
  std::string secrets = read_file(dir.file("data/secrets.env"));
  auto pos = secrets.find("ENCRYPTION_KEY=");
  EXPECT_EQ(logs.find(secrets.substr(pos + 15, 32)), std::string::npos) << "ENCRYPTION_KEY in a log";
}

}  // namespace
}  // namespace crs::test
