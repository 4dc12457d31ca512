#pragma once
// Each account's health as the admin sees it (CLI, admin API, load-balance status), read from
// Redis: its class and why, its circuit, its passive stats over the window and in total, and
// its last error.
#include <map>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "accounts/account.hpp"
#include "core/result.hpp"
#include "scheduler/status.hpp"
#include "store/redis_client.hpp"

namespace crs::health {

// account id -> {"class", "reasons", "since", "circuit": {...}, "window": {...}, "totals": {...},
// "lastSuccessAt", "lastError": {...} | null}
Task<Result<std::map<std::string, boost::json::object>>> health_views(store::RedisClient& redis,
                                                                      std::vector<std::string> account_ids);

// The load balancer's status (scheduler/status.hpp) with each account's health beside its load.
Task<Result<boost::json::object>> balancer_status(store::RedisClient& redis, std::vector<accounts::Account> accounts,
                                                  scheduler::StatusSettings settings);

// Clears the account's rate-limit state is the caller's (AccountStore); this deletes its circuit,
// health class and stats, and announces it so every instance forgets them at once.
Task<Status> reset_health(store::RedisClient& redis, std::string account_id);

}  // namespace crs::health
