#pragma once
// Reading members of the JSON both APIs send: a string or a count, "" or 0 when absent or of
// another type (the translations treat a malformed member as a missing one).
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace crs::openai {

inline std::string text_of(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

inline int64_t count_of(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v && v->is_int64() ? v->as_int64() : 0;
}

}  // namespace crs::openai
