// Whole (non-streamed) answers from upstreams the relay does not control: the usage and served
// model read without building a document (adapters/anthropic_wire read_answer_usage, simdjson
// On-Demand) are what a full parse of the same answer by another JSON library reads under the
// rules written out below, and no count is ever negative.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "adapters/anthropic_wire.hpp"
#include "fuzz_check.hpp"
#include "usage/usage.hpp"

namespace {

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The usage rules (usage/usage_json.hpp) applied to a Boost.JSON document: a number of any
// shape is rounded and clamped to 0..kMaxTokenCount, anything else is no count.
std::optional<int64_t> reference_count(const boost::json::value& v) {
  using crs::usage::kMaxTokenCount;
  double d = 0;
  if (v.is_int64()) return std::clamp<int64_t>(v.get_int64(), 0, kMaxTokenCount);
  if (v.is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v.get_uint64(), kMaxTokenCount));
  if (!v.is_double()) return std::nullopt;
  d = v.get_double();
  if (!std::isfinite(d)) return d > 0 ? kMaxTokenCount : 0;
  return static_cast<int64_t>(std::clamp(std::round(d), 0.0, static_cast<double>(kMaxTokenCount)));
}

bool reference_read(const boost::json::object& o, std::string_view name, int64_t& out) {
  const auto* v = o.if_contains(name);
  auto n = v ? reference_count(*v) : std::nullopt;
  if (n) out = *n;
  return n.has_value();
}

void reference_usage(const boost::json::object& o, crs::usage::Usage& u) {
  reference_read(o, "input_tokens", u.input_tokens);
  reference_read(o, "output_tokens", u.output_tokens);
  reference_read(o, "cache_read_input_tokens", u.cache_read_input_tokens);
  bool had_total = reference_read(o, "cache_creation_input_tokens", u.cache_creation_input_tokens);
  if (const auto* detail = o.if_contains("cache_creation"); detail && detail->is_object()) {
    reference_read(detail->get_object(), "ephemeral_5m_input_tokens", u.cache_creation_5m);
    reference_read(detail->get_object(), "ephemeral_1h_input_tokens", u.cache_creation_1h);
    if (!had_total) u.cache_creation_input_tokens = u.cache_creation_5m + u.cache_creation_1h;
  } else if (had_total) {
    u.cache_creation_1h = std::min(u.cache_creation_1h, u.cache_creation_input_tokens);
    u.cache_creation_5m = u.cache_creation_input_tokens - u.cache_creation_1h;
  }
  if (const auto* tools = o.if_contains("server_tool_use"); tools && tools->is_object()) {
    reference_read(tools->get_object(), "web_search_requests", u.web_search_requests);
    reference_read(tools->get_object(), "web_fetch_requests", u.web_fetch_requests);
  }
}

// Boost.JSON 1.81 rounds a fraction of more than 15 significant digits its own way; the reader
// uses strtod (correctly rounded). Where the two may land on different sides of .5, only the
// members could be compared, not the rounding: such inputs are left out (integers stay in).
bool has_long_fraction(const std::string& text) {
  size_t digits = 0;
  bool fraction = false;
  for (char c : text) {
    bool digit = c >= '0' && c <= '9';
    bool number_part = digit || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
    if (!number_part) {
      digits = 0;
      fraction = false;
      continue;
    }
    digits += digit ? 1 : 0;
    fraction = fraction || !digit;
    if (fraction && digits > 15) return true;
  }
  return false;
}

bool same(const crs::usage::Usage& a, const crs::usage::Usage& b) {
  return a.input_tokens == b.input_tokens && a.output_tokens == b.output_tokens &&
         a.cache_creation_input_tokens == b.cache_creation_input_tokens &&
         a.cache_read_input_tokens == b.cache_read_input_tokens && a.cache_creation_5m == b.cache_creation_5m &&
         a.cache_creation_1h == b.cache_creation_1h && a.web_search_requests == b.web_search_requests &&
         a.web_fetch_requests == b.web_fetch_requests;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  std::string original = body;
  crs::usage::Usage usage;
  std::string model;
  bool read = crs::adapters::read_answer_usage(body, usage, model);
  FUZZ_CHECK(body == original, "reading the usage changed the answer");
  FUZZ_CHECK(usage.input_tokens >= 0 && usage.output_tokens >= 0 && usage.cache_creation_input_tokens >= 0 &&
                 usage.cache_read_input_tokens >= 0 && usage.web_search_requests >= 0,
             "a negative count");

  // The same answer read by a full parser, where no escape or repeated name could make two
  // parsers disagree about which member is meant.
  if (original.find('\\') != std::string::npos || occurrences(original, "\"usage\"") != 1 ||
      occurrences(original, "\"model\"") > 1 || has_long_fraction(original))
    return 0;
  boost::system::error_code ec;
  auto doc = boost::json::parse(original, ec);
  if (ec || !doc.is_object()) return 0;
  const auto* u = doc.as_object().if_contains("usage");
  if (!u || !u->is_object()) return 0;
  crs::usage::Usage expected;
  reference_usage(u->as_object(), expected);
  FUZZ_CHECK(read, "a full parser finds a usage object the reader missed");
  FUZZ_CHECK(same(usage, expected), "the reader and a full parser read different usage");
  const auto* m = doc.as_object().if_contains("model");
  if (m && m->is_string()) FUZZ_CHECK(model == std::string(m->as_string()), "a different served model");
  return 0;
}
