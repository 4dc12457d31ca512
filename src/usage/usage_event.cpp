#include "usage/usage_event.hpp"

#include <map>

namespace crs::usage {

std::vector<std::string> UsageEvent::to_fields() const {
  return {"ts", std::to_string(timestamp_ms), "key", key_id, "account", account_id, "model", model,
          "in", std::to_string(usage.input_tokens), "out", std::to_string(usage.output_tokens),
          "cc", std::to_string(usage.cache_creation_input_tokens), "cr", std::to_string(usage.cache_read_input_tokens),
          "cc5m", std::to_string(usage.cache_creation_5m), "cc1h", std::to_string(usage.cache_creation_1h),
          "cost", std::to_string(cost_micro), "status", std::to_string(status), "stream", stream ? "1" : "0",
          "partial", partial ? "1" : "0", "ms", std::to_string(duration_ms), "rid", request_id, "ep", endpoint};
}

UsageEvent UsageEvent::from_fields(const std::vector<std::string>& kv) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < kv.size(); i += 2) m[kv[i]] = kv[i + 1];
  auto num = [&](const char* k) { return std::atoll(m[k].c_str()); };
  UsageEvent e;
  e.timestamp_ms = num("ts");
  e.key_id = m["key"];
  e.account_id = m["account"];
  e.model = m["model"];
  e.usage.input_tokens = num("in");
  e.usage.output_tokens = num("out");
  e.usage.cache_creation_input_tokens = num("cc");
  e.usage.cache_read_input_tokens = num("cr");
  e.usage.cache_creation_5m = num("cc5m");
  e.usage.cache_creation_1h = num("cc1h");
  e.cost_micro = num("cost");
  e.status = static_cast<int>(num("status"));
  e.stream = m["stream"] == "1";
  e.partial = m["partial"] == "1";
  e.duration_ms = num("ms");
  e.request_id = m["rid"];
  e.endpoint = m["ep"];
  return e;
}

}  // namespace crs::usage
