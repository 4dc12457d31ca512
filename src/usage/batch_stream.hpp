#pragma once
// The stream completion batches append their events to (limits/completion_batch.hpp), read
// beside usage:events by the aggregator (usage/aggregator.hpp).
//
// A batch's events go in one entry: one field, kBatchField, holding the events' lines
// (UsageEvent::to_wire, which never holds a line break) joined by '\n'. One XADD per batch
// instead of one per request: the XADD in the script, and reading, acknowledging and deleting
// each entry again in the aggregator, were most of Redis's cost per event. A stream of its own,
// because an aggregator of an earlier version reads only usage:events and would drop an entry
// of this shape as "not an event" (two versions run side by side during a takeover).
namespace crs::usage {

inline constexpr const char* kUsageBatchStream = "usage:batches";
inline constexpr const char* kBatchField = "b";

}  // namespace crs::usage
