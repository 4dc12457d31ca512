// `crs serve` as a real process: /health, error answers, graceful shutdown, embedded Redis.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;

json::object parse_object(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  return v.get_object();
}

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}

std::string redis_status(const json::object& health) {
  const auto* c = health.if_contains("components");
  if (!c || !c->is_object()) return "";
  const auto* r = c->get_object().if_contains("redis");
  return r && r->is_object() ? str(r->get_object(), "status") : "";
}

TEST(Serve, HealthWithEmbeddedRedis) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto r = http_get(relay.port(), "/health");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("x-request-id").size(), 11u);
  auto h = parse_object(r.body);
  EXPECT_EQ(str(h, "status"), "healthy");
  EXPECT_EQ(str(h, "service"), "claude-relay-service");
  EXPECT_FALSE(str(h, "version").empty());
  EXPECT_TRUE(h.contains("uptime"));
  EXPECT_EQ(redis_status(h), "healthy");
  auto redis = h["components"].as_object()["redis"].as_object();
  EXPECT_EQ(str(redis, "mode"), "embedded");
  EXPECT_TRUE(redis["connected"].as_bool());

  // The embedded redis-server keeps its append-only file under ./data/redis.
  EXPECT_TRUE(wait_until([&] { return std::ifstream(dir.file("data/redis/redis.pid")).good(); }));
  struct stat st{};
  EXPECT_EQ(stat(dir.file("data/redis/appendonlydir").c_str(), &st), 0);
  // Secrets were generated and stored 0600, and the log says so without printing them.
  ASSERT_EQ(stat(dir.file("data/secrets.env").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string secrets = read_file(dir.file("data/secrets.env"));
  auto pos = secrets.find("ENCRYPTION_KEY=");
  ASSERT_NE(pos, std::string::npos);
  std::string key = secrets.substr(pos + 15, 32);
  EXPECT_NE(relay.log().find("ENCRYPTION_KEY was not configured"), std::string::npos);
  EXPECT_EQ(relay.log().find(key), std::string::npos);
  EXPECT_EQ(read_file(dir.file("logs/crs.log")).find(key), std::string::npos);

  // Same path under /api, HEAD / for Claude Code's probe.
  EXPECT_EQ(http_get(relay.port(), "/api/health").status, 200);
  auto head = http_request(relay.port(), "HEAD", "/");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
}

// The listener starts once: after the store's first preparation, not again when it completes.
TEST(Serve, StartsListeningOnce) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto listening = [&] {
    std::string log = relay.log();
    size_t n = 0;
    for (size_t at = log.find("listening on"); at != std::string::npos; at = log.find("listening on", at + 1)) ++n;
    return n;
  };
  // The preparation ends with the admin login, written to data/init.json.
  ASSERT_TRUE(wait_until([&] { return std::ifstream(dir.file("data/init.json")).good(); }));
  EXPECT_FALSE(wait_until([&] { return listening() > 1; }, 1s)) << relay.log();
  EXPECT_EQ(listening(), 1u);
}

// Every start says where the admin login is (make run relies on it), never the password.
TEST(Serve, EveryStartSaysWhereTheAdminLoginIs) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  ASSERT_TRUE(wait_until([&] { return std::ifstream(dir.file("data/init.json")).good(); }));
  ASSERT_TRUE(relay.stop().has_value());
  auto init = parse_object(read_file(dir.file("data/init.json")));
  std::string password = str(init, "adminPassword");
  ASSERT_FALSE(password.empty());

  RelayProcess again(dir, {});
  ASSERT_TRUE(again.start()) << again.log();
  // The log masks the username like a relay key (it starts with the key prefix "cr_").
  ASSERT_TRUE(wait_until([&] { return again.log().find("admin login: username ") != std::string::npos; }))
      << again.log();
  EXPECT_NE(again.log().find("init.json (adminPassword)"), std::string::npos) << again.log();
  EXPECT_EQ(again.log().find(password), std::string::npos);
}

TEST(Serve, LogFilesOfTheGuideExist) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  EXPECT_TRUE(wait_until([&] { return !read_file(dir.file("logs/crs.log")).empty(); }));
  struct stat st{};
  EXPECT_EQ(stat(dir.file("logs/load-balancing.log").c_str(), &st), 0);
  EXPECT_EQ(stat(dir.file("logs/api-export.log").c_str(), &st), 0);
}

