// Completions in batches (limits/completion_batch.hpp, limits/metering.hpp) against a real
// redis-server: a batch charges each key the sum of its records and gives back exactly the
// leases still held; any copy after the first is a no-op; the journal holds every record before
// add() resumes, and what a dead run left unacknowledged is sent again and counted once.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "limits/completion_batch.hpp"
#include "limits/limits.hpp"
#include "limits/metering.hpp"
#include "store/redis_client.hpp"
#include "store/redis_script.hpp"
#include "support/redis_fixture.hpp"
#include "usage/journal.hpp"

namespace crs::limits {
namespace {

using namespace std::chrono_literals;
using test::run_task;

Completion record(const std::string& key, const std::string& lease, int64_t cost, int64_t tokens,
                  const std::string& day = "2026-12-05", const std::string& week = "2026-11-30T00") {
  usage::UsageEvent e;
  e.timestamp_ms = 1'764'900'000'000;
  e.key_id = key;
  e.model = "claude-sonnet-4-5-20250929";
  e.usage.input_tokens = tokens;
  e.cost_micro = cost;
  e.status = 200;
  e.request_id = "req-" + lease + "-" + std::to_string(cost);
  return Completion{key, lease, cost, tokens, day, week, e.to_wire()};
}

struct CompletionBatch : test::RedisFixture {
  void SetUp() override { connect(500ms); }

  std::string apply(const BatchId& id, const std::vector<Completion>& records) {
    auto call = batch_call(id, records);
    auto reply = run_task(ctx, store::run_script(*redis, *call.script, call.command));
    EXPECT_TRUE(reply.ok() && !reply->is_error()) << (reply.ok() ? reply->str : reply.error().message);
    return reply.ok() ? reply->str : "";
  }
  std::string cli(const std::vector<std::string>& args) { return server.cli(args); }
  std::string counter(const std::string& key, const std::string& field) {
    return cli({"HGET", Limits::counters_key(key), field});
  }
  // The events the batches appended: one entry per batch, its events' lines joined by '\n'.
  int64_t events() {
    return std::stoll(cli({"EVAL",
                           "local n = 0 for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do "
                           "n = n + 1 + select(2, string.gsub(e[2][2], '\\n', '')) end return n",
                           "1", "usage:batches"}));
  }
  int64_t batch_entries() { return std::stoll(cli({"XLEN", "usage:batches"})); }
  // Runs the context until `done` or 10 s.
  template <class F>
  bool spin_until(F done) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) ctx.run_one_for(20ms);
    return done();
  }
};

TEST_F(CompletionBatch, ChargesEachKeyTheSumOfItsRecordsAndGivesBackHeldLeasesOnly) {
  std::string held_a = Limits::lease_member("a1", 500, 40), held_b = Limits::lease_member("a2", 700, 60);
  std::string gone = Limits::lease_member("a3", 9000, 900);  // expired and tidied by an admission
  cli({"ZADD", Limits::leases_key("ka"), "99999999999999", held_a});
  cli({"ZADD", Limits::leases_key("ka"), "99999999999999", held_b});
  cli({"HSET", Limits::counters_key("ka"), "resCost", "1200", "resTokens", "100", "totalCost", "10"});
  std::vector<Completion> batch{record("ka", held_a, 100, 7), record("kb", "", 30, 3), record("ka", held_b, 200, 11),
                                record("ka", gone, 5, 1)};
  EXPECT_EQ(apply(BatchId{"t", 1}, batch), "ok");
  EXPECT_EQ(counter("ka", "totalCost"), "315");
  EXPECT_EQ(counter("ka", "totalTokens"), "19");
  EXPECT_EQ(counter("ka", "dayCost"), "305");
  EXPECT_EQ(counter("ka", "resCost"), "0") << "both held reservations came back, the tidied one did not";
  EXPECT_EQ(counter("ka", "resTokens"), "0");
  EXPECT_EQ(cli({"ZCARD", Limits::leases_key("ka")}), "0");
  EXPECT_EQ(counter("kb", "totalCost"), "30");
  EXPECT_EQ(events(), 4);
  EXPECT_EQ(batch_entries(), 1) << "one stream entry for the batch's events";
}

