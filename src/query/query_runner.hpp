#pragma once
// The one way admin listings, usage reports, exports, key holders' stats and the CLI read many
// records (never the relay's hot path, which has its own budget). It applies
// queryOptimizer.*: reads go in pipelines of `pipelineSize` commands with at most
// `maxConcurrency` in flight (or one per round trip when the optimizer is off: the same
// replies, slower), `batchSize` records per batch, and each query ends by `queryTimeout`. Every query's profile (commands, round trips, bytes, time) is logged when
// profiling is on, and one slower than monitoring.metrics.slowQueryThreshold always goes to
// the slow-query log.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/common.h>

#include "config/config.hpp"
#include "core/result.hpp"
#include "store/query.hpp"
#include "store/redis_client.hpp"

namespace crs::query {

class QueryCache;

struct QuerySettings {
  store::QueryOptions pipelining;
  size_t batch_size = 100;  // records per batch (see store::QueryOptions)
  bool profiling = false;
  spdlog::level::level_enum profile_level = spdlog::level::info;
  std::chrono::milliseconds slow_threshold{1000};
};

QuerySettings settings_of(const config::Config& cfg);

using store::is_query_timeout;

class QueryRunner {
 public:
  explicit QueryRunner(QuerySettings settings = {}, QueryCache* cache = nullptr)
      : settings_(std::move(settings)), cache_(cache) {}

  // The replies of `commands` in order; `name` says what it was in the profile and the
  // slow-query log ("keys.list"). Each record takes `per_record` commands, so a batch holds
  // batch_size records. A Redis error reply stays a reply.
  Task<Result<std::vector<store::RedisReply>>> run(store::RedisClient& redis, std::string name,
                                                   std::vector<store::RedisCommand> commands,
                                                   size_t per_record = 1) const;

  QueryCache* cache() const { return cache_; }
  const QuerySettings& settings() const { return settings_; }

 private:
  QuerySettings settings_;
  QueryCache* cache_;
};

}  // namespace crs::query
