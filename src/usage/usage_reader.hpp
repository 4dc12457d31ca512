#pragma once
// Reads what the aggregator folded (aggregator.hpp): totals of a key, an account, a model or
// everything, per hour, day, month or in all, for the CLI, the admin API and key holders'
// stats. Every read names its hashes directly (or through the index sets the aggregator keeps):
// no KEYS, no SCAN.
#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.hpp"
#include "query/query_runner.hpp"
#include "store/hash_record.hpp"
#include "store/redis_client.hpp"

namespace crs::usage {

struct UsageTotals {
  int64_t requests = 0, input = 0, output = 0, cache_create = 0, cache_read = 0, all = 0, cost_micro = 0;
  void add(const UsageTotals& o);
};

// A folded hash; all-time hashes name their fields totalRequests, ... (the Node.js service's).
UsageTotals totals_of(const store::HashRecord& record, bool all_time_names);
// {requests, inputTokens, outputTokens, cacheCreateTokens, cacheReadTokens, allTokens, tokens,
//  cost (USD number), costMicroUsd (exact), formattedCost "$0.000000"}
boost::json::object to_json(const UsageTotals& t);

enum class Subject { Key, Account, Model, Global };
enum class Granularity { Hour, Day, Month };

// The hash of one bucket: period is "2026-11-26:05", "2026-11-26", "2026-11", or "" for all time.
std::string bucket_key(Subject subject, const std::string& id, Granularity g, const std::string& period);
std::string all_time_key(Subject subject, const std::string& id);
// A key's usage of one model: daily / monthly buckets, or all time with an empty period.
std::string key_model_key(const std::string& key_id, const std::string& model, const std::string& kind,
                          const std::string& period);

// Index sets the aggregator maintains (no expiry).
std::string key_models_index(const std::string& key_id);
inline constexpr const char* kModelsIndex = "usage:model:index";

// The periods from `from` to `to` inclusive ("YYYY-MM-DD"; months take "YYYY-MM" too), or an
// error naming the parameter. At most `max_buckets`.
Result<std::vector<std::string>> periods(Granularity g, const std::string& from, const std::string& to,
                                         size_t max_buckets);

// HGETALL of each hash, through the query optimizer; `name` is what the profile calls it.
Task<Result<std::vector<UsageTotals>>> read_totals(const query::QueryRunner& queries, store::RedisClient& redis,
                                                   const std::vector<std::string>& hashes, bool all_time_names = false,
                                                   std::string name = "usage.totals");

}  // namespace crs::usage
