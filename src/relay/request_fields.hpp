#pragma once
// The few fields the relay reads from a Messages request body, found without building a
// document (simdjson On-Demand skips everything else; bodies from Claude Code are 100 KB-1 MB).
#include <string>

#include "usage/usage.hpp"

namespace crs::relay {

struct RequestFields {
  std::string model;
  // Where the model's JSON string (with its quotes) is in the body: an account that maps the
  // model replaces exactly these bytes.
  size_t model_at = 0;
  size_t model_size = 0;
  bool stream = false;
  std::string user_id;     // metadata.user_id (sticky sessions)
  int64_t max_tokens = 0;  // 0: absent or not a positive number (the upstream will say so)
  std::string error;  // non-empty: the body is not a usable Messages request (400)
};

// `body` gets SIMDJSON_PADDING bytes of spare capacity (one reallocation at most).
RequestFields read_request_fields(std::string& body, bool require_messages);

}  // namespace crs::relay
