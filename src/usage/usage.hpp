#pragma once
// Token usage of one response, as the Messages API reports it (spec §8).
#include <cstdint>

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

// usage/usage_json.hpp reads an upstream's usage object into a Usage.

}  // namespace crs::usage
