#pragma once
// Reading the JSON both APIs send: parsed deep enough for any tool schema or tool input, and
// members read as a string or a count, "" or 0 when absent or of another type (the
// translations treat a malformed member as a missing one).
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace crs::openai {

// Boost.JSON refuses documents nested deeper than 32 by default; a tool's JSON schema or a tool
// call's input may be, and must not be refused or lost. Its parser and serializer keep their
// own stacks, so the depth costs no recursion.
inline boost::json::value parse_json(std::string_view text, boost::system::error_code& ec) {
  boost::json::parse_options options;
  options.max_depth = 1000;
  return boost::json::parse(text, ec, {}, options);
}

inline std::string text_of(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

inline int64_t count_of(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v && v->is_int64() ? v->as_int64() : 0;
}

}  // namespace crs::openai
