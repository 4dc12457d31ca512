// Redis Sentinel: a primary, a replica and three sentinels on loopback (redis-server --sentinel),
// all with passwords. The relay finds the primary through the sentinels; the primary is killed
// under load; requests fail cleanly or succeed during the switch, the relay follows the new
// primary, and every relayed request is metered exactly once.
#include <csignal>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/subprocess.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr char kPassword[] = "data-pw-0123456789";
constexpr char kSentinelPassword[] = "sentinel-pw-0123456789";

std::string message(bool stream) {
  return std::string(R"({"model":"claude-sonnet-4-5-20250929","max_tokens":20,"stream":)") + (stream ? "true" : "false") +
         R"(,"messages":[{"role":"user","content":"hi"}]})";
}

class Sentinel {
 public:
  Sentinel(const TempDir& dir, int index, int primary_port) : port_(free_port()) {
    std::string conf = dir.file(fmt::format("sentinel-{}/sentinel.conf", index));
    dir.write(fmt::format("sentinel-{}/sentinel.conf", index),
              fmt::format("port {0}\nbind 127.0.0.1\ndir {1}\nlogfile {1}/sentinel.log\n"
                          "requirepass {2}\nsentinel sentinel-pass {2}\n"
                          "sentinel monitor mymaster 127.0.0.1 {3} 2\nsentinel auth-pass mymaster {4}\n"
                          "sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n",
                          port_, dir.file(fmt::format("sentinel-{}", index)), kSentinelPassword, primary_port,
                          kPassword));
    conf_ = conf;
  }
  bool start() {
    SpawnOptions o;
    o.argv = {"redis-server", conf_, "--sentinel"};
    auto child = Subprocess::spawn(o);
    if (!child) return false;
    process_.emplace(std::move(child.value()));
    return true;
  }
  std::string cli(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"redis-cli", "-p", std::to_string(port_), "--no-auth-warning", "-a", kSentinelPassword};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    auto out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }
  // The primary's port as this sentinel tells it.
  std::string primary() const {
    auto out = cli({"SENTINEL", "get-master-addr-by-name", "mymaster"});
    auto nl = out.find('\n');
    return nl == std::string::npos ? "" : out.substr(nl + 1);
  }
  int port() const { return port_; }

 private:
  int port_;
  std::string conf_;
  std::optional<Subprocess> process_;
};

class SentinelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(primary.start());
    replica.extra_args = {"--replicaof", "127.0.0.1", std::to_string(primary.port()), "--masterauth", kPassword};
    ASSERT_TRUE(replica.start());
    ASSERT_TRUE(wait_until([&] {
      return replica.cli({"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
    }, 20s));
    for (int i = 0; i < 3; ++i) {
      sentinels.push_back(std::make_unique<Sentinel>(dir, i, primary.port()));
      ASSERT_TRUE(sentinels.back()->start());
    }
    // Each sentinel knows the two others and the replica: a failover can be voted and done.
    for (auto& s : sentinels)
      ASSERT_TRUE(wait_until([&] {
        auto info = s->cli({"SENTINEL", "master", "mymaster"});
        return info.find("num-other-sentinels\n2") != std::string::npos &&
               info.find("num-slaves\n1") != std::string::npos;
      }, 30s)) << s->cli({"SENTINEL", "master", "mymaster"});
    ASSERT_TRUE(fake.start());
  }

  std::vector<std::string> env() {
    std::string list;
    for (auto& s : sentinels) list += (list.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(s->port());
    return {"REDIS_SENTINELS=" + list, "REDIS_SENTINEL_NAME=mymaster", std::string("REDIS_PASSWORD=") + kPassword,
            std::string("REDIS_SENTINEL_PASSWORD=") + kSentinelPassword,
            "ENCRYPTION_KEY=ssssssssssssssssssssssssssssssss", "JWT_SECRET=ssssssssssssssssssssssssssssssssssssssss"};
  }

  void load(int port, const std::string& key) {
    for (int t = 0; t < 4; ++t)
      clients.emplace_back([this, port, key, t] {
        for (int i = 0; !stop; ++i) {
          bool stream = (i + t) % 2 == 0;
          auto r = http_request(port, "POST", "/v1/messages", message(stream),
                                {{"x-api-key", key}, {"content-type", "application/json"}}, 30s);
          bool ok = r.status == 200 && (!stream || r.body.find("message_stop") != std::string::npos);
          std::lock_guard lock(mutex);
          if (ok) ++succeeded;
          else outcomes.push_back(r);
        }
      });
  }
  void finish_load() {
    stop = true;
    for (auto& c : clients) c.join();
    clients.clear();
  }
  void TearDown() override {
    if (!clients.empty()) finish_load();
  }
  int successes() {
    std::lock_guard lock(mutex);
    return succeeded;
  }
  // Every request the upstream answered is metered once: none lost in the switch, none twice.
  void expect_metered_once(RelayProcess& relay, const std::string& key_id) {
    auto upstream = json::parse(fake.requests_json()).at("requests").as_array().size();
    auto metered = [&]() -> int64_t {
      auto usage = relay.cli({"usage", "--key", key_id, "--json"});
      if (usage.exit_code != 0) return -1;
      return json::parse(usage.out).at("total").at("requests").as_int64();
    };
    bool equal = wait_until([&] { return metered() == static_cast<int64_t>(upstream); }, 30s);
    EXPECT_TRUE(equal) << metered() << " metered, " << upstream << " relayed";
    if (!equal) {  // what the relay said about Redis and usage
      std::istringstream log(relay.log());
      int shown = 0;
      for (std::string line; std::getline(log, line) && shown < 60;)
        if (line.find("spool") != std::string::npos || line.find("not recorded") != std::string::npos ||
            line.find("refused") != std::string::npos || line.find("error") != std::string::npos) {
          std::cout << line << "\n";
          ++shown;
        }
    }
  }
  // During a switch a request either succeeded or was refused with an error in the API's shape.
  void expect_clean_refusals() {
    std::cout << successes() << " succeeded, " << outcomes.size() << " refused during the switch\n";
    for (const auto& r : outcomes) {
      EXPECT_TRUE(r.status == 503 || r.status == 500 || r.status == 529) << r.status << " " << r.body;
      if (r.status == 0) continue;
      EXPECT_EQ(json::parse(r.body).at("type").as_string(), "error") << r.body;
    }
  }
  // An account and a key made through the relay: the key's id and secret.
  std::pair<std::string, std::string> account_and_key(RelayProcess& relay) {
    auto added = relay.cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                            "--api-key", "sk-ant-api03-sentinel-000000", "--json"});
    EXPECT_EQ(added.exit_code, 0) << added.err;
    auto created = relay.cli({"keys", "create", "--name", "k", "--json"});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    auto made = json::parse(created.out);
    std::string key(made.at("key").as_string());
    EXPECT_TRUE(wait_until([&] {
      return http_request(relay.port(), "POST", "/v1/messages", message(false), {{"x-api-key", key}}).status == 200;
    }));
    return {std::string(made.at("id").as_string()), key};
  }

  TempDir dir;
  RedisServer primary{dir.file("primary"), 0, kPassword};
  RedisServer replica{dir.file("replica"), 0, kPassword};
  std::vector<std::unique_ptr<Sentinel>> sentinels;
  FakeUpstreamProcess fake{dir};
  std::vector<std::thread> clients;
  std::atomic<bool> stop{false};
  std::mutex mutex;
  int succeeded = 0;
  std::vector<HttpResponse> outcomes;  // every request that did not succeed
};

TEST_F(SentinelTest, TheRelayFollowsAFailoverUnderLoadAndMetersEveryRequestOnce) {
  TempDir relay_dir;
  RelayProcess relay(relay_dir, env());
  ASSERT_TRUE(relay.start()) << relay.log();
  EXPECT_NE(relay.log().find("primary 'mymaster' (sentinel)"), std::string::npos) << relay.log();
  EXPECT_EQ(relay.log().find(kPassword), std::string::npos);
  EXPECT_EQ(relay.log().find(kSentinelPassword), std::string::npos);
  auto [key_id, key] = account_and_key(relay);
  // The data is on the primary, and the replica has it.
  EXPECT_EQ(primary.cli({"EXISTS", "apikey:" + key_id}), "1");
  ASSERT_TRUE(wait_until([&] { return replica.cli({"EXISTS", "apikey:" + key_id}) == "1"; }));

  load(relay.port(), key);
  ASSERT_TRUE(wait_until([&] { return successes() >= 30; }, 30s));
  primary.kill_hard();
  ASSERT_TRUE(wait_until([&] { return sentinels[0]->primary() == std::to_string(replica.port()); }, 30s))
      << sentinels[0]->primary();
  int at_switch = successes();
  ASSERT_TRUE(wait_until([&] { return successes() >= at_switch + 40; }, 30s)) << relay.log();
  finish_load();

  expect_clean_refusals();
  EXPECT_NE(relay.log().find("primary 'mymaster' (sentinel): connected"), std::string::npos) << relay.log();
  expect_metered_once(relay, key_id);
  EXPECT_EQ(replica.cli({"ROLE"}).substr(0, 6), "master");
}

