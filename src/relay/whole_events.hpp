#pragma once
// Holds back the unfinished last event of a stream the relay passes on, so that a client never
// gets half an event: an upstream cut in the middle of one then ends with a clean error event
// instead of a broken one a client's parser chokes on. SSE clients act only on whole events, so
// holding the start of one delays nothing they can see. An event longer than the limit goes
// out as it comes instead (the memory per stream stays bounded).
#include <string>
#include <string_view>

namespace crs::relay {

class WholeEvents {
 public:
  explicit WholeEvents(size_t limit) : limit_(limit) {}
  // What may go to the client now. The view is valid until the next call.
  std::string_view take(std::string_view chunk);
  // At the end of the stream: what is still held.
  std::string_view rest() { return held_; }
  // Bytes of an event that has not ended went out (the event was longer than the limit).
  bool partial_sent() const { return partial_sent_; }

 private:
  size_t limit_;
  std::string held_;
  std::string out_;
  std::string last_sent_;  // the last bytes that went out: a blank line may straddle chunks
  bool partial_sent_ = false;
};

// Where the last complete event of `text` ends (just past its blank line), or 0.
size_t last_event_end(std::string_view text);

}  // namespace crs::relay
