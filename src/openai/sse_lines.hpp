#pragma once
// The lines of an SSE stream whose bytes arrive split anywhere: each complete line (CR LF or
// LF, the ending removed) is handed on; a piece of a line waits for the rest.
#include <algorithm>
#include <string>
#include <string_view>

namespace crs::openai {

class SseLines {
 public:
  // A line longer than this ends the stream as broken (no real event comes near it).
  static constexpr size_t kMaxLine = 16 << 20;

  // Calls `on_line(line)` for each line the bytes complete while `on_line` returns true; the
  // lines after one that returns false are dropped (the stream is over).
  template <class OnLine>
  void feed(std::string_view bytes, OnLine on_line) {
    if (overflowed_) return;
    pending_.append(bytes);
    size_t start = 0;
    bool more = true;
    while (more) {
      size_t nl = pending_.find('\n', std::max(start, scanned_));
      if (nl == std::string::npos) break;
      std::string_view line(pending_.data() + start, nl - start);
      start = nl + 1;
      scanned_ = 0;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      more = on_line(line);
    }
    if (more) pending_.erase(0, start);
    else pending_.clear();
    scanned_ = pending_.size();  // a partial line is not searched again from its start
    if (pending_.size() > kMaxLine) {
      overflowed_ = true;
      pending_.clear();
    }
  }
  bool has_partial() const { return !pending_.empty(); }
  bool overflowed() const { return overflowed_; }

 private:
  std::string pending_;
  size_t scanned_ = 0;  // bytes of pending_ known to hold no line end
  bool overflowed_ = false;
};

// Whether the line is a "data:" line; its value (after one optional space) goes in `value`.
inline bool data_value(std::string_view line, std::string_view& value) {
  if (!line.starts_with("data:")) return false;
  value = line.substr(5);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return true;
}

}  // namespace crs::openai
