#pragma once
// Many keys written straight into Redis with redis-cli --pipe, laid out as KeyStore writes
// them: for tests of exports and listings at scale.
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/crypto.hpp"
#include "support/support.hpp"
#include "usage/usage_reader.hpp"

namespace crs::test {

inline std::string resp(const std::vector<std::string>& args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (const auto& a : args) fmt::format_to(std::back_inserter(out), "${}\r\n{}\r\n", a.size(), a);
  return out;
}

// Writes `n` keys straight into Redis (as KeyStore lays them out), every third with usage;
// returns their ids in creation order.
inline std::vector<std::string> populate(RedisServer& redis, const TempDir& dir, int n) {
  std::vector<std::string> ids;
  std::string commands;
  int64_t base_ms = 1767225600000;  // 2026-01-01
  for (int i = 0; i < n; ++i) {
    std::string id = crypto::uuid_v4(), digest = crypto::random_hex(32);
    std::string created = fmt::format("2026-01-01T00:{:02}:{:02}.{:03}Z", (i / 60000) % 60, (i / 1000) % 60, i % 1000);
    commands += resp({"HSET", "apikey:" + id, "id", id, "name", fmt::format("key {}, \"n\"", i), "apiKey", digest,
                      "isActive", "true", "createdAt", created, "tags", "[\"bulk\"]", "description", "bulk key"});
    commands += resp({"HSET", "apikey:hash_map", digest, id});
    commands += resp({"ZADD", "apikey:idx:createdAt", std::to_string(base_ms + i), id});
    if (i % 3 == 0)
      commands += resp({"HSET", usage::all_time_key(usage::Subject::Key, id), "totalRequests", std::to_string(i % 97 + 1),
                        "totalCostMicro", std::to_string(i)});
    ids.push_back(std::move(id));
  }
  std::ofstream(dir.file("keys.resp"), std::ios::binary) << commands;
  auto r = run_command({"bash", "-c", "redis-cli -p " + std::to_string(redis.port()) + " --pipe < " + dir.file("keys.resp")},
                       {}, "", 120s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return ids;
}

}  // namespace crs::test
