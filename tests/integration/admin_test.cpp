// The admin login, the admin API and key holders' stats, against the real binary.
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "admin/session_token.hpp"
#include "core/crypto.hpp"
#include "support/json.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kJwtSecret = "admin-test-jwt-secret-0123456789abcdef0123456789";
const std::string kAccountKey = "sk-ant-api03-admin-test-account-00";
const std::string kModel = "claude-sonnet-4-5-20250929";

std::string message_body() {
  return R"({"model":")" + kModel + R"(","max_tokens":50,"messages":[{"role":"user","content":"hi"}]})";
}

// Today in usage.timezoneOffset (8, the default).
std::string local_day() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + std::chrono::hours(8));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char day[16];
  std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
  return day;
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir.write("config/config.toml", "[admin]\nloginFailuresPerIp = 5\nloginFailuresPerUser = 3\n");
    ASSERT_TRUE(fake.start());
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{"JWT_SECRET=" + kJwtSecret});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto init = parse_object(read_file(dir.file("data/init.json")));
    ASSERT_TRUE(init.contains("adminPassword")) << read_file(dir.file("data/init.json"));
    username = std::string(init["adminUsername"].as_string());
    password = std::string(init["adminPassword"].as_string());
  }

  HttpResponse login(const std::string& user, const std::string& pass) {
    json::object body{{"username", user}, {"password", pass}};
    return http_request(relay->port(), "POST", "/web/auth/login", json::serialize(body),
                        {{"content-type", "application/json"}});
  }
  std::string token() {
    auto r = login(username, password);
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse_object(r.body);
    return o.contains("token") ? std::string(o["token"].as_string()) : std::string();
  }
  HttpResponse admin(const std::string& method, const std::string& target, const std::string& tok,
                     const std::string& body = "") {
    return http_request(relay->port(), method, target, body,
                        {{"authorization", "Bearer " + tok}, {"content-type", "application/json"}});
  }
  HttpResponse stats(const std::string& path, const json::object& body) {
    return http_request(relay->port(), "POST", "/apiStats/api/" + path, json::serialize(body),
                        {{"content-type", "application/json"}});
  }
  void add_account() {
    auto r = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                         "--api-key", kAccountKey, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  HttpResponse relay_message(const std::string& key) {
    return http_request(relay->port(), "POST", "/v1/messages", message_body(),
                        {{"x-api-key", key}, {"content-type", "application/json"}});
  }

  TempDir dir;
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  std::string username, password;
};

