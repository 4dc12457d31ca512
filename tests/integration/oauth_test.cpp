// Claude OAuth accounts: Bearer auth with the OAuth beta, refresh before expiry by exactly one
// instance, refresh on 401, invalid_grant, and the PKCE sign-in commands.
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "accounts/oauth.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

const std::string kBody =
    R"({"model":"claude-sonnet-4-5-20250929","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  return ec ? json::value() : v;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Two relay instances on one external redis-server, sharing ENCRYPTION_KEY.
class OauthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
    for (auto* d : {&dir_a, &dir_b}) {
      relays.push_back(std::make_unique<RelayProcess>(
          *d, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                       "ENCRYPTION_KEY=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "LOG_LEVEL=debug",
                                       "CLAUDE_OAUTH_TOKEN_URL=" + fake.url() + "/v1/oauth/token",
                                       "CLAUDE_API_BASE_URL=" + fake.url()}));
      ASSERT_TRUE(relays.back()->start()) << relays.back()->log();
    }
    auto created = relays[0]->cli({"keys", "create", "--name", "k", "--json"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    key = std::string(parse(created.out).as_object()["key"].as_string());
  }

  std::string add_oauth(const std::string& access, const std::string& refresh, int64_t expires_at) {
    auto r = relays[0]->cli({"accounts", "add", "--type", "claude-oauth", "--name", "max", "--access-token", access,
                             "--refresh-token", refresh, "--expires-at", std::to_string(expires_at), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    // Both instances load it through the invalidation channel; a request without any account is a 503.
    std::this_thread::sleep_for(300ms);
    return std::string(parse(r.out).as_object()["id"].as_string());
  }

  HttpResponse post(int relay, const std::string& body = kBody) {
    return http_request(relays[relay]->port(), "POST", "/api/v1/messages", body, {{"x-api-key", key}});
  }

  std::vector<json::object> recorded(const std::string& path) {
    std::vector<json::object> out;
    json::value all = parse(fake.requests_json());
    for (const auto& r : all.as_object()["requests"].as_array())
      if (r.as_object().at("path").as_string() == path) out.push_back(r.as_object());
    return out;
  }

  TempDir dir_a, dir_b, shared;
  RedisServer redis{shared.file("redis")};
  FakeUpstreamProcess fake{shared};
  std::vector<std::unique_ptr<RelayProcess>> relays;
  std::string key;
};

TEST_F(OauthTest, BearerTokenAndOauthBeta) {
  add_oauth("sk-ant-oat01-current-token", "sk-ant-ort01-refresh", now_ms() + 3600 * 1000);
  ASSERT_TRUE(wait_until([&] { return post(0).status == 200; }, 5s));
  auto messages = recorded("/v1/messages");
  ASSERT_FALSE(messages.empty());
  const auto& h = messages.back().at("headers").as_object();
  EXPECT_EQ(h.at("authorization").as_string(), "Bearer sk-ant-oat01-current-token");
  EXPECT_FALSE(h.contains("x-api-key"));
  EXPECT_EQ(h.at("anthropic-beta").as_string(), "oauth-2025-04-20");
  EXPECT_TRUE(recorded("/v1/oauth/token").empty()) << "a token far from expiry is not refreshed";
}

TEST_F(OauthTest, NearExpiryRefreshedOnceAcrossInstances) {
  add_oauth("sk-ant-oat01-old-token", "sk-ant-ort01-original", now_ms() + 20 * 1000);  // inside the 60 s margin
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 12; ++i)
    clients.emplace_back([&, i] {
      if (post(i % 2).status == 200) ++ok;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 12);
  auto refreshes = recorded("/v1/oauth/token");
  ASSERT_EQ(refreshes.size(), 1u) << "exactly one refresh across both instances";
  EXPECT_NE(refreshes[0].at("body").as_string().find("sk-ant-ort01-original"), std::string::npos);
  for (const auto& m : recorded("/v1/messages"))
    EXPECT_EQ(m.at("headers").as_object().at("authorization").as_string(), "Bearer sk-ant-oat01-fake-access-1");
  // The new tokens are stored (encrypted) for every instance.
  auto listing = relays[1]->cli({"accounts", "list", "--json"});
  auto a = parse(listing.out).as_array().at(0).as_object();
  EXPECT_GT(a["credentials"].as_object()["expiresAt"].as_int64(), now_ms() + 3600 * 1000);
  EXPECT_EQ(listing.out.find("sk-ant-oat01-fake-access-1"), std::string::npos) << "token shown unmasked";
}

TEST_F(OauthTest, UnauthorizedAnswerRefreshesAndRetries) {
  add_oauth("sk-ant-oat01-revoked-token", "sk-ant-ort01-still-good", now_ms() + 3600 * 1000);
  ASSERT_TRUE(fake.script("sk-ant-oat01-revoked-token", R"({"status":401})"));
  auto r = post(0);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(recorded("/v1/oauth/token").size(), 1u);
}

TEST_F(OauthTest, InvalidGrantMarksTheAccountUnauthorized) {
  std::string id = add_oauth("sk-ant-oat01-expired", "sk-ant-ort01-revoked", now_ms() - 1000);
  ASSERT_TRUE(fake.script("oauth-token-endpoint", R"({"status":400})"));
  auto r = post(0);
  EXPECT_EQ(r.status, 502) << r.body;
  auto shown = parse(relays[0]->cli({"accounts", "show", id, "--json"}).out).as_object();
  EXPECT_EQ(shown["status"].as_string(), "unauthorized");
  EXPECT_NE(std::string(shown["statusReason"].as_string()).find("invalid_grant"), std::string::npos);
  EXPECT_TRUE(recorded("/v1/messages").empty()) << "an expired token must not be sent";
}

// The refresh lock outlives the token call (it was as long as the call's timeout, so it could
// lapse mid-call). If it lapses anyway and another instance refreshes first, the invalid_grant
// that the now-used refresh token draws means "take the other instance's tokens", not a dead
// account.
TEST_F(OauthTest, ARefreshLockOutlivesTheCallAndALostRaceReloadsTheTokens) {
  std::string id = add_oauth("sk-ant-oat01-expired", "sk-ant-ort01-rotating", now_ms() - 1000);
  ASSERT_TRUE(fake.script("oauth-token-endpoint", R"({"latencyMs":2000})", 1));
  std::string lock = "oauth:refresh_lock:" + id;
  HttpResponse first;
  std::thread slow([&] { first = post(0); });
  ASSERT_TRUE(wait_until([&] { return redis.cli({"EXISTS", lock}) == "1"; }, 5s));
  // Longer than the call may take (relay.connectTimeout + 20 s = 30 s by default).
  EXPECT_GT(std::stoll(redis.cli({"PTTL", lock})), 30000);
  redis.cli({"DEL", lock});  // as if it had lapsed: the other instance refreshes meanwhile
  auto second = post(1);
  EXPECT_EQ(second.status, 200) << second.body;
  slow.join();
  EXPECT_EQ(first.status, 200) << first.body;
  auto shown = parse(relays[0]->cli({"accounts", "show", id, "--json"}).out).as_object();
  EXPECT_EQ(shown["status"].as_string(), "active") << shown["statusReason"].as_string();
  EXPECT_EQ(recorded("/v1/oauth/token").size(), 2u);
  EXPECT_EQ(post(0).status, 200);
}

TEST_F(OauthTest, SignInWithPkce) {
  auto started = relays[0]->cli({"accounts", "oauth-url", "--json"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  auto o = parse(started.out).as_object();
  std::string url(o["url"].as_string());
  std::string session(o["session"].as_string());
  EXPECT_TRUE(url.starts_with("https://claude.ai/oauth/authorize?code=true&client_id=9d1c250a"));
  EXPECT_NE(url.find("code_challenge_method=S256"), std::string::npos);
  auto param = [&](const std::string& name) {
    auto p = url.find("&" + name + "=");
    auto e = url.find('&', p + 1);
    return url.substr(p + name.size() + 2, e == std::string::npos ? std::string::npos : e - p - name.size() - 2);
  };
  std::string state = param("state");
  std::string challenge = param("code_challenge");

  auto wrong_state = relays[0]->cli({"accounts", "oauth-exchange", "--session", session, "--code",
                                     "AbC123def456GhI789#not-the-state", "--name", "max"});
  EXPECT_EQ(wrong_state.exit_code, 1);
  EXPECT_NE(wrong_state.err.find("state"), std::string::npos);

  auto done = relays[0]->cli({"accounts", "oauth-exchange", "--session", session, "--code",
                              "AbC123def456GhI789#" + state, "--name", "max", "--json"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  auto account = parse(done.out).as_object();
  EXPECT_EQ(account["type"].as_string(), "claude-oauth");
  EXPECT_EQ(account["baseUrl"].as_string(), fake.url());
  auto exchange = recorded("/v1/oauth/token");
  ASSERT_EQ(exchange.size(), 1u);
  auto sent = parse(std::string(exchange[0].at("body").as_string())).as_object();
  EXPECT_EQ(sent["grant_type"].as_string(), "authorization_code");
  EXPECT_EQ(sent["code"].as_string(), "AbC123def456GhI789");
  EXPECT_EQ(sent["state"].as_string(), state);
  // The verifier we kept matches the challenge we published.
  EXPECT_EQ(accounts::oauth::challenge_for(std::string(sent["code_verifier"].as_string())), challenge);
  // Single use: the session is gone.
  EXPECT_EQ(relays[0]->cli({"accounts", "oauth-exchange", "--session", session, "--code",
                            "AbC123def456GhI789#" + state, "--name", "again"})
                .exit_code,
            1);
  EXPECT_TRUE(wait_until([&] { return post(1).status == 200; }, 5s));
}

// The console's sign-in: started on one instance, finished on the other (the PKCE session is
// in Redis); a mistake in the account's fields is told before the single-use code is spent;
// the tokens never come back to the browser.
TEST_F(OauthTest, ConsoleSignInAddsTheAccountWithoutShowingItsTokens) {
  auto login = [&](int relay) {
    // The first instance made the login; the second found it in Redis.
    auto init = parse(read_file(dir_a.file("data/init.json"))).as_object();
    json::object body{{"username", init["adminUsername"]}, {"password", init["adminPassword"]}};
    auto r = http_request(relays[relay]->port(), "POST", "/web/auth/login", json::serialize(body));
    auto answer = parse(r.body);
    EXPECT_TRUE(answer.is_object() && answer.as_object().contains("token")) << r.body;
    return answer.is_object() && answer.as_object().contains("token")
               ? std::string(answer.as_object()["token"].as_string())
               : std::string();
  };
  auto admin = [&](int relay, const std::string& token, const std::string& path, const json::object& body) {
    return http_request(relays[relay]->port(), "POST", path, json::serialize(body),
                        {{"authorization", "Bearer " + token}, {"content-type", "application/json"}});
  };
  std::string token = login(0), other = login(1);  // each instance signs its own sessions
  auto started = admin(0, token, "/admin/claude-accounts/generate-auth-url", json::object{});
  ASSERT_EQ(started.status, 200) << started.body;
  auto data = parse(started.body).as_object()["data"].as_object();
  std::string url(data["authUrl"].as_string());
  std::string session(data["sessionId"].as_string());
  EXPECT_TRUE(url.starts_with("https://claude.ai/oauth/authorize?")) << url;
  std::string state = url.substr(url.find("&state=") + 7);
  state = state.substr(0, state.find('&'));

  json::object bad_field{{"sessionId", session}, {"authorizationCode", "AbC123def456GhI789#" + state}, {"name", "max"},
                         {"priority", -5}};
  auto refused = admin(1, other, "/admin/claude-accounts/exchange-code", bad_field);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("priority"), std::string::npos) << refused.body;
  EXPECT_TRUE(recorded("/v1/oauth/token").empty()) << "the code was spent on a refused request";
  json::object wrong_state{{"sessionId", session}, {"authorizationCode", "AbC123def456GhI789#other"}, {"name", "max"}};
  EXPECT_EQ(admin(1, other, "/admin/claude-accounts/exchange-code", wrong_state).status, 400);

  // The whole callback address, pasted as the console offers.
  json::object good{{"sessionId", session},
                    {"callbackUrl", "https://console.anthropic.com/oauth/code/callback?code=AbC123def456GhI789&state=" + state},
                    {"name", "max-console"},
                    {"priority", 10}};
  auto done = admin(1, other, "/admin/claude-accounts/exchange-code", good);
  ASSERT_EQ(done.status, 200) << done.body;
  auto account = parse(done.body).as_object()["data"].as_object();
  EXPECT_EQ(account["type"].as_string(), "claude-oauth");
  EXPECT_EQ(account["name"].as_string(), "max-console");
  EXPECT_EQ(account["priority"].as_int64(), 10);
  EXPECT_EQ(done.body.find("sk-ant-oat01-fake-access"), std::string::npos) << done.body;
  EXPECT_EQ(done.body.find("sk-ant-ort01"), std::string::npos) << done.body;
  ASSERT_EQ(recorded("/v1/oauth/token").size(), 1u);
  // Spent: the same session cannot add a second account.
  good["name"] = "again";
  EXPECT_EQ(admin(0, token, "/admin/claude-accounts/exchange-code", good).status, 400);
  EXPECT_EQ(admin(0, token, "/admin/claude-accounts/exchange-code", json::object{{"sessionId", "../x"}}).status, 400);
}

TEST(OauthUnit, RfcTestVectorAndPastedCodes) {
  EXPECT_EQ(accounts::oauth::challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  auto a = accounts::oauth::parse_pasted_code("  AbC123def456GhI789#st4te \n");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->code, "AbC123def456GhI789");
  EXPECT_EQ(a->state, "st4te");
  auto b = accounts::oauth::parse_pasted_code(
      "https://platform.claude.com/oauth/code/callback?code=AbC123def456GhI789&state=s2");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->code, "AbC123def456GhI789");
  EXPECT_EQ(b->state, "s2");
  EXPECT_FALSE(accounts::oauth::parse_pasted_code("short").ok());
  EXPECT_FALSE(accounts::oauth::parse_pasted_code("has spaces inside!#x").ok());
  // Found by fuzzing: an empty query before a fragment crashed the relay (Boost.URL 1.81).
  EXPECT_FALSE(accounts::oauth::parse_pasted_code("https://console.anthropic.com/callback?#code").ok());
  auto c = accounts::oauth::parse_pasted_code("https://x/cb?code=AbC123def456GhI789&state=a%20b#frag");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, "a b");
}

}  // namespace
}  // namespace crs::test
