#pragma once
// The passive stats and health records of each account in Redis, shared by every instance:
//   load_balance:stats:<account>         hash: requests, successes, one count per outcome
//                                        (rate_limited, overloaded, server, network, timeout,
//                                        auth, client), lastSuccessAt, lastErrorAt,
//                                        lastErrorClass, lastErrorStatus, lastErrorMessage
//   load_balance:stats:<account>:recent  list of the last kWindowAttempts attempts, newest last
//                                        (Attempt::encode), kept a day after the last one
//   load_balance:health:<account>        hash: class, reasons, since, checkedAt, judged,
//                                        successRate, errorRate, ttfbP50, ttfbP95, totalP50, totalP95
//   load_balance:health:lock             the instance classifying this round (SET NX PX)
// Attempts are written by LoadBalancingSync once a second (a few commands per account with
// news, in its pipeline), never on a request's path.
#include <string>
#include <string_view>
#include <vector>

#include "health/classify.hpp"
#include "health/health_book.hpp"
#include "store/hash_record.hpp"
#include "store/redis_codec.hpp"

namespace crs::health {

inline constexpr std::string_view kStatsPrefix = "load_balance:stats:";
inline constexpr std::string_view kHealthPrefix = "load_balance:health:";
inline constexpr std::string_view kHealthLockKey = "load_balance:health:lock";

std::string stats_key(std::string_view account_id);
std::string recent_key(std::string_view account_id);
std::string health_key(std::string_view account_id);

// The commands that fold one account's new attempts into its stats.
std::vector<store::RedisCommand> record_commands(const HealthBook::Pending& p);

// The attempts of an LRANGE reply (unreadable entries skipped).
std::vector<Attempt> read_attempts(const store::RedisReply& reply);

// The record the monitor writes for one account.
store::HashRecord health_record(const WindowStats& s, const Verdict& v, int64_t since_ms, int64_t now_ms);

// Every per-account key of the health state (reset-state deletes them).
std::vector<std::string> account_state_keys(std::string_view account_id);

}  // namespace crs::health
