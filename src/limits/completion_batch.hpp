#pragma once
// Completions in batches: what a finished request leaves in Redis (its cost and tokens charged
// to its key's counters, its lease given back with the reservation it held, its usage event)
// as a record; the records of one I/O thread go to Redis together, as one call of one script,
// and into its journal (usage/journal.hpp) before their clients see the ends of their answers
// (limits/metering.hpp sends and journals them).
//
// A batch is applied once, whichever of its copies comes first (the first attempt, the retry
// of one whose reply was lost, the replay from a journal after a kill -9): the script sets the
// batch's bit in usage:applied:<token>:<seq / 2^20> first and stops if it was set. 128 KB per
// million batches, kept a day after the run's last batch.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "limits/limits.hpp"

namespace crs::limits {

struct Completion {
  std::string key_id;
  std::string lease;       // the lease member to give back; "" = none
  int64_t cost_micro = 0;
  int64_t tokens = 0;
  std::string day, week;   // the periods the cost belongs to (Limits' labels)
  std::string event;       // the usage event, UsageEvent::to_wire()
};

// Which batch: the run that made it (a random token) and its number in that run.
struct BatchId {
  std::string token;
  uint64_t seq = 0;
  bool operator==(const BatchId&) const = default;
};

// The call applying `records` once. Its reply: "ok", or "applied" when the batch had been.
ScriptCall batch_call(const BatchId& id, const std::vector<Completion>& records);
// How many records one call may carry (Lua's unpack() of a key's leases has a stack limit).
inline constexpr size_t kMaxBatchRecords = 4096;

// Journal lines: a record of a batch, and the batch's acknowledgement by Redis.
void journal_record(std::string& out, const BatchId& id, const Completion& c);
void journal_ack(std::string& out, const BatchId& id);

struct JournaledBatch {
  BatchId id;
  std::vector<Completion> records;
};
// The batches in journal files' texts that were never acknowledged (an acknowledgement may be
// in a later file than its records), in the order they began; reading a text stops at a
// damaged or cut line (a crash in the middle of a write).
std::vector<JournaledBatch> unacknowledged(const std::vector<std::string_view>& texts);

}  // namespace crs::limits
