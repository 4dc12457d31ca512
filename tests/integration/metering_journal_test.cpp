// Batched metering with the real binary (issue 23): usage.batchRecords and usage.batchMs decide
// when completions reach Redis; SIGTERM writes what waits; a kill -9 loses nothing that was
// answered and counts nothing twice after the restart (the journal), under load too; so does
// a Redis restart under load.
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kAccountKey = "sk-ant-api03-journal-account";

class MeteringJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis.persist();
    ASSERT_TRUE(redis.start());
    ASSERT_TRUE(fake.start());
  }

  void start(const std::string& config_toml, const std::string& workers = "2") {
    dir.write("config/config.toml", config_toml);
    relay = std::make_unique<RelayProcess>(
        dir, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                      "ENCRYPTION_KEY=jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj", "WORKERS=" + workers});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto r = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                         "--api-key", kAccountKey, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A key; returns {key, id}.
  std::pair<std::string, std::string> make_key(std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"keys", "create", "--name", fmt::format("k{}", ++keys_made), "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = relay->cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto o = json::parse(r.out).as_object();
    return {std::string(o["key"].as_string()), std::string(o["id"].as_string())};
  }

  HttpResponse post(const std::string& key, int i, std::chrono::milliseconds timeout = 10s) {
    std::string body = fmt::format(R"({{"model":"claude-sonnet-4-5-20250929","max_tokens":50,)"
                                   R"("messages":[{{"role":"user","content":"request {} {}"}}]}})",
                                   i, std::string(static_cast<size_t>(i % 29), 'y'));
    return http_request(relay->port(), "POST", "/v1/messages", body,
                        {{"x-api-key", key}, {"content-type", "application/json"}}, timeout);
  }

  // The tokens an answer carried (input + output + cache), or -1 if it is not a whole answer.
  static int64_t answered_tokens(const HttpResponse& r) {
    if (r.status != 200) return -1;
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("usage")) return -1;
    int64_t n = 0;
    for (const auto& [name, value] : v.as_object().at("usage").as_object())
      if (value.is_int64() && std::string_view(name).ends_with("tokens")) n += value.as_int64();
    return n;
  }

  int64_t counter(const std::string& id, const char* field) {
    std::string v = redis.cli({"HGET", "limit:" + id, field});
    return v.empty() ? 0 : std::stoll(v);
  }

  // The request ids of a key's folded records, with how often each appears.
  std::map<std::string, int> recorded_ids(const std::string& id) {
    std::map<std::string, int> out;
    std::string lines = redis.cli({"LRANGE", "usage:records:" + id, "0", "-1"});
    size_t start = 0;
    while (start < lines.size()) {
      size_t end = lines.find('\n', start);
      if (end == std::string::npos) end = lines.size();
      if (end > start) {
        auto o = json::parse(lines.substr(start, end - start)).as_object();
        ++out[std::string(o["requestId"].as_string())];
      }
      start = end + 1;
    }
    return out;
  }

  std::vector<std::string> journal_files() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path()))
      if (e.path().filename().string().starts_with("usage-journal-")) out.push_back(e.path().string());
    return out;
  }

  int fake_answers() {
    auto stats = json::parse(fake.stats_json()).as_object();
    return static_cast<int>(stats.at("total").as_int64());
  }

  TempDir dir;
  RedisServer redis{dir.file("redis")};
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  int keys_made = 0;
};