TEST_F(AdminTest, FirstStartWritesAPrivateInitFileAndNeverLogsThePassword) {
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("data/init.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(username.starts_with("cr_admin_"));
  EXPECT_GE(password.size(), 20u);
  EXPECT_EQ(relay->log().find(password), std::string::npos);
  auto r = login(username, password);
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = parse_object(r.body);
  EXPECT_EQ(o["expiresIn"].as_int64(), 86400000);
  EXPECT_EQ(o["username"].as_string(), username);
  auto user = admin("GET", "/web/auth/user", std::string(o["token"].as_string()));
  EXPECT_EQ(user.status, 200) << user.body;
  EXPECT_EQ(parse_object(user.body)["user"].as_object()["username"].as_string(), username);
  EXPECT_EQ(relay->log().find(password), std::string::npos);
}

// Every route under /admin and every /web/auth route but login, taken from the relay's own
// route table: new routes are covered without touching this test.
TEST_F(AdminTest, EveryAdminRouteRefusesMissingExpiredForgedAndAlgNoneTokens) {
  std::string valid = token();
  auto table = admin("GET", "/admin/routes", valid);
  ASSERT_EQ(table.status, 200) << table.body;
  std::vector<std::pair<std::string, std::string>> routes;
  json::array listed = parse_object(table.body)["data"].as_array();
  for (const auto& r : listed) {
    std::string path(r.as_object().at("path").as_string());
    if (!(path.starts_with("/admin/") || path.starts_with("/web/auth/")) || path == "/web/auth/login") continue;
    // Params become a well-formed id that exists nowhere.
    std::string target;
    size_t i = 0;
    while (i < path.size()) {
      size_t end = path.find('/', i + 1);
      std::string seg = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
      if (seg.starts_with("/:")) {
        target += '/';
        target += crypto::uuid_v4();
      } else {
        target += seg;
      }
      if (end == std::string::npos) break;
      i = end;
    }
    routes.emplace_back(std::string(r.as_object().at("method").as_string()), target);
  }
  ASSERT_GE(routes.size(), 15u) << table.body;

  auto sign = [](int64_t iat, int64_t exp, int64_t version, const std::string& secret) {
    admin::SessionClaims c;
    c.username = "anyone";
    c.jti = crypto::random_hex(16);
    c.issued_at = iat;
    c.expires_at = exp;
    c.version = version;
    return admin::sign_session(c, secret);
  };
  int64_t now = now_seconds();
  std::string good_claims = sign(now, now + 3600, 1, kJwtSecret);
  std::string payload = good_claims.substr(good_claims.find('.') + 1,
                                           good_claims.rfind('.') - good_claims.find('.') - 1);
  std::string logged_out = token();
  ASSERT_EQ(admin("POST", "/web/auth/logout", logged_out).status, 200);
  std::map<std::string, std::string> bad{
      {"expired", sign(now - 7200, now - 3600, 1, kJwtSecret)},
      {"forged (another secret)", sign(now, now + 3600, 1, "not-the-relay-secret-0000000000000000")},
      {"alg none", crypto::base64url(R"({"alg":"none","typ":"JWT"})") + "." + payload + "."},
      {"alg none, signature kept", crypto::base64url(R"({"alg":"none","typ":"JWT"})") + "." + payload + "." +
                                       good_claims.substr(good_claims.rfind('.') + 1)},
      {"older login version", sign(now, now + 3600, 0, kJwtSecret)},
      {"logged out", logged_out},
      {"garbage", "not-a-token"},
      {"two parts", good_claims.substr(0, good_claims.rfind('.'))},
      {"four parts", good_claims + ".x"},
      {"bad base64", "!!!." + payload + "." + good_claims.substr(good_claims.rfind('.') + 1)},
      {"empty", ""},
      {"huge", std::string(16 * 1024, 'a')},
  };
  // Signed with the relay's own secret, but not claims a session has: refused all the same.
  auto signed_with_secret = [](const std::string& header, const std::string& claims) {
    std::string input = crypto::base64url(header) + "." + crypto::base64url(claims);
    return input + "." + crypto::base64url(crypto::hmac_sha256_raw(kJwtSecret, input));
  };
  std::string hs256 = R"({"alg":"HS256","typ":"JWT"})";
  // The login's current version, as a real token carries it.
  std::string real = token();
  auto real_payload = crypto::base64_decode(real.substr(real.find('.') + 1, real.rfind('.') - real.find('.') - 1));
  ASSERT_TRUE(real_payload.ok());
  auto real_claims = parse_object(*real_payload);
  std::string fresh = fmt::format(R"("iat":{},"exp":{},"ver":{})", now, now + 3600, real_claims["ver"].as_int64());
  bad["claims not JSON"] = signed_with_secret(hs256, "not json");
  bad["claims without expiry"] = signed_with_secret(hs256, fmt::format(R"({{"sub":"anyone","jti":"x","iat":{},"ver":1}})", now));
  bad["expiry as text"] =
      signed_with_secret(hs256, fmt::format(R"({{"sub":"anyone","jti":"x","iat":{},"exp":"{}","ver":1}})", now, now + 3600));
  bad["HS512 named"] = signed_with_secret(R"({"alg":"HS512","typ":"JWT"})", R"({"sub":"anyone","jti":"x",)" + fresh + "}");
  // The control: the same construction with nothing wrong is accepted past the token check
  // (a fresh jti each time: the logout route ends the session it is given).
  auto control = [&] {
    return signed_with_secret(hs256, R"({"sub":")" + username + R"(","jti":")" + crypto::random_hex(16) + R"(",)" + fresh + "}");
  };
  for (const auto& [method, target] : routes) {
    SCOPED_TRACE(method + " " + target);
    auto missing = http_request(relay->port(), method, target, "{}", {{"content-type", "application/json"}});
    EXPECT_EQ(missing.status, 401) << missing.body;
    EXPECT_EQ(parse_object(missing.body)["error"].as_string(), "Missing admin token");
    for (const auto& [name, tok] : bad) {
      auto r = admin(method, target, tok, "{}");
      EXPECT_EQ(r.status, 401) << name << ": " << r.body;
      auto via_header = http_request(relay->port(), method, target, "{}", {{"x-admin-token", tok}});
      EXPECT_EQ(via_header.status, 401) << name << " (x-admin-token): " << via_header.body;
      // The console's cookie, from the console's own page (so the origin check passes).
      auto via_cookie = http_request(relay->port(), method, target, "{}",
                                     {{"cookie", "crs_admin_session=" + tok}, {"sec-fetch-site", "same-origin"}});
      EXPECT_EQ(via_cookie.status, 401) << name << " (cookie): " << via_cookie.body;
    }
    // The same route with a valid token gets past the check: the refusals above are the token's.
    auto ok = admin(method, target, token(), "{}");
    EXPECT_NE(ok.status, 401) << ok.body;
    auto hand = admin(method, target, control(), "{}");
    EXPECT_NE(hand.status, 401) << "the hand-signed control: " << hand.body;
  }
}

TEST_F(AdminTest, WrongPasswordsAreLimitedPerAddressAndPerUser) {
  // Per user (3): the fourth attempt for this username waits, even with the right password.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login(username, "wrong-" + std::to_string(i)).status, 401);
  auto locked = login(username, password);
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_GT(std::stoi(locked.header("retry-after")), 0);
  EXPECT_EQ(parse_object(locked.body)["error"].as_string(), "Too many login attempts");
  // Per address (5): other usernames from the same address count too.
  EXPECT_EQ(login("someone-else", "x").status, 401);
  auto by_address = login("a-third-name", "x");
  EXPECT_EQ(by_address.status, 429) << by_address.body;
}

// The counts live in Redis: guesses spread over two instances add up, and the lockout holds on
// both.
TEST_F(AdminTest, WrongPasswordsCountAcrossInstances) {
  std::string secrets = read_file(dir.file("data/secrets.env"));
  auto value = [&](const std::string& name) {
    auto at = secrets.find(name + "=");
    return at == std::string::npos ? std::string() : secrets.substr(at + name.size() + 1, secrets.find('\n', at) - at - name.size() - 1);
  };
  TempDir other_dir;
  other_dir.write("config/config.toml", "[admin]\nloginFailuresPerIp = 5\nloginFailuresPerUser = 3\n");
  RelayProcess other(other_dir, {"JWT_SECRET=" + kJwtSecret, "ENCRYPTION_KEY=" + value("ENCRYPTION_KEY"),
                                 "REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(relay->embedded_redis_port()),
                                 "REDIS_PASSWORD=" + relay->embedded_redis_password()});
  ASSERT_TRUE(other.start()) << other.log();
  auto login_at = [&](int port, const std::string& pass) {
    json::object body{{"username", username}, {"password", pass}};
    return http_request(port, "POST", "/web/auth/login", json::serialize(body)).status;
  };
  EXPECT_EQ(login_at(relay->port(), "wrong-1"), 401);
  EXPECT_EQ(login_at(other.port(), "wrong-2"), 401);
  EXPECT_EQ(login_at(relay->port(), "wrong-3"), 401);
  EXPECT_EQ(login_at(other.port(), password), 429) << "the third failure was counted on the other instance";
  EXPECT_EQ(login_at(relay->port(), password), 429);
}

// Behind a reverse proxy every login comes from the proxy's address. Only a peer listed in
// server.trustedProxies may name the client; without it X-Forwarded-For is ignored.
TEST_F(AdminTest, BehindATrustedProxyAttemptsCountPerForwardedClient) {
  auto login_from = [&](const std::string& forwarded_for, const std::string& user) {
    json::object body{{"username", user}, {"password", "wrong"}};
    return http_request(relay->port(), "POST", "/web/auth/login", json::serialize(body),
                        {{"content-type", "application/json"}, {"x-forwarded-for", forwarded_for}}).status;
  };
  // Untrusted (the default): five guesses from "five addresses" are five from this peer.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login_from("198.51.100." + std::to_string(i), "guess"), 401);
  EXPECT_EQ(login_from("198.51.100.99", "guess"), 429);

  ASSERT_EQ(relay->stop(), 0);
  dir.write("config/config.toml",
            "[server]\ntrustedProxies = [\"127.0.0.0/8\", \"::1\"]\n"
            "[admin]\nloginFailuresPerIp = 5\nloginFailuresPerUser = 3\n");
  ASSERT_TRUE(relay->start()) << relay->log();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login_from("203.0.113.5", "guess"), 401);
  EXPECT_EQ(login_from("203.0.113.5", "guess"), 429);
  EXPECT_EQ(login_from("203.0.113.9", "guess"), 401) << "another client behind the proxy is not locked out";
  // A client cannot hide behind a forged first hop: the proxy's own entry (the last) counts.
  EXPECT_EQ(login_from("203.0.113.77, 203.0.113.5", "guess"), 429);
  // The right password from a fresh client behind the proxy works.
  json::object body{{"username", username}, {"password", password}};
  EXPECT_EQ(http_request(relay->port(), "POST", "/web/auth/login", json::serialize(body),
                         {{"content-type", "application/json"}, {"x-forwarded-for", "203.0.113.10"}}).status, 200);

  // A bad entry stops the relay at start with the key named.
  ASSERT_EQ(relay->stop(), 0);
  dir.write("config/config.toml", "[server]\ntrustedProxies = [\"10.0.0.0/99\"]\n");
  EXPECT_FALSE(relay->start());
  EXPECT_NE(relay->log().find("server.trustedProxies"), std::string::npos);
}

