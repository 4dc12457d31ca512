// Redis over TLS, verified both ways: a redis-server listening with TLS only and asking for a
// client certificate (tls-auth-clients). Each of redis.tls, redis.tlsCaFile and the client
// certificate is needed, and the relay says which step failed.
#include <algorithm>

#include <gtest/gtest.h>

#include "core/subprocess.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

constexpr char kPassword[] = "tls-redis-pw-0123456789";

class RedisTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(make_certificates());
    SpawnOptions o;
    o.argv = {"redis-server", "--port", "0", "--tls-port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
              "--dir", dir.path(), "--requirepass", kPassword, "--tls-cert-file", dir.file("server.crt"),
              "--tls-key-file", dir.file("server.key"), "--tls-ca-cert-file", dir.file("ca.crt"),
              "--tls-auth-clients", "yes"};
    o.stdout_path = dir.file("redis.log");
    o.stderr_path = "=stdout";
    auto child = Subprocess::spawn(o);
    ASSERT_TRUE(child);
    redis.emplace(std::move(child.value()));
    ASSERT_TRUE(wait_until([&] { return cli({"PING"}) == "PONG\n"; }, 10s)) << read_file(dir.file("redis.log"));
  }
  bool openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv).exit_code == 0;
  }
  // A CA, the server's certificate for 127.0.0.1 and a client certificate, both from the CA.
  bool make_certificates() {
    dir.write("san.ext", "subjectAltName=IP:127.0.0.1\n");
    return openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file("ca.key"), "-out",
                    dir.file("ca.crt"), "-days", "1", "-subj", "/CN=test redis CA"}) &&
           leaf("server", true) && leaf("client", false);
  }
  bool leaf(const std::string& name, bool with_san) {
    std::vector<std::string> sign{"x509", "-req", "-in", dir.file(name + ".csr"), "-CA", dir.file("ca.crt"), "-CAkey",
                                  dir.file("ca.key"), "-CAcreateserial", "-out", dir.file(name + ".crt"), "-days", "1"};
    if (with_san) sign.insert(sign.end(), {"-extfile", dir.file("san.ext")});
    return openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file(name + ".key"), "-out",
                    dir.file(name + ".csr"), "-subj", "/CN=" + name}) &&
           openssl(sign);
  }
  std::string cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"redis-cli", "-p", std::to_string(port), "--tls", "--cacert", dir.file("ca.crt"),
                                  "--cert", dir.file("client.crt"), "--key", dir.file("client.key"),
                                  "--no-auth-warning", "-a", kPassword};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv).out;
  }
  std::vector<std::string> env(std::vector<std::string> more) {
    more.push_back("REDIS_HOST=127.0.0.1");
    more.push_back("REDIS_PORT=" + std::to_string(port));
    more.push_back(std::string("REDIS_PASSWORD=") + kPassword);
    return more;
  }
  // Starts a relay that cannot reach Redis and waits for a line that says why (any of `whys`).
  void refused(std::vector<std::string> settings, const std::vector<std::string>& whys) {
    TempDir relay_dir;
    RelayProcess relay(relay_dir, env(std::move(settings)));
    relay.start(/*wait_healthy=*/false);
    auto told = [&] {
      std::string log = relay.log();
      return std::any_of(whys.begin(), whys.end(), [&](const auto& why) { return log.find(why) != std::string::npos; });
    };
    EXPECT_TRUE(wait_until(told, 15s)) << relay.log();
  }

  TempDir dir;
  int port = free_port();
  std::optional<Subprocess> redis;
};

TEST_F(RedisTlsTest, EachSettingIsNeededAndTheLastMakesItWork) {
  // redis.tls off: the server speaks TLS only.
  refused({}, {"redis 127.0.0.1:" + std::to_string(port) + ": "});
  // redis.tls on, without our CA: the server's certificate is not trusted.
  refused({"REDIS_TLS=true"}, {"certificate verify failed"});
  // With the CA but no client certificate: the server refuses the handshake.
  // (TLS 1.3 asks for it after the handshake: the refusal arrives with the first reply, or,
  // when the server has closed before the client's first command reaches it, as a reset that
  // discards the alert.)
  std::string prefix = "redis 127.0.0.1:" + std::to_string(port) + ": ";
  refused({"REDIS_TLS=true", "REDIS_TLS_CA_FILE=" + dir.file("ca.crt")},
          {"certificate required", prefix + "Connection reset by peer"});

  TempDir relay_dir;
  RelayProcess relay(relay_dir, env({"REDIS_TLS=true", "REDIS_TLS_CA_FILE=" + dir.file("ca.crt"),
                                     "REDIS_TLS_CERT_FILE=" + dir.file("client.crt"),
                                     "REDIS_TLS_KEY_FILE=" + dir.file("client.key")}));
  ASSERT_TRUE(relay.start()) << relay.log();
  EXPECT_EQ(http_get(relay.port(), "/health").status, 200);
  auto created = relay.cli({"keys", "create", "--name", "over-tls", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(cli({"HLEN", "apikey:hash_map"}), "0\n");
  EXPECT_EQ(relay.log().find(kPassword), std::string::npos);
}

TEST_F(RedisTlsTest, ARedissUrlTurnsTlsOn) {
  TempDir relay_dir;
  RelayProcess relay(relay_dir, {"REDIS_URL=rediss://:" + std::string(kPassword) + "@127.0.0.1:" + std::to_string(port),
                                 "REDIS_TLS_CA_FILE=" + dir.file("ca.crt"), "REDIS_TLS_CERT_FILE=" + dir.file("client.crt"),
                                 "REDIS_TLS_KEY_FILE=" + dir.file("client.key")});
  ASSERT_TRUE(relay.start()) << relay.log();
  EXPECT_EQ(http_get(relay.port(), "/health").status, 200);
}

TEST_F(RedisTlsTest, ACertificateWithoutItsKeyOrAFileThatCannotBeReadStopsTheStart) {
  TempDir relay_dir;
  RelayProcess half(relay_dir, env({"REDIS_TLS=true", "REDIS_TLS_CERT_FILE=" + dir.file("client.crt")}));
  EXPECT_FALSE(half.start());
  EXPECT_NE(half.log().find("redis.tlsCertFile and redis.tlsKeyFile go together"), std::string::npos) << half.log();
  TempDir other;
  RelayProcess missing(other, env({"REDIS_TLS=true", "REDIS_TLS_CA_FILE=" + dir.file("absent.crt")}));
  EXPECT_FALSE(missing.start());
  EXPECT_NE(missing.log().find("redis.tlsCaFile: cannot read"), std::string::npos) << missing.log();
}

}  // namespace
}  // namespace crs::test
