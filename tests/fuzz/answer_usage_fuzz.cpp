// Whole (non-streamed) answers from upstreams the relay does not control: the usage and served
// model read without building a document (adapters/anthropic_wire read_answer_usage) are what
// a full JSON parse of the same answer reads, and no count is ever negative.
#include <cstdint>
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

bool same(const crs::usage::Usage& a, const crs::usage::Usage& b) {
  return a.input_tokens == b.input_tokens && a.output_tokens == b.output_tokens &&
         a.cache_creation_input_tokens == b.cache_creation_input_tokens &&
         a.cache_read_input_tokens == b.cache_read_input_tokens && a.cache_creation_5m == b.cache_creation_5m &&
         a.cache_creation_1h == b.cache_creation_1h && a.web_search_requests == b.web_search_requests;
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
      occurrences(original, "\"model\"") > 1)
    return 0;
  boost::system::error_code ec;
  auto doc = boost::json::parse(original, ec);
  if (ec || !doc.is_object()) return 0;
  const auto* u = doc.as_object().if_contains("usage");
  if (!u || !u->is_object()) return 0;
  crs::usage::Usage expected;
  crs::usage::apply_usage_object(u->as_object(), expected);
  FUZZ_CHECK(read, "a full parser finds a usage object the reader missed");
  FUZZ_CHECK(same(usage, expected), "the reader and a full parser read different usage");
  const auto* m = doc.as_object().if_contains("model");
  if (m && m->is_string()) FUZZ_CHECK(model == std::string(m->as_string()), "a different served model");
  return 0;
}