TEST_F(AdminTest, GuessesFromElsewhereCannotLockTheAdminOutOfATrustedAddress) {
  ASSERT_FALSE(token().empty());  // this address is now one the admin logged in from
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login(username, "wrong-" + std::to_string(i)).status, 401);
  EXPECT_EQ(login(username, password).status, 200) << "no username lock for a trusted address";
  // Guessed usernames leave nothing behind in Redis.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login("guess-" + std::to_string(i), "x").status, 401);
  RedisServer cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  EXPECT_EQ(cli.cli({"--scan", "--pattern", "crs:admin:login_attempts:user:*"}), "");
}

TEST_F(AdminTest, ATokenRefreshesOnceAndLogoutEndsIt) {
  std::string tok = token();
  auto first = admin("POST", "/web/auth/refresh", tok);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(admin("POST", "/web/auth/refresh", tok).status, 401) << "the old token was spent";
  std::string fresh(parse_object(first.body)["token"].as_string());
  EXPECT_EQ(admin("GET", "/web/auth/user", fresh).status, 200);
  EXPECT_EQ(admin("POST", "/web/auth/logout", fresh).status, 200);
  EXPECT_EQ(admin("GET", "/web/auth/user", fresh).status, 401);
}

TEST_F(AdminTest, PasswordChangeEndsEverySessionAndKeepsOnlyAHash) {
  std::string first = token();
  std::string second = token();
  json::object too_short{{"currentPassword", password}, {"newPassword", "short"}};
  EXPECT_EQ(admin("POST", "/web/auth/change-password", first, json::serialize(too_short)).status, 400);
  json::object wrong{{"currentPassword", "not-it"}, {"newPassword", "a-new-long-password"}};
  EXPECT_EQ(admin("POST", "/web/auth/change-password", first, json::serialize(wrong)).status, 401);
  json::object change{{"currentPassword", password}, {"newPassword", "a-new-long-password"}, {"newUsername", "boss"}};
  auto r = admin("POST", "/web/auth/change-password", first, json::serialize(change));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(admin("GET", "/web/auth/user", first).status, 401);
  EXPECT_EQ(admin("GET", "/web/auth/user", second).status, 401);
  EXPECT_EQ(login(username, password).status, 401);
  ASSERT_EQ(login("boss", "a-new-long-password").status, 200);

  std::string text = read_file(dir.file("data/init.json"));
  EXPECT_EQ(text.find(password), std::string::npos) << "no plaintext left";
  EXPECT_EQ(text.find("a-new-long-password"), std::string::npos);
  auto init = parse_object(text);
  EXPECT_EQ(init["adminUsername"].as_string(), "boss");
  EXPECT_TRUE(std::string(init["adminPasswordHash"].as_string()).starts_with("$scrypt$"));
  EXPECT_EQ(relay->log().find("a-new-long-password"), std::string::npos);
}