// SENTINEL FAILOVER promotes the replica while the old primary runs on, a writable primary
// until the sentinels demote it (then its writes since the promotion are dropped: Redis's split
// brain, which min-replicas-to-write narrows). The relay must leave it within a second of the
// sentinels naming the new one, and count nothing twice.
TEST_F(SentinelTest, AGracefulFailoverIsLeftWithinASecondAndNothingIsCountedTwice) {
  TempDir relay_dir;
  RelayProcess relay(relay_dir, env());
  ASSERT_TRUE(relay.start()) << relay.log();
  auto [key_id, key] = account_and_key(relay);
  load(relay.port(), key);
  ASSERT_TRUE(wait_until([&] { return successes() >= 30; }, 30s));
  EXPECT_EQ(sentinels[1]->cli({"SENTINEL", "FAILOVER", "mymaster"}), "OK");
  ASSERT_TRUE(wait_until([&] { return sentinels[0]->primary() == std::to_string(replica.port()); }, 30s));
  // No connection of the relay that writes is left on the old primary (the sentinels', ours and
  // the subscribers' aside: a subscriber only listens, and hears the new primary's messages
  // through replication once the old one is demoted).
  auto relay_connections = [&] {
    std::istringstream clients(primary.cli({"CLIENT", "LIST"}));
    int n = 0;
    for (std::string line; std::getline(clients, line);)
      if (line.find("name=sentinel") == std::string::npos && line.find("cmd=client|list") == std::string::npos &&
          line.find("flags=S") == std::string::npos && line.find("flags=P") == std::string::npos &&
          line.find("id=") != std::string::npos)
        ++n;
    return n;
  };
  ASSERT_TRUE(wait_until([&] { return relay_connections() == 0; }, 20s)) << primary.cli({"CLIENT", "LIST"});
  auto written_to_old = [&] { return primary.cli({"INFO", "commandstats"}); };
  std::string before = written_to_old();
  int at_switch = successes();
  ASSERT_TRUE(wait_until([&] { return successes() >= at_switch + 40; }, 30s)) << relay.log();
  finish_load();
  std::string after = written_to_old();
  auto evalsha_calls = [](const std::string& stats) {
    auto at = stats.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? std::string("0") : stats.substr(at + 22, stats.find(',', at) - at - 22);
  };
  EXPECT_EQ(evalsha_calls(after), evalsha_calls(before)) << "the relay still wrote to the old primary";
  expect_clean_refusals();
  auto upstream = json::parse(fake.requests_json()).at("requests").as_array().size();
  auto usage = relay.cli({"usage", "--key", key_id, "--json"});
  ASSERT_EQ(usage.exit_code, 0) << usage.err;
  int64_t metered = json::parse(usage.out).at("total").at("requests").as_int64();
  std::cout << metered << " metered of " << upstream << " relayed\n";
  EXPECT_LE(metered, static_cast<int64_t>(upstream)) << "counted twice";
}

TEST_F(SentinelTest, AWrongSentinelPasswordOrNameIsToldAndTheRelayWaits) {
  auto bad = env();
  for (auto& kv : bad)
    if (kv.starts_with("REDIS_SENTINEL_NAME=")) kv = "REDIS_SENTINEL_NAME=othermaster";
  TempDir relay_dir;
  RelayProcess relay(relay_dir, bad);
  relay.start(/*wait_healthy=*/false);
  ASSERT_TRUE(wait_until([&] {
    return relay.log().find("does not know a primary named 'othermaster'") != std::string::npos;
  }, 20s)) << relay.log();
  EXPECT_NE(http_request(relay.port(), "GET", "/health", "", {}, 2s).status, 200);
}

}  // namespace
}  // namespace crs::test
