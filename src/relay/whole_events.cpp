#include "relay/whole_events.hpp"

#include <algorithm>

namespace crs::relay {

size_t last_event_end(std::string_view s) {
  // A blank line: LF LF, CR LF CR LF (its tail LF CR LF), or CR CR.
  for (size_t i = s.size(); i-- > 1;) {
    char c = s[i], before = s[i - 1];
    if (c == '\n' && (before == '\n' || (before == '\r' && i >= 2 && s[i - 2] == '\n'))) return i + 1;
    if (c == '\r' && before == '\r') return i + 1;
  }
  return 0;
}

std::string_view WholeEvents::take(std::string_view chunk) {
  std::string_view text = chunk;
  if (!held_.empty()) {
    held_.append(chunk);
    text = held_;
  }
  size_t end = last_event_end(text);
  if (end == 0 && held_.empty() && partial_sent_) {
    // A long event that went out may end with a blank line split between what was sent and
    // this chunk ("...\n" | "\n...").
    std::string joint = last_sent_ + std::string(chunk.substr(0, 3));
    size_t joint_end = last_event_end(joint);
    if (joint_end > last_sent_.size()) end = joint_end - last_sent_.size();
  }
  // What goes out: up to the last event's end; everything when the unfinished event is longer
  // than the limit, or is a long one already going out that has not ended yet.
  size_t sent = end;
  if (text.size() - end > limit_ || (partial_sent_ && end == 0)) sent = text.size();
  if (sent > end) partial_sent_ = true;
  else if (end > 0) partial_sent_ = false;
  std::string_view out;
  if (text.data() == chunk.data()) {  // nothing was held: no copy of what goes out
    held_.assign(chunk.substr(sent));
    out = chunk.substr(0, sent);
  } else {
    out_.assign(held_, 0, sent);
    held_.erase(0, sent);
    out = out_;
  }
  if (!out.empty()) last_sent_.assign(out.substr(out.size() - std::min<size_t>(out.size(), 3)));
  return out;
}

}  // namespace crs::relay
