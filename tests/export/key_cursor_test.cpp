// The export's walk over the creation index against a real redis-server: keys deleted or
// created between batches never make it skip or repeat a key.
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "export/key_cursor.hpp"
#include "store/keyspace.hpp"
#include "store/redis_options.hpp"
#include "support/run_task.hpp"
#include "support/support.hpp"

namespace crs::key_export {
namespace {

using test::run_task;

struct KeyCursorTest : ::testing::Test {
  test::TempDir dir;
  test::RedisServer server{dir.file("redis")};
  asio::io_context ctx;
  std::unique_ptr<store::RedisClient> client;

  void SetUp() override {
    ASSERT_TRUE(server.start());
    store::RedisOptions o;
    o.port = server.port();
    client = std::make_unique<store::RedisClient>(ctx.get_executor(), o);
    client->start();
    ASSERT_TRUE(test::wait_connected(ctx, *client));
  }

  void redis(std::vector<std::string> args) {
    auto r = run_task(ctx, client->command(store::RedisCommand(std::move(args))));
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->is_error()) << r->str;
  }
  void add(int score, const std::string& id) {
    redis({"ZADD", std::string(store::keyspace::kApiKeysByCreation), std::to_string(score), id});
  }
  void remove(const std::string& id) { redis({"ZREM", std::string(store::keyspace::kApiKeysByCreation), id}); }
  std::vector<std::string> next(Cursor& c, const Bounds& b, size_t n) {
    auto ids = run_task(ctx, next_ids(*client, c, b, n));
    EXPECT_TRUE(ids.ok());
    return ids ? *ids : std::vector<std::string>{};
  }
};

std::string id_of(int i) { return fmt::format("k{:03}", i); }

// Ties on the score sort by member: an offset into them would shift when members already
// read are deleted; the cursor resumes after the last member read, or where it would be.
TEST_F(KeyCursorTest, DeletingKeysAlreadyReadSkipsNothing) {
  for (int i = 0; i < 100; ++i) add(1000 + i / 10, id_of(i));  // ties in tens
  auto bounds = run_task(ctx, index_bounds(*client));
  ASSERT_TRUE(bounds.ok());
  EXPECT_EQ(bounds->total, 100);
  Cursor cursor;
  std::vector<std::string> seen = next(cursor, *bounds, 35);
  ASSERT_EQ(seen.size(), 35u);
  for (int i = 0; i < 35; i += 2) remove(id_of(i));  // half the keys read, across scores and ties
  remove(id_of(33));                                  // the cursor's own
  remove(id_of(34));
  for (auto batch = next(cursor, *bounds, 7); !batch.empty(); batch = next(cursor, *bounds, 7)) {
    seen.insert(seen.end(), batch.begin(), batch.end());
    remove(batch.back());  // and the last one read, each time
  }
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], id_of(i));
}

TEST_F(KeyCursorTest, KeysCreatedAfterTheStartAreLeftOutAndDeletedOnesAhead) {
  for (int i = 0; i < 20; ++i) add(1000 + i, id_of(i));
  auto bounds = run_task(ctx, index_bounds(*client));
  ASSERT_TRUE(bounds.ok());
  Cursor cursor;
  std::vector<std::string> seen = next(cursor, *bounds, 5);
  add(5000, "later");
  add(1002, "k002b");   // behind the cursor: not read
  add(1010, "k010b");   // ahead of it, within the bounds: read
  remove(id_of(12));    // ahead of it: not read
  for (auto batch = next(cursor, *bounds, 5); !batch.empty(); batch = next(cursor, *bounds, 5))
    seen.insert(seen.end(), batch.begin(), batch.end());
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size());
  EXPECT_FALSE(unique.count("later"));
  EXPECT_FALSE(unique.count("k002b"));
  EXPECT_TRUE(unique.count("k010b"));
  EXPECT_FALSE(unique.count(id_of(12)));
  EXPECT_EQ(seen.size(), 20u);  // 20 - k012 + k010b
}

}  // namespace
}  // namespace crs::key_export
