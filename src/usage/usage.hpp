#pragma once
// Token usage of one response, as the Messages API reports it (spec §8).
#include <cstdint>

namespace boost::json {
class object;
}

namespace crs::usage {

struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_creation_input_tokens = 0;
  int64_t cache_read_input_tokens = 0;
  int64_t cache_creation_5m = 0;  // parts of cache_creation_input_tokens by TTL
  int64_t cache_creation_1h = 0;
  int64_t web_search_requests = 0;  // server_tool_use: billed per search
  int64_t web_fetch_requests = 0;   // server_tool_use: billed as tokens only

  int64_t total() const {
    return input_tokens + output_tokens + cache_creation_input_tokens + cache_read_input_tokens;
  }
  // The prompt's size as the long-context tier counts it: input, cache reads and writes.
  int64_t prompt_tokens() const { return input_tokens + cache_creation_input_tokens + cache_read_input_tokens; }
  bool empty() const { return total() == 0 && web_search_requests == 0; }
};

// The largest token count taken from an upstream; larger ones are clamped (and logged once).
inline constexpr int64_t kMaxTokenCount = 1'000'000'000'000;

// Overwrites the fields present in a JSON "usage" object (message_delta restates cumulative
// values: overwrite, never add). Numbers that are not whole, negative or huge are rounded and
// clamped, never thrown on: metering runs after the answer has started. A restated
// cache_creation_input_tokens without its TTL breakdown keeps the one-hour part already known
// (message_start's); only the rest counts as five-minute writes.
void apply_usage_object(const boost::json::object& usage_object, Usage& usage);

}  // namespace crs::usage
