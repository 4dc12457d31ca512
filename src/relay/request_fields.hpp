#pragma once
// The few fields the relay reads from a Messages request body, found without building a
// document (simdjson On-Demand skips everything else; bodies from Claude Code are 100 KB-1 MB).
#include <string>

namespace crs::relay {

struct RequestFields {
  std::string model;
  bool stream = false;
  std::string error;  // non-empty: the body is not a usable Messages request (400)
};

// `body` gets SIMDJSON_PADDING bytes of spare capacity (one reallocation at most).
RequestFields read_request_fields(std::string& body, bool require_messages);

// The raw JSON text of a top-level member (e.g. "usage" of a Messages answer), found without
// parsing the rest of a document that can be hundreds of KB. Empty if absent or not JSON.
std::string top_level_member_json(std::string& body, std::string_view name);

}  // namespace crs::relay
