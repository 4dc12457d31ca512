// Bedrock's event-stream frames, decoded from bytes split anywhere: the decoder never crashes
// or buffers without bound, splitting does not change what it reads, and every frame it
// accepts encodes back to the bytes it came from.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aws/event_stream.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t piece = 1 + data[0] % 97;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  crs::aws::EventStreamDecoder whole, split;
  std::vector<crs::aws::Frame> a, b;
  bool ok_whole = whole.feed(bytes, a);
  bool ok_split = true;
  for (size_t at = 0; at < bytes.size() && ok_split; at += piece) ok_split = split.feed(bytes.substr(at, piece), b);
  FUZZ_CHECK(ok_whole == ok_split, "splitting changed whether the stream is corrupt");
  FUZZ_CHECK(a.size() == b.size(), "splitting changed the frames read");
  std::string again;
  for (const auto& f : a) again += crs::aws::encode_frame(f.headers, f.payload);
  FUZZ_CHECK(bytes.substr(0, again.size()) == again, "a frame does not encode back to its bytes");
  return 0;
}
