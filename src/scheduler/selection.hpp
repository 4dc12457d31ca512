#pragma once
// The load balancer's shared state in Redis, and the one script that picks an account when the
// choice depends on other instances: an account's cap on requests in flight, least_recent's
// "selected longest ago", or a sticky session. Every key carries the hash tag {lb}, so the
// script touches one slot (Redis Cluster) whatever accounts it weighs:
//   load_balance:{lb}:leases:<account>  sorted set of leases (member -> expiry ms), for caps
//   load_balance:{lb}:last_used         hash account -> ms of its last selection
//   load_balance:{lb}:sticky:<session>  the account of a conversation, with its TTL
//   load_balance:{lb}:sessions:<account> sorted set of the sessions it holds (member -> expiry)
//   load_balance:{lb}:tokens:<account>  hash 10-minute bucket -> tokens metered (25 h)
//   load_balance:{lb}:utilization       hash account -> "<5h>,<7d>,<5h until>,<7d until>" as the
//                                       upstream reported (each value counts until its window resets)
//   load_balance:{lb}:strategy          hash "global" | "group:<id>" -> strategy set at runtime
//   load_balance:{lb}:stats             hash account -> "<ttfb ms>,<success rate>" as an instance saw it
#include <cstdint>
#include <string>
#include <vector>

#include "accounts/account.hpp"
#include "store/redis_codec.hpp"
#include "store/redis_reply.hpp"
#include "store/redis_script.hpp"

namespace crs::scheduler {

inline constexpr std::string_view kLeasesPrefix = "load_balance:{lb}:leases:";
inline constexpr std::string_view kLastUsedKey = "load_balance:{lb}:last_used";
inline constexpr std::string_view kStickyPrefix = "load_balance:{lb}:sticky:";
inline constexpr std::string_view kSessionsPrefix = "load_balance:{lb}:sessions:";
inline constexpr std::string_view kStatsKey = "load_balance:{lb}:stats";
inline constexpr std::string_view kTokensPrefix = "load_balance:{lb}:tokens:";
inline constexpr std::string_view kUtilizationKey = "load_balance:{lb}:utilization";
inline constexpr std::string_view kStrategyKey = "load_balance:{lb}:strategy";
// Announced when a strategy is set at runtime: every instance reads it at once.
inline constexpr std::string_view kChangedChannel = "crs:lb:changed";
// Published when a capped account's lease is released: waiters for a slot try again.
inline constexpr std::string_view kSlotFreedChannel = "crs:lb:slot-freed";

inline constexpr int64_t kTokenBucketMs = 10 * 60 * 1000;

// The window least_used counts an account's tokens in: an OAuth subscription's 5 hours, else a day.
inline int64_t usage_window_ms(const accounts::Account& a) {
  return a.type == accounts::kClaudeOauth ? 5LL * 3600 * 1000 : 24LL * 3600 * 1000;
}
inline constexpr int64_t kTokensKeptMs = 25LL * 3600 * 1000;

// One candidate as the script weighs it, in the strategy's order.
struct SelectionCandidate {
  std::string account_id;
  int cap = 0;              // maxConcurrency; 0 = none
  int tier = 0;             // least_recent sorts within tiers: headroom, then priority
  bool may_stay = true;     // a sticky session may stay on it (not paused, not slow)
};

struct SelectionRequest {
  std::vector<SelectionCandidate> candidates;
  bool least_recent = false;  // order by the last selection Redis holds, not as given
  std::string session;        // sticky session id ("" = none)
  int64_t sticky_ttl_s = 3600;
  std::string lease;          // the lease taken on a capped account
  int64_t lease_ttl_ms = 60000;
};

struct Selection {
  std::string account_id;  // "" when every candidate is at its cap
  // sticky (the session's account), sticky_new (a new session), moved (the session left its
  // account: see moved_from/why), picked (no session)
  std::string how;
  std::string moved_from;
  std::string why;  // full | headroom | slow_or_paused | not_a_candidate
  std::string error;
};

const store::Script& selection_script();
store::RedisCommand selection_command(const SelectionRequest& request);
Selection read_selection(const store::RedisReply& reply);

// A script call, with its script to send it again as EVAL on NOSCRIPT.
struct ScriptedCommand {
  const store::Script* script;
  store::RedisCommand command;
};

// The lease given back (and the freed slot announced), as EVAL so that a spooled one survives
// a Redis restart.
store::RedisCommand lease_release(const std::string& account_id, const std::string& lease);
// What the upstream said of an account's subscription windows, and until when it holds: the
// window's reset (its header), else an hour after it was said. -1: not known.
struct Utilization {
  double five_hour = -1, seven_day = -1;
  int64_t five_hour_until_ms = 0, seven_day_until_ms = 0;

  double five_hour_at(int64_t now_ms) const { return now_ms < five_hour_until_ms ? five_hour : -1; }
  double seven_day_at(int64_t now_ms) const { return now_ms < seven_day_until_ms ? seven_day : -1; }
  std::string encode() const;
  static Utilization decode(const std::string& text);
};

store::RedisCommand utilization_record(const std::string& account_id, const Utilization& u);

std::string leases_key(std::string_view account_id);
std::string tokens_key(std::string_view account_id);
std::string sessions_key(std::string_view account_id);

// Tokens of a tokens hash (HGETALL reply) within the window ending at now_ms.
int64_t window_tokens(const store::RedisReply& hash, int64_t now_ms, int64_t window_ms);

}  // namespace crs::scheduler