// Redis loses the login (and with it the logouts) while init.json still holds the first-start
// plaintext: the restored login must not take version 1 again, or every token ever issued,
// logged out or not, would work once more.
TEST_F(AdminTest, ALoginRestoredAfterRedisDataLossEndsOlderSessions) {
  std::string old_token = token();
  ASSERT_EQ(admin("POST", "/web/auth/logout", old_token).status, 200);
  ASSERT_EQ(admin("GET", "/web/auth/user", old_token).status, 401);
  RedisServer cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  ASSERT_EQ(cli.cli({"FLUSHALL"}), "OK");
  ASSERT_EQ(relay->stop(), 0);
  ASSERT_TRUE(relay->start()) << relay->log();  // restores the login from init.json
  EXPECT_EQ(admin("GET", "/web/auth/user", old_token).status, 401) << "a logged-out session came back";
  EXPECT_EQ(admin("GET", "/web/auth/user", token()).status, 200);
}

TEST_F(AdminTest, CliResetsALostPassword) {
  std::string before = token();
  for (int i = 0; i < 3; ++i) login(username, "guess");  // the username is locked now
  auto r = relay->cli({"admin", "reset-password", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto o = parse_object(r.out);
  EXPECT_EQ(o["username"].as_string(), username);
  std::string fresh(o["password"].as_string());
  EXPECT_NE(fresh, password);
  EXPECT_EQ(admin("GET", "/web/auth/user", before).status, 401);
  EXPECT_EQ(login(username, password).status, 401);
  EXPECT_EQ(login(username, fresh).status, 200) << "the reset also lifts the username's lock";
  EXPECT_EQ(read_file(dir.file("data/init.json")).find(fresh), std::string::npos);
}

TEST_F(AdminTest, InitFileHashRestoresTheLoginWhenRedisLosesIt) {
  std::string tok = token();
  json::object change{{"currentPassword", password}, {"newPassword", "restorable-password"}};
  ASSERT_EQ(admin("POST", "/web/auth/change-password", tok, json::serialize(change)).status, 200);
  auto before = login(username, "restorable-password");
  ASSERT_EQ(before.status, 200);
  std::string old_session(parse_object(before.body)["token"].as_string());
  RedisServer cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  cli.cli({"DEL", "crs:admin:credentials"});
  // Redis lost the login while running: the next login restores it from init.json.
  EXPECT_EQ(login(username, "restorable-password").status, 200);
  cli.cli({"DEL", "crs:admin:credentials"});
  ASSERT_TRUE(relay->stop().has_value());
  ASSERT_TRUE(relay->start()) << relay->log();
  EXPECT_EQ(login(username, "restorable-password").status, 200);
  EXPECT_EQ(admin("GET", "/web/auth/user", old_session).status, 401) << "sessions before the restore stay ended";
}

TEST_F(AdminTest, ApiKeysCrudShowsThePlaintextOnlyOnce) {
  add_account();
  std::string tok = token();
  json::object create{{"name", "alice"}, {"dailyCostLimit", 5}, {"tags", json::array{"team-a"}}};
  auto made = admin("POST", "/admin/api-keys", tok, json::serialize(create));
  ASSERT_EQ(made.status, 200) << made.body;
  auto data = parse_object(made.body)["data"].as_object();
  std::string key(data["apiKey"].as_string());
  std::string id(data["id"].as_string());
  EXPECT_TRUE(key.starts_with("cr_"));
  EXPECT_EQ(data["dailyCostLimit"].to_number<double>(), 5.0);
  ASSERT_TRUE(wait_until([&] { return relay_message(key).status == 200; }, 5s));

  auto shown = admin("GET", "/admin/api-keys/" + id, tok);
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body.find(key), std::string::npos);
  EXPECT_EQ(shown.body.find(key.substr(3)), std::string::npos) << "nor the digest";
  auto list = admin("GET", "/admin/api-keys?tag=team-a&pageSize=10", tok);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(key), std::string::npos);
  auto page = parse_object(list.body)["data"].as_object();
  EXPECT_EQ(page["pagination"].as_object()["total"].as_int64(), 1);
  EXPECT_EQ(page["items"].as_array()[0].as_object().at("id").as_string(), id);
  EXPECT_EQ(parse_object(admin("GET", "/admin/api-keys?tag=nobody", tok).body)["data"]
                .as_object()["pagination"].as_object()["total"].as_int64(), 0);

  auto bad = admin("PUT", "/admin/api-keys/" + id, tok, R"({"concurrencyLimit":-1})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("concurrencyLimit"), std::string::npos) << bad.body;
  auto unknown = admin("PUT", "/admin/api-keys/" + id, tok, R"({"noSuchField":1})");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  auto unbound = admin("PUT", "/admin/api-keys/" + id, tok, R"({"claudeAccountId":"no-such-account"})");
  EXPECT_EQ(unbound.status, 400) << unbound.body;
  EXPECT_NE(unbound.body.find("no account with id no-such-account"), std::string::npos) << unbound.body;
  auto disable = admin("PUT", "/admin/api-keys/" + id, tok, R"({"isActive":false})");
  ASSERT_EQ(disable.status, 200) << disable.body;
  EXPECT_TRUE(wait_until([&] { return relay_message(key).status == 401 || relay_message(key).status == 403; }, 5s));
  ASSERT_EQ(admin("PUT", "/admin/api-keys/" + id, tok, R"({"isActive":true})").status, 200);

  auto renewed = admin("POST", "/admin/api-keys/" + id + "/renew", tok);
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  std::string new_key(parse_object(renewed.body)["data"].as_object()["apiKey"].as_string());
  EXPECT_NE(new_key, key);
  EXPECT_TRUE(wait_until([&] { return relay_message(new_key).status == 200; }, 5s));
  EXPECT_EQ(relay_message(key).status, 401);

  EXPECT_EQ(admin("POST", "/admin/api-keys", tok, R"({"description":"no name"})").status, 400);
  EXPECT_EQ(admin("GET", "/admin/api-keys/not-a-uuid", tok).status, 404);
  ASSERT_EQ(admin("DELETE", "/admin/api-keys/" + id, tok).status, 200);
  EXPECT_EQ(admin("GET", "/admin/api-keys/" + id, tok).status, 404);
  EXPECT_TRUE(wait_until([&] { return relay_message(new_key).status == 401; }, 5s));
}

TEST_F(AdminTest, KeyHoldersSeeTheirOwnStatsAndOnlyASummaryById) {
  add_account();
  auto r = relay->cli({"keys", "create", "--name", "bob", "--description", "private note", "--daily-cost", "3",
                       "--deny-models", "claude-opus*", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto made = parse_object(r.out);
  std::string key(made["key"].as_string()), id(made["id"].as_string());
  ASSERT_TRUE(wait_until([&] { return relay_message(key).status == 200; }, 5s));
  ASSERT_EQ(relay_message(key).status, 200);

  auto found = stats("get-key-id", json::object{{"apiKey", key}});
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(parse_object(found.body)["data"].as_object()["id"].as_string(), id);
  EXPECT_EQ(stats("get-key-id", json::object{{"apiKey", "cr_" + std::string(64, '0')}}).status, 401);
  EXPECT_EQ(stats("get-key-id", json::object{{"apiKey", "x"}}).status, 400);

  // Usage is folded asynchronously: wait for both requests.
  json::object full;
  ASSERT_TRUE(wait_until([&] {
    auto s = stats("user-stats", json::object{{"apiKey", key}});
    if (s.status != 200) return false;
    full = parse_object(s.body)["data"].as_object();
    return full["usage"].as_object()["total"].as_object()["requests"].as_int64() == 2;
  }, 10s)) << json::serialize(full);
  EXPECT_EQ(full["description"].as_string(), "private note");
  EXPECT_EQ(full["restrictions"].as_object()["restrictedModels"].as_array()[0].as_string(), "claude-opus*");
  auto limits = full["limits"].as_object();
  EXPECT_EQ(limits["dailyCostLimit"].to_number<double>(), 3.0);
  double spent = full["usage"].as_object()["total"].as_object()["cost"].to_number<double>();
  EXPECT_GT(spent, 0.0);
  EXPECT_DOUBLE_EQ(limits["currentDailyCost"].to_number<double>(), spent);
  EXPECT_DOUBLE_EQ(limits["currentTotalCost"].to_number<double>(), spent);

  auto by_id = stats("user-stats", json::object{{"apiId", id}});
  ASSERT_EQ(by_id.status, 200) << by_id.body;
  auto summary = parse_object(by_id.body)["data"].as_object();
  EXPECT_FALSE(summary.contains("description"));
  EXPECT_FALSE(summary.contains("restrictions"));
  EXPECT_FALSE(summary.contains("accounts"));
  EXPECT_EQ(summary["usage"], full["usage"]);
  EXPECT_EQ(by_id.body.find("private note"), std::string::npos);

  EXPECT_EQ(stats("user-stats", json::object{{"apiId", "1' OR '1'='1"}}).status, 400);
  EXPECT_EQ(stats("user-stats", json::object{{"apiId", "*"}}).status, 400);
  EXPECT_EQ(stats("user-stats", json::object{{"apiId", crypto::uuid_v4()}}).status, 404);
  EXPECT_EQ(stats("user-stats", json::object{}).status, 400);

  auto models = stats("user-model-stats", json::object{{"apiKey", key}, {"period", "alltime"}});
  ASSERT_EQ(models.status, 200) << models.body;
  auto list = parse_object(models.body)["data"].as_array();
  ASSERT_EQ(list.size(), 1u) << models.body;
  EXPECT_EQ(list[0].as_object().at("model").as_string(), kModel);
  EXPECT_EQ(list[0].as_object().at("requests").as_int64(), 2);

  ASSERT_EQ(relay->cli({"keys", "disable", id}).exit_code, 0);
  auto disabled = stats("user-stats", json::object{{"apiKey", key}});
  EXPECT_EQ(disabled.status, 403);
  EXPECT_EQ(parse_object(disabled.body)["error"].as_string(), "API key is disabled");
}

TEST_F(AdminTest, UsageReportsOverDateRanges) {
  add_account();
  auto r = relay->cli({"keys", "create", "--name", "carol", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto made = parse_object(r.out);
  std::string key(made["key"].as_string()), id(made["id"].as_string());
  ASSERT_TRUE(wait_until([&] { return relay_message(key).status == 200; }, 5s));
  for (int i = 0; i < 2; ++i) ASSERT_EQ(relay_message(key).status, 200);
  std::string tok = token();

  json::object report;
  ASSERT_TRUE(wait_until([&] {
    auto rep = admin("GET", "/admin/usage/keys/" + id, tok);
    report = parse_object(rep.body)["data"].as_object();
    return rep.status == 200 && report["allTime"].as_object()["requests"].as_int64() == 3;
  }, 10s)) << json::serialize(report);
  EXPECT_EQ(report["granularity"].as_string(), "day");
  EXPECT_EQ(report["range"].as_object()["requests"].as_int64(), 3);
  ASSERT_EQ(report["buckets"].as_array().size(), 1u);
  EXPECT_EQ(report["models"].as_array()[0].as_object().at("model").as_string(), kModel);
  EXPECT_EQ(report["models"].as_array()[0].as_object().at("costMicroUsd"),
            report["range"].as_object()["costMicroUsd"]);

  auto hours = parse_object(admin("GET", "/admin/usage/keys/" + id + "?granularity=hour", tok).body)["data"].as_object();
  EXPECT_EQ(hours["range"].as_object()["requests"].as_int64(), 3);
  auto months = parse_object(admin("GET", "/admin/usage/summary?granularity=month", tok).body)["data"].as_object();
  EXPECT_EQ(months["range"].as_object()["requests"].as_int64(), 3);
  auto models = parse_object(admin("GET", "/admin/usage/models", tok).body)["data"].as_object();
  EXPECT_EQ(models["models"].as_array()[0].as_object().at("requests").as_int64(), 3);
  // A range that ended before today holds nothing.
  auto past = parse_object(admin("GET", "/admin/usage/keys/" + id + "?from=2020-01-01&to=2020-01-31", tok).body);
  EXPECT_EQ(past["data"].as_object()["range"].as_object()["requests"].as_int64(), 0);
  EXPECT_EQ(past["data"].as_object()["allTime"].as_object()["requests"].as_int64(), 3);

  // The CLI reads the same buckets.
  auto cli = relay->cli({"usage", "--key", id, "--from", local_day(), "--granularity", "hour", "--json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(parse_object(cli.out)["range"].as_object()["requests"].as_int64(), 3) << cli.out;
  EXPECT_NE(relay->cli({"usage", "--key", id, "--from", "2026-13-01"}).exit_code, 0);

  EXPECT_EQ(admin("GET", "/admin/usage/summary?granularity=week", tok).status, 400);
  EXPECT_EQ(admin("GET", "/admin/usage/summary?from=2026-02-30", tok).status, 400);
  EXPECT_EQ(admin("GET", "/admin/usage/summary?granularity=hour&from=2020-01-01&to=2026-01-01", tok).status, 400);
  EXPECT_EQ(admin("GET", "/admin/usage/keys/not-an-id", tok).status, 400);
}

TEST_F(AdminTest, CountersOfKeysFromBeforeLimitsAreSeededFromTheirUsage) {
  add_account();
  auto r = relay->cli({"keys", "create", "--name", "old", "--daily-cost", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto made = parse_object(r.out);
  std::string key(made["key"].as_string()), id(made["id"].as_string());
  // What an older version left: usage folded, no limit counters.
  RedisServer cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
  std::string day = local_day();
  cli.cli({"DEL", "limit:" + id});
  cli.cli({"HSET", "usage:" + id, "totalCostMicro", "3500000", "totalAllTokens", "1234"});
  cli.cli({"HSET", "usage:daily:" + id + ":" + day, "costMicro", "3500000"});
  ASSERT_TRUE(relay->stop().has_value());
  ASSERT_TRUE(relay->start()) << relay->log();
  EXPECT_EQ(cli.cli({"HGET", "limit:" + id, "totalCost"}), "3500000");
  EXPECT_EQ(cli.cli({"HGET", "limit:" + id, "dayCost"}), "3500000");
  auto refused = relay_message(key);
  EXPECT_EQ(refused.status, 402) << refused.body;
  // A second start leaves counters that exist alone.
  cli.cli({"HSET", "limit:" + id, "totalCost", "1"});
  ASSERT_TRUE(relay->stop().has_value());
  ASSERT_TRUE(relay->start()) << relay->log();
  EXPECT_EQ(cli.cli({"HGET", "limit:" + id, "totalCost"}), "1");
}

}  // namespace
}  // namespace crs::test
