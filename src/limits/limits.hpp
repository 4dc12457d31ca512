#pragma once
// A key's counted limits, exact across relay instances. Two Lua scripts, each one Redis round
// trip and atomic:
//   admission  budgets spent, counting what requests in flight have reserved? (402) window
//              full? concurrency full? (429); if not, count the request in its window and take
//              a lease (a sorted-set member that expires unless renewed, so a crashed instance
//              cannot keep a slot or a reservation). The lease holds the request's slot and,
//              for a key with budgets, its reservation: an upper-bound estimate of its cost
//              and tokens, so that concurrent requests cannot all pass on the last cent;
//   completion release the lease (and with it the reservation), charge the request's real
//              cost and tokens to its window, day, week and totals, and append its usage
//              event, together.
// Counters are integers (micro-USD, tokens) in one hash per key, limit:{id}; leases are the
// sorted set limit:concurrency:{id}. Windows are fixed: they start with the first request
// after the previous one ended (as the Node.js service's). Scripts are called by SHA1.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "keys/api_key.hpp"
#include "store/hash_record.hpp"
#include "store/redis_codec.hpp"
#include "store/redis_script.hpp"
#include "store/redis_reply.hpp"
#include "usage/spool.hpp"
#include "usage/usage_event.hpp"

namespace crs::limits {

// A script call (EVALSHA) and the script, to send it again as EVAL on NOSCRIPT.
struct ScriptCall {
  const store::Script* script;
  store::RedisCommand command;
};

struct Completion;  // limits/completion_batch.hpp

struct Decision {
  bool admitted = false;
  int status = 0;             // 429 or 402 when refused
  std::string limit;          // concurrency | window_requests | window_cost | daily_cost | weekly_cost |
                              // total_cost | total_tokens
  int64_t current = 0;        // what is used (requests, micro-USD or tokens)
  int64_t maximum = 0;        // the limit, same unit
  int64_t reset_at_ms = 0;    // when the refused limit frees up; 0 = never
  int64_t now_ms = 0;         // Redis's clock when it decided
  std::string error;          // the script failed (Redis answered an error)
};

class Limits {
 public:
  Limits(int timezone_offset_hours, std::chrono::seconds lease_ttl);

  // Needs admission at all (a key without counted limits goes straight through).
  static bool counted(const keys::ApiKey& key);
  // Has a cost or token budget: its requests reserve an estimate at admission.
  static bool budgeted(const keys::ApiKey& key);
  // A lease's member: a unique id and the reservation it holds.
  static std::string lease_member(std::string_view id, int64_t reserved_cost_micro, int64_t reserved_tokens);

  // `lease`: "" when the request needs none (no concurrency limit and no budget); with budgets,
  // lease_member(id, reserved_cost_micro, reserved_tokens).
  ScriptCall admission(const keys::ApiKey& key, const std::string& lease, int64_t now_ms,
                       int64_t reserved_cost_micro = 0, int64_t reserved_tokens = 0) const;
  Decision decide(const keys::ApiKey& key, const store::RedisReply& reply, int64_t now_ms) const;
  // Keeps a lease alive; sent every lease_ttl/3 while the request lives.
  ScriptCall renewal(std::string_view key_id, const std::string& lease) const;
  // The same for a lease in any sorted set of leases (an account's, scheduler/selection.hpp).
  ScriptCall renewal_in(std::string leases_zset, const std::string& lease) const;
  // What a finished request leaves: its charge (event.cost_micro and its tokens), its lease
  // given back (may be empty) and its event; written in batches (limits/metering.hpp).
  Completion completion_record(const keys::ApiKey& key, const std::string& lease,
                               const usage::UsageEvent& event) const;
  // The same as one script call, the form earlier versions sent per request and spooled when
  // Redis failed: spool files may still hold it, and replay_form sends those again.
  ScriptCall completion(const keys::ApiKey& key, const std::string& lease, const usage::UsageEvent& event) const;
  // Release only: the request ended without an answer to charge.
  store::RedisCommand release(const keys::ApiKey& key, const std::string& lease) const;
  // How a spooled record is sent again: a completion through the replay script (applied once
  // per request id), anything else as it was.
  static store::RedisCommand replay_form(const usage::SpoolEntry& entry);

  // Counters for a key that has none yet (it was made before they were kept, or imported):
  // total cost and tokens from its folded usage, today's cost, this week's (whole days).
  // Leaves existing counters alone; run for every key before an instance starts serving.
  ScriptCall seed(const keys::ApiKey& key, int64_t now_ms) const;

  // What a key has used against its limits at now_ms, from HGETALL of its counters hash.
  struct Usage {
    int64_t total_cost_micro = 0, total_tokens = 0, daily_cost_micro = 0, weekly_cost_micro = 0;
    int64_t window_requests = 0, window_cost_micro = 0;
    int64_t window_start_ms = 0, window_end_ms = 0;  // 0: no window running
  };
  Usage current(const keys::ApiKey& key, const store::HashRecord& counters, int64_t now_ms) const;
  static std::string counters_key(std::string_view key_id) { return "limit:" + std::string(key_id); }
  static std::string leases_key(std::string_view key_id) { return "limit:concurrency:" + std::string(key_id); }

  std::chrono::seconds lease_ttl() const { return lease_ttl_; }

  // Time arithmetic in the configured timezone, exposed for tests and error messages.
  int64_t next_day_start_ms(int64_t now_ms) const;
  int64_t week_start_ms(const keys::KeyLimits& limits, int64_t now_ms) const;

  // The labels of the day and the week `now_ms` falls in (the counters' day and week fields).
  std::string day_label(int64_t now_ms) const;
  std::string week_label(const keys::ApiKey& key, int64_t now_ms) const;

 private:

  int tz_hours_;
  std::chrono::seconds lease_ttl_;
  // Each completion sets its own bit in usage:applied:<token>:<n>, so that a replay of one whose
  // reply was lost knows whether it had been applied (kept by copies: they are one process).
  std::string marks_token_;
  std::shared_ptr<std::atomic<uint64_t>> marks_;
};

}  // namespace crs::limits