TEST_F(CompletionBatch, EveryCopyAfterTheFirstIsANoOp) {
  std::vector<Completion> batch{record("ka", "", 100, 7), record("ka", "", 1, 1)};
  EXPECT_EQ(apply(BatchId{"t", 5}, batch), "ok");
  EXPECT_EQ(apply(BatchId{"t", 5}, batch), "applied");
  EXPECT_EQ(apply(BatchId{"other-run", 5}, batch), "ok") << "another run's batch 5 is another batch";
  EXPECT_EQ(counter("ka", "totalCost"), "202");
  EXPECT_EQ(events(), 4);
}

TEST_F(CompletionBatch, RecordsOnBothSidesOfMidnightChargeTheirOwnDays) {
  std::vector<Completion> batch{record("ka", "", 100, 1, "2026-12-05"), record("ka", "", 40, 1, "2026-12-06"),
                                record("ka", "", 2, 1, "2026-12-06")};
  EXPECT_EQ(apply(BatchId{"t", 9}, batch), "ok");
  EXPECT_EQ(counter("ka", "day"), "2026-12-06");
  EXPECT_EQ(counter("ka", "dayCost"), "42");
  EXPECT_EQ(counter("ka", "weekCost"), "142");
  EXPECT_EQ(counter("ka", "totalCost"), "142");
}

TEST(CompletionJournal, AcknowledgedBatchesAndACutTailAreLeftOut) {
  std::string first, second;
  journal_record(first, BatchId{"t", 1}, record("ka", "l|1|2", 10, 1));
  journal_record(first, BatchId{"t", 2}, record("ka", "", 20, 2));
  journal_record(first, BatchId{"t", 1}, record("kb", "", 30, 3));
  journal_record(first, BatchId{"t", 3}, record("kc", "", 40, 4));
  journal_ack(second, BatchId{"t", 2});  // an acknowledgement in a later segment
  journal_record(second, BatchId{"t", 4}, record("kd", "", 50, 5));
  second.resize(second.size() - 7);  // cut by a crash in the middle of a write
  auto left = unacknowledged({first, second});
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].id, (BatchId{"t", 1}));
  ASSERT_EQ(left[0].records.size(), 2u);
  EXPECT_EQ(left[0].records[0].lease, "l|1|2");
  EXPECT_EQ(left[0].records[1].key_id, "kb");
  EXPECT_EQ(left[0].records[1].event, record("kb", "", 30, 3).event);
  EXPECT_EQ(left[1].id, (BatchId{"t", 3}));
}

MeteringOptions options(const std::string& dir, std::chrono::milliseconds linger, size_t max_records) {
  MeteringOptions m;
  m.journal_dir = dir;
  m.journal_prefix = "usage-journal-1-";
  m.token = "run.0";
  m.linger = linger;
  m.max_records = max_records;
  m.retry = 50ms;
  return m;
}

std::vector<std::string> journal_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().starts_with("usage-journal-")) out.push_back(e.path().string());
  return out;
}

