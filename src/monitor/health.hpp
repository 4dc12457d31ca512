#pragma once
// GET /health (and /api/health): status, version, uptime, and each component's state.
// 200 when healthy or degraded, 503 when unhealthy (Redis unreachable), so monitors see it.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "http/router.hpp"
#include "store/redis_client.hpp"

namespace crs::monitor {

struct HealthSources {
  std::vector<store::RedisClient*> redis;   // one per I/O thread, by worker index
  std::string redis_mode;                    // "embedded" or "external"
  std::chrono::milliseconds slow_threshold{1000};
  struct AccountsSummary {
    size_t total = 0, usable = 0;
  };
  std::function<AccountsSummary()> accounts;  // optional
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

void register_health_routes(http_server::Router& router, HealthSources sources);

}  // namespace crs::monitor
