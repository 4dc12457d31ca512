#include "usage/json_number.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace crs::usage {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool is_json_number(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t from = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') ++i;
  else if (!digits()) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

std::string_view trim_json_token(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::optional<double> json_number(simdjson::ondemand::value v) {
  // Each integer try only peeks at the value; the common case ends here.
  int64_t i = 0;
  uint64_t u = 0;
  if (!v.get_int64().get(i)) return static_cast<double>(i);
  if (!v.get_uint64().get(u)) return static_cast<double>(u);
  std::string_view text = trim_json_token(v.raw_json_token());
  if (!is_json_number(text)) return std::nullopt;
  // The copy ends the text for strtod (rare: only numbers that are not whole or exceed 64 bits).
  return std::strtod(std::string(text).c_str(), nullptr);
}

}  // namespace crs::usage