TEST_F(CompletionBatch, AddResumesWithTheRecordInTheJournalAndTheBatchWaitsForItsSize) {
  std::string jdir = dir.file("journal");
  std::filesystem::create_directories(jdir);
  auto metering = std::make_unique<Metering>(ctx.get_executor(), *redis, options(jdir, 1h, 3));
  run_task(ctx, metering->add(record("ka", "", 10, 1), false));
  run_task(ctx, metering->add(record("ka", "", 10, 1), false));
  auto files = journal_files(jdir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(unacknowledged({test::read_file(files[0])}).at(0).records.size(), 2u) << "both on disk";
  for (int i = 0; i < 20; ++i) ctx.poll();
  EXPECT_EQ(counter("ka", "totalCost"), "") << "the linger is an hour and the batch holds 3";
  EXPECT_EQ(metering->in_flight(), 2);
  run_task(ctx, metering->add(record("ka", "", 10, 1), false));
  ASSERT_TRUE(spin_until([&] { return metering->in_flight() == 0; }));
  EXPECT_EQ(counter("ka", "totalCost"), "30");
  ASSERT_TRUE(spin_until([&] { return unacknowledged({test::read_file(files[0])}).empty(); })) << "acknowledged";
  metering.reset();
  EXPECT_TRUE(spin_until([&] { return journal_files(jdir).empty(); })) << "a clean stop leaves no journal";
}

TEST_F(CompletionBatch, AnUrgentRecordGoesAtTheEndOfItsTurn) {
  std::string jdir = dir.file("journal");
  std::filesystem::create_directories(jdir);
  Metering metering(ctx.get_executor(), *redis, options(jdir, 1h, 100));
  cli({"ZADD", Limits::leases_key("ka"), "99999999999999", "lease-1"});
  run_task(ctx, metering.add(record("ka", "lease-1", 10, 1), true));
  ASSERT_TRUE(spin_until([&] { return cli({"ZCARD", Limits::leases_key("ka")}) == "0"; }));
  EXPECT_EQ(counter("ka", "totalCost"), "10");
}

TEST_F(CompletionBatch, BatchesRedisDidNotTakeAreSentAgainOnceItIsBack) {
  std::string jdir = dir.file("journal");
  std::filesystem::create_directories(jdir);
  Metering metering(ctx.get_executor(), *redis, options(jdir, 1ms, 100));
  server.kill_hard();
  run_task(ctx, metering.add(record("ka", "", 10, 1), false));
  run_task(ctx, metering.add(record("ka", "", 20, 1), false));
  ASSERT_TRUE(spin_until([&] { return metering.in_flight() == 0 && metering.kept() == 2; }));
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(spin_until([&] { return metering.kept() == 0 && counter("ka", "totalCost") == "30"; }));
  EXPECT_EQ(events(), 2);
}

// A process that starts beside a live one (a takeover) must not adopt its journal.
TEST(CompletionJournalFiles, ALiveProcesssSegmentsAreNoLeftovers) {
  test::TempDir dir;
  {
    usage::Journal live(dir.path(), "usage-journal-1-", "live.0");
    live.buffer() = "R...\n";
    live.write();
    EXPECT_TRUE(usage::Journal::leftovers(dir.path(), "usage-journal-1-").empty()) << "held by a live journal";
    live.open_unit();  // unsettled: the file stays after it
  }
  auto left = usage::Journal::leftovers(dir.path(), "usage-journal-1-");
  ASSERT_EQ(left.size(), 1u) << "its process gone, the file is a leftover";
  EXPECT_EQ(left[0].text, "R...\n");
  EXPECT_TRUE(usage::Journal::leftovers(dir.path(), "usage-journal-1-").empty()) << "and adopted by one reader only";
  ::close(left[0].fd);
}

TEST_F(CompletionBatch, WhatADeadRunLeftIsSentAgainAndCountedOnce) {
  std::string jdir = dir.file("journal");
  std::filesystem::create_directories(jdir);
  // A run died with three batches journaled: one acknowledged, one applied whose
  // acknowledgement never came, one never sent.
  std::string text;
  std::vector<Completion> acked{record("ka", "", 1, 1)}, applied{record("ka", "", 10, 1)},
      unsent{record("ka", "", 100, 1), record("kb", "", 7, 1)};
  for (const auto& r : acked) journal_record(text, BatchId{"dead.0", 0}, r);
  for (const auto& r : applied) journal_record(text, BatchId{"dead.0", 1}, r);
  for (const auto& r : unsent) journal_record(text, BatchId{"dead.0", 2}, r);
  journal_ack(text, BatchId{"dead.0", 0});
  std::ofstream(jdir + "/usage-journal-1-dead.0-1.log") << text;
  EXPECT_EQ(apply(BatchId{"dead.0", 0}, acked), "ok");
  EXPECT_EQ(apply(BatchId{"dead.0", 1}, applied), "ok");

  auto left = usage::Journal::leftovers(jdir, "usage-journal-1-");
  ASSERT_EQ(left.size(), 1u);
  auto batches = unacknowledged({left[0].text});
  ASSERT_EQ(batches.size(), 2u);
  Metering metering(ctx.get_executor(), *redis, options(jdir, 1ms, 100));
  std::string path = left[0].path;
  metering.adopt(std::move(batches), std::move(left));
  ASSERT_TRUE(spin_until([&] { return metering.kept() == 0 && counter("kb", "totalCost") == "7"; }));
  EXPECT_EQ(counter("ka", "totalCost"), "111") << "each batch once";
  EXPECT_EQ(events(), 4);
  ASSERT_TRUE(spin_until([&] { return !std::filesystem::exists(path); })) << "the dead run's file is gone";
}

}  // namespace
}  // namespace crs::limits
