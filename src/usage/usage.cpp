#include "usage/usage.hpp"

#include <boost/json.hpp>

namespace crs::usage {
namespace json = boost::json;

void apply_usage_object(const json::object& o, Usage& u) {
  auto read = [&](const char* name, int64_t& out) {
    if (auto* v = o.if_contains(name); v && (v->is_int64() || v->is_uint64())) out = v->to_number<int64_t>();
  };
  read("input_tokens", u.input_tokens);
  read("output_tokens", u.output_tokens);
  read("cache_read_input_tokens", u.cache_read_input_tokens);
  bool had_creation = o.contains("cache_creation_input_tokens");
  read("cache_creation_input_tokens", u.cache_creation_input_tokens);
  if (auto* detail = o.if_contains("cache_creation"); detail && detail->is_object()) {
    const auto& d = detail->get_object();
    if (auto* v = d.if_contains("ephemeral_5m_input_tokens"); v && v->is_number()) u.cache_creation_5m = v->to_number<int64_t>();
    if (auto* v = d.if_contains("ephemeral_1h_input_tokens"); v && v->is_number()) u.cache_creation_1h = v->to_number<int64_t>();
  } else if (had_creation) {
    u.cache_creation_5m = u.cache_creation_input_tokens;
    u.cache_creation_1h = 0;
  }
}

}  // namespace crs::usage
