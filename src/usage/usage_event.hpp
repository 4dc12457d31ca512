#pragma once
// One finished request, as the relay appends it to the usage:events stream (one XADD on the
// hot path); the aggregator folds events into per key/account/model hour/day/month totals.
#include <cstdint>
#include <string>
#include <vector>

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
  int64_t duration_ms = 0;
  std::string request_id;
  std::string endpoint;      // "/v1/messages"

  std::vector<std::string> to_fields() const;                         // XADD field/value pairs
  static UsageEvent from_fields(const std::vector<std::string>& kv);  // from XREADGROUP
};

inline constexpr const char* kUsageStream = "usage:events";

}  // namespace crs::usage
