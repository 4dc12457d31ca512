#pragma once
// What GET /metrics reads beside the in-memory counters: every account's state, health class,
// circuit, requests in flight and 5h/7d utilisation (the load balancer's view in Redis, a
// bounded read per account), export tasks, the query cache.
#include <functional>

#include "config/config.hpp"
#include "export/service.hpp"
#include "monitor/metrics_route.hpp"
#include "query/query_cache.hpp"
#include "scheduler/status.hpp"

namespace crs::app {

monitor::MetricsSources metrics_sources(const config::Config& cfg, std::vector<store::RedisClient*> redis,
                                        const query::QueryCache& cache, const key_export::ExportService& exports,
                                        std::function<size_t()> requests_in_flight,
                                        std::function<scheduler::StatusSettings()> balancer);

}  // namespace crs::app
