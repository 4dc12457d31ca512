#pragma once
// The few fields the relay reads from a Messages request body, found without building a
// document (simdjson On-Demand skips everything else; bodies from Claude Code are 100 KB-1 MB).
#include <string>

#include "usage/usage.hpp"

namespace crs::relay {

struct RequestFields {
  std::string model;
  bool stream = false;
  int64_t max_tokens = 0;  // 0: absent or not a positive number (the upstream will say so)
  std::string error;  // non-empty: the body is not a usable Messages request (400)
};

// `body` gets SIMDJSON_PADDING bytes of spare capacity (one reallocation at most).
RequestFields read_request_fields(std::string& body, bool require_messages);

}  // namespace crs::relay
