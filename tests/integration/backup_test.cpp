// crs backup / crs restore against the real binary and a real redis-server: backup, flush,
// restore, and the same keys relay with the same usage; every refusal before a write.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/crypto.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr const char* kEncryptionKey = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

std::string message_body() {
  return R"({"model":"claude-sonnet-4-5-20250929","max_tokens":50,"messages":[{"role":"user","content":"hi"}]})";
}

class Backup : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
    start_relay();
  }

  std::vector<std::string> env(const std::string& encryption_key = kEncryptionKey) const {
    return {"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()), "ENCRYPTION_KEY=" + encryption_key,
            "JWT_SECRET=jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", "WORKERS=1"};
  }

  void start_relay() {
    relay = std::make_unique<RelayProcess>(dir, env());
    ASSERT_TRUE(relay->start()) << relay->log();
  }

  CommandResult crs(std::vector<std::string> args, const std::string& encryption_key = kEncryptionKey) const {
    args.insert(args.begin(), crs_binary());
    return run_command(args, env(encryption_key), dir.path());
  }

  std::string add_account() {
    auto r = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "c1", "--base-url", fake.url(),
                         "--api-key", "sk-ant-api03-backup-000000", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::string(json::parse(r.out).as_object().at("id").as_string());
  }

  std::pair<std::string, std::string> make_key(const std::string& name) {  // {key, id}
    auto r = relay->cli({"keys", "create", "--name", name, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto o = json::parse(r.out).as_object();
    return {std::string(o.at("key").as_string()), std::string(o.at("id").as_string())};
  }

  int relay_with(const std::string& key) {
    return http_request(relay->port(), "POST", "/v1/messages", message_body(),
                        {{"x-api-key", key}, {"content-type", "application/json"}})
        .status;
  }

  // The key holder's own totals (/apiStats), as the key holder sees them.
  json::object totals(const std::string& key) {
    auto r = http_request(relay->port(), "POST", "/apiStats/api/user-stats", json::serialize(json::object{{"apiKey", key}}),
                          {{"content-type", "application/json"}});
    if (r.status != 200) return {};
    return json::parse(r.body).as_object().at("data").as_object().at("usage").as_object().at("total").as_object();
  }

  int64_t dbsize() { return std::stoll(redis.cli({"DBSIZE"})); }

  TempDir dir;
  RedisServer redis{dir.path() + "/redis-data"};
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
};

json::object parsed(const CommandResult& r) { return json::parse(r.out).as_object(); }

TEST_F(Backup, BackupFlushRestoreAndTheSameKeysRelayWithTheSameUsage) {
  add_account();
  auto [key, id] = make_key("alice");
  ASSERT_TRUE(wait_until([&] { return relay_with(key) == 200; }));
  ASSERT_EQ(relay_with(key), 200);
  ASSERT_TRUE(wait_until([&] { return totals(key)["requests"].as_int64() == 2; }, 15s)) << json::serialize(totals(key));
  json::object before = totals(key);

  std::string file = dir.file("relay.crsbak");
  auto made = crs({"backup", "--out", file, "--json"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto report = parsed(made);
  EXPECT_TRUE(report["consistent"].as_bool());
  EXPECT_GT(report["keys"].as_int64(), 5);
  EXPECT_EQ(report["accounts"].as_object()["total"].as_int64(), 1);
  EXPECT_EQ(report["accounts"].as_object()["credentialsUnreadable"].as_int64(), 0);
  struct stat st{};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_NE(crs({"backup", "--out", file}).exit_code, 0);  // never overwritten
  // The plaintext key and the upstream credential are not in the file (only the digest, sealed).
  std::string bytes = read_file(file);
  EXPECT_EQ(bytes.find(key), std::string::npos);
  EXPECT_EQ(bytes.find("sk-ant-api03-backup-000000"), std::string::npos);

  ASSERT_EQ(relay->stop(), 0);
  redis.cli({"FLUSHALL"});
  ASSERT_EQ(dbsize(), 0);

  // A damaged file, another ENCRYPTION_KEY: refused, nothing written.
  std::string damaged = dir.file("damaged.crsbak");
  // A byte inside a value (past the name, its expiry and its length): framing stays intact.
  size_t inside_value = bytes.find("apikey:hash_map") + std::string("apikey:hash_map").size() + 12 + 2;
  std::string copy = bytes;
  copy[inside_value] ^= 0x01;
  std::ofstream(damaged, std::ios::binary) << copy;
  auto refused = crs({"restore", "--in", damaged});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("checksum mismatch"), std::string::npos) << refused.err;
  std::string cut = dir.file("cut.crsbak");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 40);
  EXPECT_NE(crs({"restore", "--in", cut}).exit_code, 0);
  // Edited by someone without the ENCRYPTION_KEY, its checksum recomputed: the MAC refuses it.
  std::string forged = dir.file("forged.crsbak");
  {
    auto trailer_at = bytes.rfind("\n{\"keys\"");
    ASSERT_NE(trailer_at, std::string::npos);
    std::string body = bytes.substr(0, trailer_at);
    body[inside_value] ^= 0x01;
    auto trailer = json::parse(bytes.substr(trailer_at + 1)).as_object();
    trailer["sha256"] = crypto::sha256_hex(body);
    std::ofstream(forged, std::ios::binary) << body << "\n" << json::serialize(trailer) << "\n";
  }
  auto forged_restore = crs({"restore", "--in", forged});
  EXPECT_NE(forged_restore.exit_code, 0);
  EXPECT_NE(forged_restore.err.find("MAC does not match"), std::string::npos) << forged_restore.err;
  std::string fifo = dir.file("fifo.crsbak");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto from_fifo = crs({"restore", "--in", fifo});
  EXPECT_NE(from_fifo.exit_code, 0);
  EXPECT_NE(from_fifo.err.find("not a regular file"), std::string::npos) << from_fifo.err;
  auto other_key = crs({"restore", "--in", file}, "cccccccccccccccccccccccccccccccc");
  EXPECT_NE(other_key.exit_code, 0);
  EXPECT_NE(other_key.err.find("ENCRYPTION_KEY is not the one"), std::string::npos) << other_key.err;
  EXPECT_EQ(dbsize(), 0);

  auto dry = crs({"restore", "--in", file, "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(parsed(dry)["restored"].as_int64() + parsed(dry)["expired"].as_int64(), report["keys"].as_int64());
  EXPECT_EQ(dbsize(), 0);

  auto restored = crs({"restore", "--in", file, "--json"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  EXPECT_EQ(parsed(restored)["errors"].as_int64(), 0);
  EXPECT_GT(dbsize(), 5);
  auto again = crs({"restore", "--in", file});  // no longer empty
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("--into-live"), std::string::npos) << again.err;

  start_relay();
  EXPECT_EQ(json::serialize(totals(key)), json::serialize(before));
  EXPECT_EQ(relay_with(key), 200);  // the key digest and the sealed credential both came back
  EXPECT_NE(fake.requests_json().find("sk-ant-api03-backup-000000"), std::string::npos);
}

TEST_F(Backup, IntoLiveAddsWhatIsMissingAndOverwritesNothing) {
  add_account();
  auto [deleted_key, deleted_id] = make_key("deleted-later");
  auto [kept_key, kept_id] = make_key("kept");
  auto [leaked_key, leaked_id] = make_key("renewed-later");
  ASSERT_TRUE(wait_until([&] { return relay_with(kept_key) == 200; }));
  std::string file = dir.file("live.crsbak");
  ASSERT_EQ(crs({"backup", "--out", file}).exit_code, 0);

  // A key renewed after the backup (its old plaintext leaked): the merge must not revive it.
  auto renewed = relay->cli({"keys", "renew", leaked_id, "--json"});
  ASSERT_EQ(renewed.exit_code, 0) << renewed.err;
  std::string fresh_key(json::parse(renewed.out).as_object().at("key").as_string());

  ASSERT_EQ(relay->cli({"keys", "delete", deleted_id}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return relay_with(deleted_key) == 401; }));
  auto [new_key, new_id] = make_key("made-after");
  ASSERT_EQ(relay_with(kept_key), 200);  // usage moves on after the backup
  ASSERT_TRUE(wait_until([&] { return totals(kept_key)["requests"].as_int64() >= 2; }, 15s));
  int64_t live_requests = totals(kept_key)["requests"].as_int64();

  // By default a key deleted since the backup (perhaps because it leaked) stays deleted.
  auto merged = crs({"restore", "--in", file, "--into-live", "--json"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err << merged.out;
  auto r = parsed(merged);
  EXPECT_EQ(r["deletedSinceBackup"].as_int64(), 1) << merged.out;
  EXPECT_GE(r["kept"].as_int64(), 1);
  EXPECT_EQ(redis.cli({"EXISTS", "apikey:" + deleted_id}), "0");
  EXPECT_EQ(relay_with(deleted_key), 401);

  // Asked for, it comes back: its record, then its digest in the index (held by the record).
  auto with_deleted = crs({"restore", "--in", file, "--into-live", "--include-deleted", "--json"});
  ASSERT_EQ(with_deleted.exit_code, 0) << with_deleted.err << with_deleted.out;
  r = parsed(with_deleted);
  EXPECT_GE(r["restored"].as_int64(), 1);  // the deleted key's record
  EXPECT_GE(r["merged"].as_int64(), 1);    // its digest back in apikey:hash_map
  EXPECT_TRUE(wait_until([&] { return relay_with(deleted_key) == 200; })) << "the deleted key came back";
  EXPECT_EQ(relay_with(new_key), 200);                 // made after the backup: untouched
  EXPECT_EQ(relay_with(leaked_key), 401);              // a renewed key's old digest never comes back
  EXPECT_EQ(relay_with(fresh_key), 200);
  EXPECT_EQ(totals(kept_key)["requests"].as_int64(), live_requests);  // the live counters were not rewound
  EXPECT_EQ(redis.cli({"KEYS", "crs:restore:scratch:*"}), "");  // no scratch key left
}

TEST_F(Backup, WithoutPauseTheCopyIsMarkedInconsistent) {
  auto made = crs({"backup", "--out", dir.file("np.crsbak"), "--no-pause", "--json"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_FALSE(parsed(made)["consistent"].as_bool());
  // After a paused copy, writes go on at once (the pause ended).
  ASSERT_EQ(crs({"backup", "--out", dir.file("p.crsbak")}).exit_code, 0);
  auto [key, id] = make_key("after-pause");
  EXPECT_FALSE(id.empty());
}

TEST_F(Backup, ACopyLongerThanMaxPauseIsRefusedAndALongerPauseTakesIt) {
  // Enough keys that copying them takes longer than 100 ms.
  ASSERT_EQ(redis.cli({"DEBUG", "POPULATE", "300000", "usage:populated"}), "OK");
  auto refused = crs({"backup", "--out", dir.file("short.crsbak"), "--max-pause", "100"});
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.err.find("longer than the write pause (--max-pause 100 ms)"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("short.crsbak")));
  auto taken = crs({"backup", "--out", dir.file("long.crsbak"), "--max-pause", "60000", "--json"});
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  EXPECT_TRUE(parsed(taken)["consistent"].as_bool());
}

// With the embedded Redis and the relay stopped, the CLI runs the embedded redis-server itself.
TEST(BackupEmbedded, ARelayThatIsStoppedIsBackedUpAndRestored) {
  TempDir dir;
  RelayProcess relay(dir, {});
  ASSERT_TRUE(relay.start()) << relay.log();
  auto created = relay.cli({"keys", "create", "--name", "embedded", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string key(json::parse(created.out).as_object().at("key").as_string());
  ASSERT_EQ(relay.stop(), 0);

  auto made = relay.cli({"backup", "--out", dir.file("e.crsbak")});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_NE(made.err.find("started its embedded Redis"), std::string::npos) << made.err;

  // The rollback of the README: keep the old data aside, restore into an empty one.
  fs::rename(dir.file("data/redis"), dir.file("data/redis.before-restore"));
  auto restored = relay.cli({"restore", "--in", dir.file("e.crsbak")});
  ASSERT_EQ(restored.exit_code, 0) << restored.err << restored.out;

  RelayProcess again(dir, {});
  ASSERT_TRUE(again.start()) << again.log();
  auto models = http_request(again.port(), "GET", "/v1/models", "", {{"x-api-key", key}});
  EXPECT_EQ(models.status, 200) << models.body;
}

}  // namespace
}  // namespace crs::test