TEST_F(MeteringJournalTest, BatchRecordsAndBatchMsDecideWhenUsageReachesRedis) {
  // One I/O thread, so every request joins the same batch.
  start("[usage]\nbatchMs = 60000\nbatchRecords = 3\nrecordsPerKey = 100\n", "1");
  auto [key, id] = make_key();
  ASSERT_GT(answered_tokens(post(key, 1)), 0);
  ASSERT_GT(answered_tokens(post(key, 2)), 0);
  std::this_thread::sleep_for(300ms);  // would be long enough for a batch that went
  EXPECT_EQ(counter(id, "totalTokens"), 0) << "two records wait for a third (or a minute)";
  ASSERT_GT(answered_tokens(post(key, 3)), 0);
  EXPECT_TRUE(wait_until([&] { return counter(id, "totalTokens") > 0; }, 5s)) << "the third sends the batch";
  relay->stop();

  // A short linger sends one record alone.
  start("[usage]\nbatchMs = 1\nbatchRecords = 3\n", "1");
  auto [key2, id2] = make_key();
  ASSERT_GT(answered_tokens(post(key2, 1)), 0);
  EXPECT_TRUE(wait_until([&] { return counter(id2, "totalTokens") > 0; }, 5s));
}

TEST_F(MeteringJournalTest, SigtermWritesWhatWaitsBeforeExiting) {
  start("[usage]\nbatchMs = 60000\nbatchRecords = 1000\n");
  auto [key, id] = make_key();
  int64_t answered = 0;
  for (int i = 0; i < 5; ++i) answered += answered_tokens(post(key, i));
  EXPECT_EQ(counter(id, "totalTokens"), 0);
  auto code = relay->stop(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(counter(id, "totalTokens"), answered) << relay->log();
  EXPECT_TRUE(journal_files().empty()) << "nothing left for a next start";
}

TEST_F(MeteringJournalTest, KillNineLosesNothingAnsweredAndTheRestartCountsNothingTwice) {
  std::string config = "[usage]\nbatchMs = 60000\nbatchRecords = 1000\nrecordsPerKey = 100\n";
  start(config);
  auto [key, id] = make_key();
  // Admitted exactly (limits too small to grant shares of), so its completions give back leases.
  auto [limited, limited_id] = make_key({"--concurrency", "10", "--daily-cost", "100000"});
  int64_t answered = 0, answered_limited = 0;
  // (A completion that gives back a lease sends its thread's whole batch at once: the limited
  // key's requests go first.)
  for (int i = 0; i < 3; ++i) answered_limited += answered_tokens(post(limited, i));
  EXPECT_TRUE(wait_until([&] { return counter(limited_id, "totalTokens") == answered_limited; }, 5s))
      << "a completion that gives back a lease goes at once";
  for (int i = 0; i < 4; ++i) answered += answered_tokens(post(key, i));
  EXPECT_EQ(counter(id, "totalTokens"), 0) << "still waiting in the batch";
  relay->process().send_signal(SIGKILL);
  relay->process().wait_for(5s);
  auto left = journal_files();
  EXPECT_FALSE(left.empty());

  for (int run = 0; run < 2; ++run) {  // the second restart finds nothing more to send
    ASSERT_TRUE(relay->start()) << relay->log();
    EXPECT_TRUE(wait_until([&] { return counter(id, "totalTokens") == answered; }, 10s)) << relay->log();
    EXPECT_TRUE(wait_until([&] {
      for (const auto& f : left)
        if (std::filesystem::exists(f)) return false;
      return true;
    }, 10s)) << "the dead run's journal is deleted once Redis has it all";
    EXPECT_TRUE(wait_until([&] { return recorded_ids(id).size() == 4; }, 10s));
    for (const auto& [rid, n] : recorded_ids(id)) EXPECT_EQ(n, 1) << rid;
    EXPECT_EQ(counter(id, "totalTokens"), answered);
    EXPECT_EQ(counter(limited_id, "totalTokens"), answered_limited);
    relay->process().send_signal(SIGKILL);
    relay->process().wait_for(5s);
    left = journal_files();
  }
}

// Clients keep sending while the relay is killed (kill -9) or its Redis restarted; afterwards
// every answer a client got is recorded once, with its tokens, and nothing is recorded twice.
// Three keys: one with wide limits (admitted from this instance's grants), one with narrow ones
// (admitted exactly: its completions give back leases, sent at once) and one without limits
// (its completions wait up to 200 ms for others), so the kill finds records in flight.
class UnderLoad : public MeteringJournalTest {
 protected:
  static constexpr const char* kConfig = "[usage]\nrecordsPerKey = 100000\nbatchMs = 200\n";
  std::mutex mutex;
  std::map<std::string, std::map<std::string, int64_t>> answers;  // key id -> request id -> tokens
  std::atomic<bool> stop_load{false};
  std::atomic<int> sent{0};
  std::vector<std::thread> clients;
  std::pair<std::string, std::string> wide, narrow, plain;

  void make_keys() {
    wide = make_key({"--concurrency", "1000", "--daily-cost", "100000"});
    narrow = make_key({"--concurrency", "10", "--daily-cost", "100000"});
    plain = make_key();
  }
  void load(int threads_per_key) {
    for (const auto* k : {&wide, &narrow, &plain})
      for (int c = 0; c < threads_per_key; ++c)
        clients.emplace_back([this, key = k->first, id = k->second] {
          while (!stop_load) {
            auto r = post(key, sent++, 3s);
            int64_t tokens = answered_tokens(r);
            if (tokens > 0) {
              std::lock_guard lock(mutex);
              answers[id][r.header("x-request-id")] = tokens;
            }
            if (r.status == 0) std::this_thread::sleep_for(5ms);  // the relay is down: do not spin
          }
        });
  }
  void finish_load() {
    stop_load = true;
    for (auto& t : clients) t.join();
  }
  size_t answered() {
    std::lock_guard lock(mutex);
    return answers[wide.second].size() + answers[narrow.second].size() + answers[plain.second].size();
  }

  // Every answer recorded once, and nothing else twice; the key's counter holds at least the
  // answers' tokens (a request the relay finished as it was killed may be recorded unanswered).
  void expect_each_answer_recorded_once() {
    int records = 0;
    for (const auto& [id, by_request] : answers) {
      int64_t sum = 0;
      for (const auto& [rid, tokens] : by_request) sum += tokens;
      std::map<std::string, int> recorded;
      EXPECT_TRUE(wait_until([&] {
        recorded = recorded_ids(id);
        for (const auto& [rid, tokens] : by_request)
          if (!recorded.count(rid)) return false;
        return true;
      }, 20s, 200ms)) << "answers recorded: " << recorded.size() << " of " << by_request.size();
      for (const auto& [rid, n] : recorded) EXPECT_EQ(n, 1) << "recorded " << n << " times: " << rid;
      EXPECT_GE(counter(id, "totalTokens"), sum);
      records += static_cast<int>(recorded.size());
    }
    EXPECT_LE(records, fake_answers()) << "never more records than upstream answers";
  }
};

TEST_F(UnderLoad, KillNineMidLoadThenRestartRecordsEachAnswerOnce) {
  start(kConfig);
  make_keys();
  load(2);
  ASSERT_TRUE(wait_until([&] { return answered() >= 300; }, 30s));
  relay->process().send_signal(SIGKILL);
  relay->process().wait_for(5s);
  EXPECT_FALSE(journal_files().empty());
  ASSERT_TRUE(relay->start()) << relay->log();
  ASSERT_TRUE(wait_until([&] { return answered() >= 600; }, 30s));
  finish_load();
  expect_each_answer_recorded_once();
}

TEST_F(UnderLoad, RedisRestartedMidLoadRecordsEachAnswerOnce) {
  start(std::string(kConfig) + "[relay]\nadmitWhenRedisDown = true\n");
  make_keys();
  load(2);
  ASSERT_TRUE(wait_until([&] { return answered() >= 300; }, 30s));
  redis.kill_hard();
  size_t before = answered();
  std::this_thread::sleep_for(500ms);  // an outage to relay through: usage waits in the journal
  ASSERT_TRUE(redis.start());
  ASSERT_TRUE(wait_until([&] { return answered() >= before + 300; }, 30s));
  finish_load();
  expect_each_answer_recorded_once();
}

}  // namespace
}  // namespace crs::test
