#pragma once
// The "usage" object of a Messages answer (spec §8), read with simdjson's On-Demand API by both
// readers of answers: whole ones (adapters/anthropic_wire) and streamed ones
// (usage/sse_usage_scanner).
#include <simdjson.h>

#include "usage/usage.hpp"

namespace crs::usage {

struct UsageObjectRead {
  bool readable = false;           // false: its JSON broke off, and nothing was applied
  bool has_output_tokens = false;  // it has output_tokens (in a stream: the final count came)
};

// Overwrites the fields present in a usage object (message_delta restates cumulative values:
// overwrite, never add). Numbers that are not whole, negative or huge are rounded and clamped,
// never thrown on: metering runs after the answer has started. A restated
// cache_creation_input_tokens without its TTL breakdown keeps the one-hour part already known
// (message_start's); only the rest counts as five-minute writes. A repeated member: the last
// one counts.
UsageObjectRead apply_usage_object(simdjson::ondemand::object usage_object, Usage& usage);

}  // namespace crs::usage
