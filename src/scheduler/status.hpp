#pragma once
// The load balancer as all instances share it, read from Redis (for `crs load-balance status`
// and GET /admin/load-balance/status): the strategy in force (globally and per group, and
// whether it was set at runtime), and per account its state, load, sticky sessions and the
// score the strategy gives it now.
#include <boost/json/object.hpp>

#include "accounts/account.hpp"
#include "config/config.hpp"
#include "core/result.hpp"
#include "scheduler/scheduler.hpp"
#include "store/redis_client.hpp"

namespace crs::scheduler {

// The strategies' settings from loadBalancing.* (the scheduler of `crs serve`, the status views).
StrategySettings strategy_settings(const config::LoadBalancingConfig& lb);

struct StatusSettings {
  bool enabled = true;          // loadBalancing.enabled
  StrategySettings strategies;  // from the configuration
};

Task<Result<boost::json::object>> load_balance_status(store::RedisClient& redis,
                                                      std::vector<accounts::Account> accounts,
                                                      StatusSettings settings);

// Sets (or with `strategy` empty, clears) the strategy at runtime for every instance: "" group
// for the global one. The caller checks the name and the group.
Task<Status> set_runtime_strategy(store::RedisClient& redis, std::string group, std::string strategy);

}  // namespace crs::scheduler