TEST(Serve, ErrorAnswersAreJson) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  int port = relay.port();

  auto missing = http_get(port, "/no/such/route?x=1");
  EXPECT_EQ(missing.status, 404);
  auto body = parse_object(missing.body);
  EXPECT_EQ(str(body, "type"), "error");
  EXPECT_EQ(str(body["error"].as_object(), "type"), "not_found_error");
  EXPECT_NE(missing.body.find("/no/such/route"), std::string::npos);

  auto wrong_method = http_request(port, "DELETE", "/health");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.header("allow"), "GET");

  // Trailing slash, query string and case do not matter (Express behaviour clients rely on).
  EXPECT_EQ(http_get(port, "/HEALTH/?probe=1").status, 200);

  // Appended piece by piece: GCC 12 warns falsely (array-bounds) on the concatenation.
  std::string big_header = "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ";
  big_header.append(70000, 'a').append("\r\n\r\n");
  auto r431 = raw_exchange(port, big_header);
  EXPECT_NE(r431.find("HTTP/1.1 431"), std::string::npos) << r431.substr(0, 200);
  EXPECT_NE(r431.find("\"type\":\"error\""), std::string::npos);

  auto r413 = raw_exchange(port, "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 40000000\r\n\r\n{");
  EXPECT_NE(r413.find("HTTP/1.1 413"), std::string::npos) << r413.substr(0, 200);
  EXPECT_NE(r413.find("request_too_large"), std::string::npos);

  auto r400 = raw_exchange(port, "GARBAGE\x01\x02 / HTTP/1.1\r\n\r\n");
  EXPECT_NE(r400.find("HTTP/1.1 400"), std::string::npos) << r400;
  auto bad_length = raw_exchange(port, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  EXPECT_NE(bad_length.find("HTTP/1.1 400"), std::string::npos) << bad_length;

  // After all that the server still answers.
  EXPECT_EQ(http_get(port, "/health").status, 200);
}

// RFC 9112 §6.3: a transfer coding that does not end in chunked leaves the body's end unknown;
// the bytes after the head must not be taken as the next request.
TEST(Serve, TransferEncodingNotEndingInChunkedIsRefused) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  std::string answer = raw_exchange(relay.port(),
                                    "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
                                    "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << "the smuggled request was served";
  EXPECT_EQ(http_get(relay.port(), "/health").status, 200);
}

