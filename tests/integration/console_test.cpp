// The web console as HTTP sees it (the browser test drives it in Chromium): the embedded
// files with their caching, compression and security headers, the redirects, the console's
// cookie session with its origin check, and the batch creation of keys its Keys page uses.
#include <csignal>
#include <filesystem>
#include <regex>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "alert_sink.hpp"
#include "support/json.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// The bytes a compressed body stands for, decompressed by Node's zlib (an independent decoder).
std::string decompress(const TempDir& dir, const std::string& body, const std::string& encoding) {
  dir.write("compressed.bin", body);
  std::string fn = encoding == "br" ? "brotliDecompressSync" : "gunzipSync";
  auto r = run_command({"node", "-e",
                        "process.stdout.write(require('zlib')." + fn + "(require('fs').readFileSync(process.argv[1])))",
                        dir.file("compressed.bin")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto init = parse_object(read_file(dir.file("data/init.json")));
    username = std::string(init["adminUsername"].as_string());
    password = std::string(init["adminPassword"].as_string());
  }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(relay->port()); }
  HttpResponse get(const std::string& target, std::map<std::string, std::string> headers = {}) {
    return http_request(relay->port(), "GET", target, "", headers);
  }
  HttpResponse cookie_login(std::map<std::string, std::string> headers) {
    json::object body{{"username", username}, {"password", password}, {"session", "cookie"}};
    headers["content-type"] = "application/json";
    return http_request(relay->port(), "POST", "/web/auth/login", json::serialize(body), headers);
  }
  // The session cookie a console login sets ("crs_admin_session=<token>").
  std::string session_cookie() {
    auto r = cookie_login({{"origin", origin()}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::string set = r.header("set-cookie");
    return set.substr(0, set.find(';'));
  }

  TempDir dir;
  std::unique_ptr<RelayProcess> relay;
  std::string username, password;
};

// The hashed script and stylesheet the index names.
std::vector<std::string> asset_paths(const std::string& html) {
  std::vector<std::string> out;
  std::regex re(R"re((?:src|href)="(/admin-next/assets/[^"]+)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

TEST_F(ConsoleTest, IndexIsRevalidatedAndCarriesTheSecurityHeaders) {
  auto index = get("/admin-next/");
  ASSERT_EQ(index.status, 200) << index.body;
  EXPECT_EQ(index.header("content-type"), "text/html; charset=utf-8");
  std::string csp = index.header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_EQ(index.header("x-frame-options"), "DENY");
  EXPECT_EQ(index.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(index.header("referrer-policy"), "no-referrer");
  EXPECT_EQ(index.header("cache-control"), "no-cache");
  // No inline script or style for the CSP to allow.
  EXPECT_EQ(index.body.find("<script>"), std::string::npos);
  EXPECT_EQ(index.body.find("<style"), std::string::npos);
  EXPECT_EQ(index.body.find("style=\""), std::string::npos);

  std::string etag = index.header("etag");
  ASSERT_FALSE(etag.empty());
  auto again = get("/admin-next/", {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(get("/admin-next/", {{"if-none-match", "\"other\""}}).status, 200);

  // Every page of the console is the same document (client-side routes).
  for (std::string page : {"/admin-next", "/admin-next/keys", "/admin-next/api-stats", "/admin-next/no-such-page"}) {
    auto r = get(page);
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.header("etag"), etag) << page;
  }
  EXPECT_EQ(get("/admin-next/assets/no-such-file.js").status, 404);
}

TEST_F(ConsoleTest, HashedAssetsAreImmutableAndServedInTheEncodingTheClientTakes) {
  auto index = get("/admin-next/");
  auto assets = asset_paths(index.body);
  ASSERT_GE(assets.size(), 2u) << index.body;
  std::string built = std::filesystem::path(crs_binary()).parent_path().string() + "/web/dist";
  for (const auto& path : assets) {
    SCOPED_TRACE(path);
    std::string file = read_file(built + path.substr(std::string("/admin-next").size()));
    ASSERT_FALSE(file.empty());
    auto plain = get(path);
    ASSERT_EQ(plain.status, 200);
    EXPECT_EQ(plain.header("cache-control"), "public, max-age=31536000, immutable");
    EXPECT_EQ(plain.header("content-encoding"), "");
    EXPECT_EQ(plain.header("vary"), "Accept-Encoding");
    EXPECT_EQ(plain.body, file);
    EXPECT_FALSE(plain.header("content-security-policy").empty());

    auto br = get(path, {{"accept-encoding", "gzip, deflate, br"}});
    EXPECT_EQ(br.header("content-encoding"), "br");
    EXPECT_LT(br.body.size(), file.size() / 2);
    EXPECT_EQ(decompress(dir, br.body, "br"), file);

    auto gz = get(path, {{"accept-encoding", "br;q=0, gzip;q=0.8"}});
    EXPECT_EQ(gz.header("content-encoding"), "gzip");
    EXPECT_EQ(decompress(dir, gz.body, "gzip"), file);

    EXPECT_EQ(get(path, {{"accept-encoding", "identity"}}).header("content-encoding"), "");
    EXPECT_EQ(get(path, {{"accept-encoding", "*;q=0"}}).header("content-encoding"), "");
    EXPECT_EQ(get(path, {{"accept-encoding", "*"}}).header("content-encoding"), "br");

    auto head = http_request(relay->port(), "HEAD", path, "", {{"accept-encoding", "br"}});
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-length"), std::to_string(br.body.size()));
    EXPECT_TRUE(head.body.empty());
  }
}

TEST_F(ConsoleTest, OldConsoleAndBrowsersAtTheRootAreSentToTheConsole) {
  for (std::string old : {"/web", "/web/"}) {
    auto r = get(old);
    EXPECT_EQ(r.status, 302) << old;
    EXPECT_EQ(r.header("location"), "/admin-next/");
  }
  auto browser = get("/", {{"accept", "text/html,application/xhtml+xml,*/*;q=0.8"}});
  EXPECT_EQ(browser.status, 302);
  EXPECT_EQ(browser.header("location"), "/admin-next/api-stats");
  // API clients and monitors still get the service's name.
  auto api = get("/", {{"accept", "application/json"}});
  EXPECT_EQ(api.status, 200);
  EXPECT_EQ(parse_object(api.body)["service"].as_string(), "claude-relay-service");
}

TEST_F(ConsoleTest, CookieSessionIsHttpOnlyStrictAndNeverShownToTheScript) {
  auto r = cookie_login({{"origin", origin()}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = parse_object(r.body);
  EXPECT_FALSE(body.contains("token")) << r.body;
  EXPECT_EQ(body["username"].as_string(), username);
  std::string set = r.header("set-cookie");
  EXPECT_TRUE(set.starts_with("crs_admin_session=")) << set;
  for (std::string attribute : {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"})
    EXPECT_NE(set.find(attribute), std::string::npos) << attribute << " in " << set;
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "the page is http here: " << set;
  EXPECT_EQ(r.header("cache-control"), "no-store");

  // Over https (as its Origin says) the cookie is Secure.
  auto secure = cookie_login({{"origin", "https://127.0.0.1:" + std::to_string(relay->port())},
                              {"host", "127.0.0.1:" + std::to_string(relay->port())}});
  ASSERT_EQ(secure.status, 200) << secure.body;
  EXPECT_NE(secure.header("set-cookie").find("; Secure"), std::string::npos);

  // A console login from another site's page is refused before the password is checked.
  auto foreign = cookie_login({{"origin", "http://evil.example"}});
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  EXPECT_TRUE(foreign.header("set-cookie").empty());
  auto cross_site = cookie_login({{"sec-fetch-site", "cross-site"}, {"origin", origin()}});
  EXPECT_EQ(cross_site.status, 403) << cross_site.body;
  // Scripts keep the Node.js service's token login.
  json::object plain{{"username", username}, {"password", password}};
  auto scripted = http_request(relay->port(), "POST", "/web/auth/login", json::serialize(plain),
                               {{"content-type", "application/json"}});
  EXPECT_TRUE(parse_object(scripted.body).contains("token")) << scripted.body;
  EXPECT_TRUE(scripted.header("set-cookie").empty());
}

TEST_F(ConsoleTest, ChangesMadeWithTheCookieMustComeFromTheConsolesOwnOrigin) {
  std::string cookie = session_cookie();
  std::string key = R"({"name":"csrf-probe"})";
  auto post = [&](std::map<std::string, std::string> headers) {
    headers["cookie"] = cookie;
    headers["content-type"] = "application/json";
    return http_request(relay->port(), "POST", "/admin/api-keys", key, headers);
  };
  // Reads need no origin: SameSite=Strict keeps the cookie off other sites' requests.
  EXPECT_EQ(get("/admin/api-keys", {{"cookie", cookie}}).status, 200);
  EXPECT_EQ(post({}).status, 403);
  EXPECT_EQ(post({{"origin", "http://evil.example"}}).status, 403);
  EXPECT_EQ(post({{"origin", "null"}}).status, 403);
  EXPECT_EQ(post({{"origin", "http://127.0.0.1:" + std::to_string(relay->port()) + ".evil.example"}}).status, 403);
  EXPECT_EQ(post({{"sec-fetch-site", "same-site"}, {"origin", origin()}}).status, 403);
  auto list = parse_object(get("/admin/api-keys", {{"cookie", cookie}}).body);
  EXPECT_EQ(list["data"].as_object()["pagination"].as_object()["total"].as_int64(), 0) << "a refused change left a key";

  EXPECT_EQ(post({{"origin", origin()}}).status, 200);
  EXPECT_EQ(post({{"sec-fetch-site", "same-origin"}}).status, 200);
  // A token header is not a cookie: no origin is asked of scripts.
  json::object plain{{"username", username}, {"password", password}};
  auto token = parse_object(http_request(relay->port(), "POST", "/web/auth/login", json::serialize(plain),
                                         {{"content-type", "application/json"}})
                                .body)["token"]
                   .as_string();
  auto scripted = http_request(relay->port(), "POST", "/admin/api-keys", key,
                               {{"authorization", "Bearer " + std::string(token)}, {"content-type", "application/json"}});
  EXPECT_EQ(scripted.status, 200) << scripted.body;
}

TEST_F(ConsoleTest, LogoutEndsTheCookieSessionOnTheServer) {
  std::string cookie = session_cookie();
  ASSERT_EQ(get("/web/auth/user", {{"cookie", cookie}}).status, 200);
  auto out = http_request(relay->port(), "POST", "/web/auth/logout", "", {{"cookie", cookie}, {"origin", origin()}});
  ASSERT_EQ(out.status, 200) << out.body;
  std::string cleared = out.header("set-cookie");
  EXPECT_TRUE(cleared.starts_with("crs_admin_session=;")) << cleared;
  EXPECT_NE(cleared.find("Max-Age=0"), std::string::npos) << cleared;
  // The old cookie, kept by an attacker or a stale tab, no longer opens anything.
  auto after = get("/admin/api-keys", {{"cookie", cookie}});
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(parse_object(after.body)["error"].as_string(), "Invalid session");
  EXPECT_EQ(get("/admin/api-keys", {{"cookie", "crs_admin_session=not.a.token"}}).status, 401);
  EXPECT_EQ(get("/admin/api-keys", {{"cookie", "crs_admin_session=\"quoted\"; other=1"}}).status, 401);
}

TEST_F(ConsoleTest, BatchCreateMakesEveryKeyWithTheSameLimitsAndShowsEachSecretOnce) {
  std::string cookie = session_cookie();
  auto batch = [&](const std::string& body) {
    return http_request(relay->port(), "POST", "/admin/api-keys/batch", body,
                        {{"cookie", cookie}, {"origin", origin()}, {"content-type", "application/json"}});
  };
  auto made = batch(R"({"baseName":"team","count":"3","dailyCostLimit":2.5,"rateLimitWindow":10,"rateLimitRequests":7,"tags":["t1"]})");
  ASSERT_EQ(made.status, 200) << made.body;
  auto keys = parse_object(made.body)["data"].as_array();
  ASSERT_EQ(keys.size(), 3u);
  std::set<std::string> secrets;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto k = keys[i].as_object();
    EXPECT_EQ(k["name"].as_string(), "team_" + std::to_string(i + 1));
    EXPECT_EQ(k["dailyCostLimit"].to_number<double>(), 2.5);
    EXPECT_EQ(k["rateLimitRequests"].as_int64(), 7);
    EXPECT_TRUE(std::regex_match(std::string(k["apiKey"].as_string()), std::regex("cr_[0-9a-f]{64}")));
    secrets.insert(std::string(k["apiKey"].as_string()));
  }
  EXPECT_EQ(secrets.size(), 3u);
  // Listed afterwards, no key carries its secret.
  auto list = get("/admin/api-keys?search=team", {{"cookie", cookie}});
  EXPECT_EQ(parse_object(list.body)["data"].as_object()["pagination"].as_object()["total"].as_int64(), 3);
  for (const auto& s : secrets) EXPECT_EQ(list.body.find(s), std::string::npos);

  EXPECT_EQ(batch(R"({"baseName":"x","count":0})").status, 400);
  EXPECT_EQ(batch(R"({"baseName":"x","count":501})").status, 400);
  EXPECT_EQ(batch(R"({"baseName":"x","count":"2x"})").status, 400);
  EXPECT_EQ(batch(R"({"baseName":"x","count":2.5})").status, 400);
  EXPECT_EQ(batch(R"({"count":2})").status, 400);
  EXPECT_EQ(batch(R"({"baseName":"x","count":2,"noSuchField":1})").status, 400);
  EXPECT_EQ(batch(R"({"baseName":")" + std::string(99, 'n') + R"(","count":2})").status, 400);
  auto total = get("/admin/api-keys", {{"cookie", cookie}});
  EXPECT_EQ(parse_object(total.body)["data"].as_object()["pagination"].as_object()["total"].as_int64(), 3)
      << "a refused batch made keys";
}

// Each stored encoding is its own representation (its own ETag); a client's preference for
// gzip over brotli is honoured; a 304 carries no Content-Length.
TEST_F(ConsoleTest, EncodingPreferencesAndValidatorsPerEncoding) {
  auto assets = asset_paths(get("/admin-next/").body);
  ASSERT_FALSE(assets.empty());
  const auto& path = assets[0];
  auto plain = get(path);
  auto br = get(path, {{"accept-encoding", "br"}});
  auto gz = get(path, {{"accept-encoding", "gzip;q=1, br;q=0.5"}});
  EXPECT_EQ(gz.header("content-encoding"), "gzip");
  EXPECT_EQ(get(path, {{"accept-encoding", "gzip;q=0.5, br;q=0.5"}}).header("content-encoding"), "br");
  std::set<std::string> tags{plain.header("etag"), br.header("etag"), gz.header("etag")};
  EXPECT_EQ(tags.size(), 3u);
  auto not_modified = get(path, {{"accept-encoding", "br"}, {"if-none-match", br.header("etag")}});
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.header("content-length"), "");
  EXPECT_EQ(not_modified.header("etag"), br.header("etag"));
  // The brotli validator does not stand for the gzip body.
  EXPECT_EQ(get(path, {{"accept-encoding", "gzip"}, {"if-none-match", br.header("etag")}}).status, 200);
}

// The list's search arrives as a browser encodes it (URLSearchParams: + for spaces, %2C for
// commas) and is matched decoded.
TEST_F(ConsoleTest, TheKeySearchIsMatchedDecoded) {
  std::string cookie = session_cookie();
  for (std::string name : {"team 12, night", "team 120", "team+12"}) {
    json::object body{{"name", name}};
    ASSERT_EQ(http_request(relay->port(), "POST", "/admin/api-keys", json::serialize(body),
                           {{"cookie", cookie}, {"origin", origin()}})
                  .status,
              200);
  }
  auto total = [&](const std::string& query) {
    auto r = get("/admin/api-keys?" + query, {{"cookie", cookie}});
    return parse_object(r.body)["data"].as_object()["pagination"].as_object()["total"].as_int64();
  };
  EXPECT_EQ(total("search=team+12%2C"), 1);
  EXPECT_EQ(total("search=team%2012"), 2);
  EXPECT_EQ(total("search=team%2B12"), 1);
  EXPECT_EQ(total("search=team"), 3);
}

// A browser may send several cookies of one name (another path's, one set by a sibling
// domain): the one that verifies opens the session. Over https the cookie is __Host- named.
TEST_F(ConsoleTest, ACookieTossedInFrontOfTheSessionDoesNotLockTheAdminOut) {
  std::string cookie = session_cookie();  // crs_admin_session=<token>
  std::string token = cookie.substr(cookie.find('=') + 1);
  auto both = get("/admin/api-keys", {{"cookie", "crs_admin_session=tossed.by.attacker; " + cookie}});
  EXPECT_EQ(both.status, 200) << both.body;
  auto secure = cookie_login({{"origin", "https://127.0.0.1:" + std::to_string(relay->port())}});
  std::string set = secure.header("set-cookie");
  EXPECT_TRUE(set.starts_with("__Host-crs_admin_session=")) << set;
  EXPECT_EQ(get("/admin/api-keys", {{"cookie", set.substr(0, set.find(';'))}}).status, 200);
  EXPECT_EQ(get("/admin/api-keys", {{"cookie", "__Host-crs_admin_session=forged.token.value"}}).status, 401);
}

// Behind a reverse proxy that rewrites Host, the console's changes are recognised by the
// X-Forwarded-Host the proxy adds, but only from a proxy listed in server.trustedProxies.
TEST(ConsoleProxy, TheOriginIsCheckedAgainstTheForwardedHostOfATrustedProxyOnly) {
  for (bool trusted : {false, true}) {
    SCOPED_TRACE(trusted ? "trusted proxy" : "untrusted peer");
    TempDir dir;
    std::vector<std::string> env;
    if (trusted) env.push_back("TRUSTED_PROXIES=127.0.0.1");
    RelayProcess relay(dir, env);
    ASSERT_TRUE(relay.start()) << relay.log();
    auto init = parse_object(read_file(dir.file("data/init.json")));
    json::object body{{"username", init["adminUsername"]}, {"password", init["adminPassword"]}, {"session", "cookie"}};
    std::map<std::string, std::string> proxied{{"host", "127.0.0.1:8080"},
                                               {"origin", "https://relay.example"},
                                               {"x-forwarded-host", "relay.example"},
                                               {"content-type", "application/json"}};
    auto login = http_request(relay.port(), "POST", "/web/auth/login", json::serialize(body), proxied);
    EXPECT_EQ(login.status, trusted ? 200 : 403) << login.body;
    if (!trusted) continue;
    std::string set = login.header("set-cookie");
    proxied["cookie"] = set.substr(0, set.find(';'));
    EXPECT_EQ(http_request(relay.port(), "POST", "/admin/api-keys", R"({"name":"via-proxy"})", proxied).status, 200);
    proxied["x-forwarded-host"] = "evil.example";
    EXPECT_EQ(http_request(relay.port(), "POST", "/admin/api-keys", R"({"name":"x"})", proxied).status, 403);
  }
}

// An upstream that answers a page (text/html) cannot make it a page of the relay's origin, where
// the console's session lives: the type becomes application/octet-stream, with nosniff.
TEST(ConsoleOrigin, AnUpstreamAnswerIsNeverServedAsAPage) {
  TempDir dir;
  FakeUpstreamProcess fake(dir);
  ASSERT_TRUE(fake.start());
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  const std::string account_key = "sk-ant-api03-hostile-upstream-0000";
  ASSERT_EQ(relay.cli({"accounts", "add", "--type", "claude-console", "--name", "hostile", "--base-url", fake.url(),
                       "--api-key", account_key})
                .exit_code,
            0);
  auto created = relay.cli({"keys", "create", "--name", "k", "--json"});
  std::string key(parse_object(created.out)["key"].as_string());
  ASSERT_TRUE(fake.script(account_key, R"({"contentType":"text/html; charset=utf-8"})", 1));
  std::string message = R"({"model":"claude-sonnet-4-5-20250929","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})";
  HttpResponse r;
  ASSERT_TRUE(wait_until([&] {
    r = http_request(relay.port(), "POST", "/api/v1/messages", message, {{"x-api-key", key}});
    return r.status == 200;
  })) << r.status << r.body;
  EXPECT_EQ(r.header("content-type"), "application/octet-stream");
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  auto normal = http_request(relay.port(), "POST", "/api/v1/messages", message, {{"x-api-key", key}});
  EXPECT_EQ(normal.header("content-type"), "application/json");
}

// The settings page's sources: the configuration in force with each value's origin (secrets
// masked), changed by SIGHUP; the alert channels by host only; a test alert through each.
TEST(ConsoleSettings, ConfigurationInForceAndAlertChannels) {
  TempDir dir;
  AlertSink sink(dir);
  ASSERT_TRUE(sink.make_certificate());
  ASSERT_TRUE(sink.start());
  std::string hook = "http://127.0.0.1:" + std::to_string(sink.http_port()) + "/generic?token=hook-path-token-0123";
  auto config = [&](int attempts) {
    dir.write("config/config.toml", "[relay]\nmaxAttempts = " + std::to_string(attempts) +
                                        "\n[monitoring.alerts]\nwebhook = \"" + hook + "\"\n");
  };
  config(2);
  const std::string jwt = "settings-test-jwt-secret-0123456789abcdef0123";
  RelayProcess relay(dir, {"JWT_SECRET=" + jwt});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto init = parse_object(read_file(dir.file("data/init.json")));
  json::object login{{"username", init["adminUsername"]}, {"password", init["adminPassword"]}};
  auto token = parse_object(http_request(relay.port(), "POST", "/web/auth/login", json::serialize(login)).body)["token"];
  ASSERT_TRUE(token.is_string());
  std::map<std::string, std::string> auth{{"authorization", "Bearer " + std::string(token.as_string())}};
  auto key_of = [](const json::object& data, const std::string& key) {
    for (const auto& k : data.at("keys").as_array())
      if (k.as_object().at("key").as_string() == key) return k.as_object();
    return json::object();
  };

  auto shown = http_request(relay.port(), "GET", "/admin/config", "", auth);
  ASSERT_EQ(shown.status, 200) << shown.body;
  auto data = parse_object(shown.body)["data"].as_object();
  EXPECT_EQ(shown.body.find(jwt), std::string::npos) << "the JWT secret is shown";
  EXPECT_EQ(shown.body.find("hook-path-token-0123"), std::string::npos) << "the webhook's token is shown";
  auto secret = key_of(data, "security.jwtSecret");
  EXPECT_TRUE(secret.at("secret").as_bool());
  EXPECT_EQ(secret.at("value").as_string(), "(set)") << "not even a part of a secret is shown";
  EXPECT_EQ(key_of(data, "redis.password").at("value").as_string(), "(not set)");
  EXPECT_EQ(secret.at("source").as_string(), "env");
  EXPECT_EQ(secret.at("origin").as_string(), "JWT_SECRET");
  auto slow = key_of(data, "relay.maxAttempts");
  EXPECT_EQ(slow.at("value").as_int64(), 2);
  EXPECT_EQ(slow.at("source").as_string(), "file");
  EXPECT_TRUE(slow.at("live").as_bool());
  EXPECT_TRUE(data.at("reloadedAt").is_null());
  EXPECT_EQ(key_of(data, "server.port").at("live").as_bool(), false);

  // SIGHUP: the live key's new value is what the page shows, and when it changed.
  config(3);
  relay.process().send_signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] {
    auto d = parse_object(http_request(relay.port(), "GET", "/admin/config", "", auth).body)["data"].as_object();
    return key_of(d, "relay.maxAttempts").at("value").as_int64() == 3;
  })) << relay.log();
  data = parse_object(http_request(relay.port(), "GET", "/admin/config", "", auth).body)["data"].as_object();
  EXPECT_TRUE(data.at("reloadedAt").is_string());
  EXPECT_EQ(json::serialize(data.at("lastReloadApplied")), R"(["relay.maxAttempts"])");

  auto channels = http_request(relay.port(), "GET", "/admin/alerts/channels", "", auth);
  ASSERT_EQ(channels.status, 200) << channels.body;
  EXPECT_EQ(channels.body.find("hook-path-token"), std::string::npos) << channels.body;
  auto listed = parse_object(channels.body)["data"].as_object()["channels"].as_array();
  ASSERT_EQ(listed.size(), 1u);
  std::string name(listed[0].as_object().at("name").as_string());
  EXPECT_NE(name.find("127.0.0.1"), std::string::npos) << name;

  json::object one{{"channel", name}};
  auto tested = http_request(relay.port(), "POST", "/admin/alerts/test", json::serialize(one), auth);
  ASSERT_EQ(tested.status, 200) << tested.body;
  auto result = parse_object(tested.body)["data"].as_object()["results"].as_array()[0].as_object();
  EXPECT_TRUE(result.at("delivered").as_bool()) << tested.body;
  EXPECT_EQ(sink.hooks("/generic?token=hook-path-token-0123", "Sent from the web console").size(), 1u)
      << json::serialize(sink.received());
  json::object unknown{{"channel", "no such channel"}};
  EXPECT_EQ(http_request(relay.port(), "POST", "/admin/alerts/test", json::serialize(unknown), auth).status, 404);
}

}  // namespace
}  // namespace crs::test
