// What Bedrock gets from a client's body, and what a client gets from Bedrock's answer: the
// body is a JSON object with anthropic_version and none of the fields Bedrock refuses, or
// nothing (never the client's bytes with them); an answer's bytes never crash the reader, and
// its output is whole SSE events with JSON data.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "adapters/bedrock_wire.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  std::string out = crs::adapters::bedrock::bedrock_body(body, {"interleaved-thinking-2025-05-14"});
  if (!out.empty()) {
    boost::json::parse_options deep;
    deep.max_depth = 2000;
    boost::system::error_code ec;
    auto v = boost::json::parse(out, ec, {}, deep);
    // The client's bytes are copied as they are: JSON that is invalid inside a value stays
    // invalid, and Bedrock refuses it. What matters is what a valid body becomes.
    boost::system::error_code in_ec;
    boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), in_ec, {}, deep);
    if (!in_ec) {
      FUZZ_CHECK(!ec && v.is_object(), "a valid body became invalid JSON");
      const auto& o = v.as_object();
      FUZZ_CHECK(o.contains("anthropic_version"), "no anthropic_version");
      for (const char* refused : {"model", "stream", "metadata", "service_tier", "container", "inference_geo", "betas"})
        FUZZ_CHECK(!o.contains(refused), "a field Bedrock refuses went through");
    }
  }
  auto reader = crs::adapters::bedrock::answer_reader();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string sse;
  for (size_t at = 0; at < bytes.size() && !reader->broken(); at += 13) sse += reader->stream_chunk(bytes.substr(at, 13));
  if (!reader->broken()) sse += reader->stream_end();
  FUZZ_CHECK(sse.empty() || sse.ends_with("\n\n"), "an event was left unfinished");
  auto f = reader->facts();
  FUZZ_CHECK(f.usage.input_tokens >= 0 && f.usage.output_tokens >= 0, "a negative count");
  return 0;
}
