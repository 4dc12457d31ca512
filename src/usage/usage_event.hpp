#pragma once
// One finished request, as the relay appends it to a usage stream (with the other events of its
// completion batch: usage/batch_stream.hpp); the aggregator folds events into per
// key/account/model hour/day/month totals.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "usage/usage.hpp"

namespace crs::usage {

struct UsageEvent {
  int64_t timestamp_ms = 0;
  std::string key_id;
  std::string account_id;
  std::string model;
  Usage usage;
  int64_t cost_micro = 0;
  int status = 0;
  bool stream = false;
  bool partial = false;      // the response did not complete (client gone, upstream cut)
  bool estimated = false;    // output counted from the deltas that passed: no final count came
  bool priced_by_fallback = false;  // the model has no exact price entry (family or default)
  bool long_context = false;        // priced at the model's long-context tier
  int64_t duration_ms = 0;
  std::string request_id;
  std::string endpoint;      // "/v1/messages"

  // The event as one line of tab-separated values led by a format version: the value of an
  // entry's one field, kUsageField, in usage:events, and one of the lines of a batch's entry in
  // usage:batches. One field instead of one per member keeps XADD, XREADGROUP and their replies
  // small.
  std::string to_wire() const;
  static std::optional<UsageEvent> from_wire(std::string_view line);  // nullopt: not an event
};

inline constexpr const char* kUsageStream = "usage:events";
inline constexpr const char* kUsageField = "u";

}  // namespace crs::usage