// A connection that opens and dribbles a header is dropped after requestReadTimeout, not after
// the longer keepAliveTimeout meant for idle keep-alive connections.
TEST(Serve, ASlowFirstHeaderIsDroppedAtTheReadTimeout) {
  TempDir dir;
  dir.write("config/config.toml", "[server]\nkeepAliveTimeout = 30\nrequestReadTimeout = 1\n");
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  RawConnection c(relay.port());
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHost: x\r\n"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  // A keep-alive connection may idle past requestReadTimeout between requests.
  RawConnection k(relay.port());
  ASSERT_TRUE(k.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(k.receive(1s).find("HTTP/1.1 200"), std::string::npos);
  std::this_thread::sleep_for(1500ms);  // longer than requestReadTimeout, within keepAliveTimeout
  ASSERT_TRUE(k.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(k.receive(1s).find("HTTP/1.1 200"), std::string::npos);
}

TEST(Serve, KeepAliveServesSeveralRequestsOnOneConnection) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  RawConnection c(relay.port());
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string both;
  wait_until([&] {
    both += c.receive(100ms);
    return both.find("HTTP/1.1 404") != std::string::npos;
  });
  EXPECT_NE(both.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(both.find("HTTP/1.1 404"), std::string::npos);
}

// 100 Continue goes out only when the body is wanted: an unknown route or an unknown key is
// answered at once, and the body is never asked for (nor read: the connection closes).
TEST(Serve, ExpectContinueIsHonoured) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  RawConnection c(relay.port());
  ASSERT_TRUE(c.send("POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  EXPECT_NE(c.receive(1s).find("HTTP/1.1 100 Continue"), std::string::npos);
  ASSERT_TRUE(c.send("{}"));
  EXPECT_NE(c.receive(1s).find("HTTP/1.1 400"), std::string::npos);
  for (std::string head : {"POST /nope HTTP/1.1\r\n", "POST /v1/messages HTTP/1.1\r\nx-api-key: cr_unknown_key_0000\r\n"}) {
    RawConnection d(relay.port());
    ASSERT_TRUE(d.send(head + "Host: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
    std::string answer = d.receive(1s);
    EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << head;
    EXPECT_TRUE(answer.find("HTTP/1.1 404") != std::string::npos || answer.find("HTTP/1.1 401") != std::string::npos)
        << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  }
}

TEST(Serve, GracefulShutdownFinishesRequestsInFlight) {
  TempDir dir;
  RelayProcess relay(dir, {"SHUTDOWN_GRACE_PERIOD=20"});
  ASSERT_TRUE(relay.start()) << relay.log();
  int port = relay.port();

  RawConnection idle(port);  // an idle keep-alive connection: closed at once on shutdown
  ASSERT_TRUE(idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(idle.receive(1s).find("HTTP/1.1 200"), std::string::npos);

  RawConnection busy(port);  // a request whose body is still arriving: allowed to finish
  ASSERT_TRUE(busy.send("POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"));
  std::this_thread::sleep_for(200ms);

  relay.process().send_signal(SIGTERM);
  EXPECT_TRUE(idle.closed_by_peer(2s));
  EXPECT_TRUE(wait_until([&] { return http_get(port, "/health").status == 0; }, 3s)) << "still accepting";
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(relay.process().poll()) << "exited before the request in flight finished";

  ASSERT_TRUE(busy.send("67890"));
  std::string answer = busy.receive(2s);
  EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  auto code = relay.process().wait_for(5s);
  ASSERT_TRUE(code.has_value()) << relay.log();
  EXPECT_EQ(*code, 0);
  // The embedded redis-server went down with it.
  EXPECT_NE(relay.log().find("embedded redis-server stopped"), std::string::npos) << relay.log();
}

TEST(Serve, GracePeriodBoundsTheWait) {
  TempDir dir;
  RelayProcess relay(dir, {"SHUTDOWN_GRACE_PERIOD=1"});
  ASSERT_TRUE(relay.start()) << relay.log();
  RawConnection stuck(relay.port());
  ASSERT_TRUE(stuck.send("POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1"));
  std::this_thread::sleep_for(200ms);
  auto start = std::chrono::steady_clock::now();
  relay.process().send_signal(SIGTERM);
  auto code = relay.process().wait_for(5s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_NE(relay.log().find("grace period over"), std::string::npos);
}

TEST(Serve, EmbeddedRedisIsRestartedWhenItDies) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  int first_pid = std::stoi(read_file(dir.file("data/redis/redis.pid")));
  ASSERT_GT(first_pid, 0);
  ASSERT_EQ(::kill(first_pid, SIGKILL), 0);

  EXPECT_TRUE(wait_until([&] { return http_get(relay.port(), "/health").status == 503; }, 5s));
  auto down = parse_object(http_get(relay.port(), "/health").body);
  EXPECT_EQ(str(down, "status"), "unhealthy");
  ASSERT_TRUE(wait_until([&] { return http_get(relay.port(), "/health").status == 200; }, 15s)) << relay.log();
  int second_pid = std::stoi(read_file(dir.file("data/redis/redis.pid")));
  EXPECT_NE(second_pid, first_pid);
  EXPECT_NE(relay.log().find("embedded redis-server exited"), std::string::npos);
}

TEST(Serve, EmbeddedRedisKeepsDataAcrossRestarts) {
  TempDir dir;
  int redis_port = free_port();
  {
    RelayProcess relay(dir, {"REDIS_EMBEDDED_PORT=" + std::to_string(redis_port)});
    ASSERT_TRUE(relay.start()) << relay.log();
    // Loopback is no boundary on a shared host: the embedded Redis wants its password, which is
    // in the 0600 secrets file and neither on redis-server's command line nor in the log.
    RedisServer anyone(dir.file("unused"), redis_port);
    EXPECT_NE(anyone.cli({"SET", "persisted", "no"}).find("NOAUTH"), std::string::npos);
    std::string password = relay.embedded_redis_password();
    ASSERT_EQ(password.size(), 32u);
    std::string pid = read_file(dir.file("data/redis/redis.pid"));
    EXPECT_EQ(read_file("/proc/" + pid.substr(0, pid.find('\n')) + "/cmdline").find(password), std::string::npos);
    EXPECT_EQ(relay.log().find(password), std::string::npos);
    RedisServer client_only(dir.file("unused"), redis_port, password);
    EXPECT_EQ(client_only.cli({"SET", "persisted", "yes"}), "OK");
    ASSERT_EQ(relay.stop(), 0);
  }
  RelayProcess again(dir, {"REDIS_EMBEDDED_PORT=" + std::to_string(redis_port)});
  ASSERT_TRUE(again.start()) << again.log();
  RedisServer client_only(dir.file("unused"), redis_port, again.embedded_redis_password());
  EXPECT_EQ(client_only.cli({"GET", "persisted"}), "yes");
}

TEST(Serve, ExternalRedisDownMeans503AndRecovery) {
  TempDir dir;
  RedisServer redis(dir.file("ext-redis"));
  ASSERT_TRUE(redis.start());
  RelayProcess relay(dir, {"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port())});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto healthy = parse_object(http_get(relay.port(), "/health").body);
  EXPECT_EQ(str(healthy["components"].as_object()["redis"].as_object(), "mode"), "external");
  EXPECT_FALSE(std::ifstream(dir.file("data/redis/redis.pid")).good()) << "embedded redis started anyway";

  auto created = relay.cli({"keys", "create", "--name", "outage", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string key(parse_object(created.out)["key"].as_string());

  redis.kill_hard();
  ASSERT_TRUE(wait_until([&] { return http_get(relay.port(), "/health").status == 503; }, 5s));
  // A key that cannot be checked: a clean 503 that tells the client when to try again.
  auto refused = http_request(relay.port(), "POST", "/v1/messages",
                              R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]})",
                              {{"x-api-key", key}, {"content-type", "application/json"}});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.header("retry-after"), "5");
  auto r = http_get(relay.port(), "/health");
  auto h = parse_object(r.body);
  EXPECT_EQ(str(h, "status"), "unhealthy");
  EXPECT_EQ(redis_status(h), "unhealthy");
  EXPECT_FALSE(relay.process().poll()) << "the server must keep running";

  ASSERT_TRUE(redis.start());
  EXPECT_TRUE(wait_until([&] { return http_get(relay.port(), "/health").status == 200; }, 15s)) << relay.log();
}

TEST(Serve, ExternalRedisWithPasswordAndDb) {
  TempDir dir;
  RedisServer redis(dir.file("ext-redis"), 0, "pw-for-test-only");
  ASSERT_TRUE(redis.start());
  RelayProcess relay(dir, {"REDIS_URL=redis://:pw-for-test-only@127.0.0.1:" + std::to_string(redis.port()) + "/5"});
  ASSERT_TRUE(relay.start()) << relay.log();
  EXPECT_EQ(http_get(relay.port(), "/health").status, 200);
  EXPECT_EQ(relay.log().find("pw-for-test-only"), std::string::npos) << "password in the log";
}

TEST(Serve, ExternalRedisWithAnAclUser) {
  TempDir dir;
  RedisServer redis(dir.file("acl-redis"));
  redis.extra_args = {"--user", "default", "off", "--user", "crs", "on", ">acl-pw-0123456789", "~*", "&*", "+@all"};
  ASSERT_TRUE(redis.start());
  std::vector<std::string> env{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                               "REDIS_PASSWORD=acl-pw-0123456789"};
  // The password alone is the default user's, which is off: refused, and said so.
  {
    RelayProcess relay(dir, env);
    relay.start(/*wait_healthy=*/false);
    EXPECT_TRUE(wait_until([&] { return relay.log().find("WRONGPASS") != std::string::npos; })) << relay.log();
  }
  TempDir other;
  env.push_back("REDIS_USERNAME=crs");
  RelayProcess relay(other, env);
  ASSERT_TRUE(relay.start()) << relay.log();
  EXPECT_EQ(http_get(relay.port(), "/health").status, 200);
  EXPECT_EQ(relay.cli({"keys", "create", "--name", "acl"}).exit_code, 0);
  EXPECT_EQ(relay.log().find("acl-pw-0123456789"), std::string::npos) << "password in the log";
}

TEST(Serve, PortInUseIsAClearError) {
  TempDir dir;
  RelayProcess first(dir, {});
  ASSERT_TRUE(first.start()) << first.log();
  TempDir other;
  RelayProcess second(other, {"PORT=" + std::to_string(first.port())});
  second.start(/*wait_healthy=*/false);  // the port answers, but from the first relay
  auto code = second.process().wait_for(5s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(second.log().find("cannot listen on"), std::string::npos) << second.log();
}

TEST(Serve, InvalidConfigurationRefusesToStart) {
  TempDir dir;
  dir.write("config/config.toml", "[loadBalancing]\ndefaultStrategy = \"fastest\"\n");
  RelayProcess relay(dir, {});
  EXPECT_FALSE(relay.start());
  auto code = relay.process().wait_for(5s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(relay.log().find("config/config.toml:2: loadBalancing.defaultStrategy"), std::string::npos)
      << relay.log();
}

}  // namespace
}  // namespace crs::test
