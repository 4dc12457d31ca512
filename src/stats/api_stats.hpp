#pragma once
// Key holders' own statistics, without admin rights, at the Node.js service's paths
// (spec/crs-compat.md §5):
//   POST /apiStats/api/get-key-id        {apiKey}          -> the key's id
//   POST /apiStats/api/user-stats        {apiKey} | {apiId} -> usage, limits and what is used of them
//   POST /apiStats/api/user-model-stats  {apiKey} | {apiId, period}
// With the key itself a holder sees everything about their key. With only its id (the shared
// /admin-next/api-stats?apiId= links) they see the summary: usage, limits, expiry, but not
// the description, the account binding or the restrictions. Ids must be UUIDs.
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "http/router.hpp"
#include "limits/limits.hpp"
#include "query/query_runner.hpp"
#include "store/redis_client.hpp"

namespace crs::stats {

struct StatsDeps {
  const config::Config& cfg;
  std::vector<store::RedisClient*> redis;  // one per I/O thread
  limits::Limits limits;
  const query::QueryRunner& queries;
};

void register_api_stats_routes(http_server::Router& router, std::shared_ptr<StatsDeps> deps);

}  // namespace crs::stats
