// The usage scanner reads every streamed answer from upstreams the relay does not control:
// whatever the bytes and however they are split, it never crashes, never reports a negative
// count, and reads the same usage whether the stream comes whole or in pieces.
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "usage/sse_usage_scanner.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t piece = 1 + data[0] % 64;  // the first byte picks how the stream is cut
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  crs::usage::SseUsageScanner whole, split;
  whole.feed(bytes);
  for (size_t at = 0; at < bytes.size(); at += piece) split.feed(bytes.substr(at, piece));
  for (const auto* s : {&whole, &split}) {
    const auto& u = s->usage();
    FUZZ_CHECK(u.input_tokens >= 0 && u.output_tokens >= 0 && u.cache_creation_input_tokens >= 0 &&
                   u.cache_read_input_tokens >= 0,
               "a negative token count");
    FUZZ_CHECK(s->estimated_output_tokens() >= 0, "a negative estimate");
  }
  FUZZ_CHECK(whole.usage().input_tokens == split.usage().input_tokens &&
                 whole.usage().output_tokens == split.usage().output_tokens && whole.completed() == split.completed() &&
                 whole.final_usage_seen() == split.final_usage_seen(),
             "the usage depends on how the stream was cut");
  return 0;
}
