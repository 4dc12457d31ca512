#pragma once
// JSON answers in tests: an object, or an empty one when the text is not a JSON object (so a
// failed expectation shows the text instead of an exception).
#include <string>

#include <boost/json.hpp>

namespace crs::test {

inline boost::json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  return !ec && v.is_object() ? v.as_object() : boost::json::object();
}

}  // namespace crs::test
