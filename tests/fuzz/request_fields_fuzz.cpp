// The fields the relay reads from every Messages body before anything goes upstream, and the
// place of the model it splices a mapped name into: whatever the body, the splice covers
// exactly the JSON string of the model the relay judged (escapes, duplicates and whitespace
// included), so a key's model rules judge the name the upstream gets.
#include <cstdint>
#include <string>

#include <boost/json.hpp>

#include "fuzz_check.hpp"
#include "relay/request_fields.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto f = crs::relay::read_request_fields(body, true);
  if (!f.error.empty()) return 0;
  FUZZ_CHECK(!f.model.empty(), "accepted without a model");
  FUZZ_CHECK(f.model_at + f.model_size <= size, "the model's place is outside the body");
  boost::system::error_code ec;
  auto token = boost::json::parse(std::string_view(body).substr(f.model_at, f.model_size), ec);
  FUZZ_CHECK(!ec && token.is_string(), "the model's place is not one JSON string");
  FUZZ_CHECK(token.as_string() == f.model, "the spliced string is not the model that was judged");
  // Splicing another name there leaves a body whose model is that name.
  std::string mapped = body;
  mapped.replace(f.model_at, f.model_size, "\"mapped-model\"");
  auto again = crs::relay::read_request_fields(mapped, true);
  FUZZ_CHECK(again.error.empty() && again.model == "mapped-model", "the mapped body reads another model");
  FUZZ_CHECK(f.max_tokens >= 0, "negative max_tokens");
  return 0;
}
