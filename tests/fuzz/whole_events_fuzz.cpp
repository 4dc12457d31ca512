// What the relay passes on of a stream (relay/whole_events): whatever the bytes and however
// they are cut, nothing is lost, added or reordered; what has gone out ends where an event does
// unless an event outgrew the limit (and then the flag says so); the bytes held stay within it.
// Input: one byte that picks the cut, one that picks the limit, then the stream.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "relay/whole_events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t piece = 1 + data[0] % 64;
  size_t limit = data[1] % 128;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  crs::relay::WholeEvents whole(limit);
  std::string sent;
  for (size_t at = 0; at < stream.size(); at += piece) {
    std::string_view chunk = stream.substr(at, piece);
    sent += whole.take(chunk);
    FUZZ_CHECK(whole.partial_sent() || sent.empty() || crs::relay::last_event_end(sent) == sent.size(),
               "half an event went out");
    FUZZ_CHECK(whole.rest().size() <= limit, "more held than the limit");
    FUZZ_CHECK(stream.substr(0, sent.size()) == sent, "what went out is not the stream's start");
  }
  sent += whole.rest();
  FUZZ_CHECK(sent == stream, "bytes lost or added");
  return 0;
}
