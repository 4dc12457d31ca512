#pragma once
// Reads usage out of an SSE stream as it passes through, chunk by chunk, without holding the
// stream: only the current line is buffered, and only message_start, message_delta, message_stop
// and error data lines are parsed (they are small). Lines may be split across chunks at any
// byte, and "\n" or "\r\n" endings are both handled.
#include <string>
#include <string_view>

#include "usage/usage.hpp"

namespace crs::usage {

class SseUsageScanner {
 public:
  void feed(std::string_view bytes);

  const Usage& usage() const { return usage_; }
  // The model that served the answer (message_start), "" if not seen yet.
  const std::string& served_model() const { return served_model_; }
  // Output tokens estimated from the content deltas that passed (characters / 4, the spec's
  // rule, §11.1): what a cut stream is charged at least when no final count arrived.
  int64_t estimated_output_tokens() const { return (delta_chars_ + 3) / 4; }
  bool final_usage_seen() const { return final_usage_seen_; }  // message_delta with usage
  bool started() const { return started_; }     // message_start seen
  bool completed() const { return completed_; } // message_stop seen
  bool saw_error() const { return saw_error_; } // an error event passed

 private:
  void on_line(std::string_view line);
  void count_delta(std::string_view data);
  void read_event(std::string_view data, bool start);

  Usage usage_;
  std::string line_;           // the incomplete line carried into the next chunk
  bool skipping_ = false;      // inside an over-long line we do not need
  std::string pending_event_;  // "event:" value waiting for its data line
  std::string served_model_;
  int64_t delta_chars_ = 0;      // characters of text, thinking and tool input deltas
  bool final_usage_seen_ = false;
  bool started_ = false;
  bool completed_ = false;
  bool saw_error_ = false;
};

}  // namespace crs::usage
