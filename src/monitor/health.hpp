#pragma once
// GET /health (and /api/health): status, version, uptime, and each component's state.
// 200 when healthy or degraded, 503 when unhealthy (Redis unreachable), so monitors see it.
// Anyone sees the statuses; the Redis address, error texts and account counts only an admin
// (a valid admin token), since /health is open to everyone who can reach the relay.
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
  // Whether the request is an admin's: only admins see addresses, errors and account counts.
  std::function<Task<bool>(http_server::Exchange&)> is_admin;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

void register_health_routes(http_server::Router& router, HealthSources sources);

}  // namespace crs::monitor
