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

  int64_t total() const {
    return input_tokens + output_tokens + cache_creation_input_tokens + cache_read_input_tokens;
  }
  bool empty() const { return total() == 0; }
};

// Overwrites the fields present in a JSON "usage" object (message_delta restates cumulative
// values: overwrite, never add). Missing TTL detail counts all cache writes as 5-minute.
void apply_usage_object(const boost::json::object& usage_object, Usage& usage);

}  // namespace crs::usage
