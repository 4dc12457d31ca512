#pragma once
// Folds the usage streams (usage:batches, an entry per completion batch, and usage:events, an
// entry per event: usage/batch_stream.hpp) into totals per key, account and model by hour, day
// and month (the Node.js service's key names; costs as integer micro-USD). Each relay instance
// runs one, as a member of one consumer group: an event is folded by exactly one instance,
// and a batch is applied with its acknowledgement in one Lua script, so a crash can delay
// an event but never lose it or count it twice. Entries of an instance that died are
// claimed by the others after `claim_after`.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/net.hpp"
#include "store/redis_options.hpp"
#include "usage/usage_event.hpp"

namespace crs::usage {

// The counters of every usage hash the aggregator folds into: a bucket (a day, a month, an hour,
// a model's all time) names a counter `bucket`; a totals hash (usage:<key>, usage:global:total,
// account_usage:<id>) names the same counter `total`. The integrity check and the importer read
// the same list.
struct CounterField {
  const char* bucket;
  const char* total;
};
inline constexpr CounterField kCounterFields[] = {
    {"requests", "totalRequests"},
    {"inputTokens", "totalInputTokens"},
    {"outputTokens", "totalOutputTokens"},
    {"cacheCreateTokens", "totalCacheCreateTokens"},
    {"cacheReadTokens", "totalCacheReadTokens"},
    {"allTokens", "totalAllTokens"},
    {"tokens", "totalTokens"},
    {"ephemeral5mTokens", "totalEphemeral5mTokens"},
    {"ephemeral1hTokens", "totalEphemeral1hTokens"},
    {"costMicro", "totalCostMicro"},
    {"webSearchRequests", "totalWebSearchRequests"},
};

struct AggregatorOptions {
  std::string consumer;                 // unique per instance
  int timezone_offset_hours = 8;        // day/month buckets (the Node.js service's TIMEZONE_OFFSET)
  // Entries read (or taken over) at once from each stream. A batch entry holds up to
  // usage.batchRecords events: 64 of them hold at most 16k. At 8k requests/s a second's
  // batches (~200 entries) are read in four calls; the thread's longest run on the CPU went
  // from 4.2-5.0 ms (all at once) to 2.7-2.9 ms, and so did the longest wait of an I/O thread
  // sharing that CPU (perf sched, bench/results/2026-12-06-issue23-step8-analysis.md).
  size_t batch = 64;
  // Events folded by one script call at most (whole entries; one entry may hold more): a backlog
  // of batch entries (up to usage.batchRecords events each) is folded in several calls, so no
  // call blocks Redis long or carries more than this many records for the keys' lists.
  size_t events_per_fold = 4000;
  std::chrono::milliseconds block{1000};
  // Pause after a batch that was not full, so events gather into batches: folding costs about
  // the same for 1 event as for 500, and it runs on the Redis the relay is waiting for. Limits
  // do not wait for folds (their counters are charged at completion); reports lag by this much.
  // At 250 ms, 576 req/s folded in batches of ~144 and cost 0.8 Redis commands per request.
  std::chrono::milliseconds gather{1000};
  std::chrono::milliseconds claim_after{std::chrono::minutes(2)};
  size_t records_per_key = 200;
  int64_t hourly_retention_days = 7;    // hourly buckets expire after this (days and months: 32 d, 365 d)
};

// The script arguments for one batch (exposed for tests).
std::vector<std::string> fold_arguments(const std::vector<std::pair<std::string, UsageEvent>>& events,
                                        const AggregatorOptions& options);

class UsageAggregator {
 public:
  UsageAggregator(asio::any_io_executor executor, store::RedisOptions redis, AggregatorOptions options);
  ~UsageAggregator();
  void start();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Time buckets in the configured timezone: "2026-11-26", "2026-11", "2026-11-26:05".
std::string day_bucket(int64_t timestamp_ms, int tz_hours);
std::string month_bucket(int64_t timestamp_ms, int tz_hours);
std::string hour_bucket(int64_t timestamp_ms, int tz_hours);

}  // namespace crs::usage
