#include "usage/sse_usage_scanner.hpp"

#include <boost/json.hpp>

namespace crs::usage {
namespace {

constexpr size_t kMaxInterestingLine = 256 * 1024;

std::string_view trim_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view after_field(std::string_view line, std::string_view field) {
  line.remove_prefix(field.size());
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return line;
}

// Characters of a JSON string body up to its closing quote: an escape counts as one, and so
// does each UTF-8 sequence.
int64_t json_string_chars(std::string_view s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') break;
    if (c == '\\') {
      i += (i + 1 < s.size() && s[i + 1] == 'u') ? 5 : 1;
    } else if ((c & 0xC0) == 0x80) {
      continue;  // a UTF-8 continuation byte
    }
    ++n;
  }
  return n;
}

}  // namespace

void SseUsageScanner::count_delta(std::string_view data) {
  // The text of a text, thinking or tool-input delta; signatures are not output text.
  for (std::string_view field : {"\"text\":\"", "\"thinking\":\"", "\"partial_json\":\""}) {
    if (auto at = data.find(field); at != std::string_view::npos) {
      delta_chars_ += json_string_chars(data.substr(at + field.size()));
      return;
    }
  }
}

void SseUsageScanner::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      bool in_delta = pending_event_ == "content_block_delta";
      if (skipping_) {
        if (in_delta) delta_chars_ += static_cast<int64_t>(bytes.size());
        return;
      }
      line_.append(bytes);
      // Only "event:" and the data lines we parse matter; over-long content deltas are
      // skipped (their bytes still count towards the output estimate).
      if (line_.size() > kMaxInterestingLine) {
        if (in_delta) delta_chars_ += static_cast<int64_t>(line_.size());
        line_.clear();
        skipping_ = true;
      }
      return;
    }
    if (skipping_) {
      if (pending_event_ == "content_block_delta") delta_chars_ += static_cast<int64_t>(nl);
      skipping_ = false;
    } else if (line_.empty()) {
      on_line(trim_cr(bytes.substr(0, nl)));
    } else {
      line_.append(bytes.substr(0, nl));
      on_line(trim_cr(line_));
      line_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

void SseUsageScanner::on_line(std::string_view line) {
  if (line.empty()) {  // end of an event
    pending_event_.clear();
    return;
  }
  if (line.starts_with("event:")) {
    pending_event_ = std::string(after_field(line, "event:"));
    return;
  }
  if (!line.starts_with("data:")) return;
  const std::string& event = pending_event_;
  if (event == "content_block_delta") {
    count_delta(after_field(line, "data:"));
    return;
  }
  if (event != "message_start" && event != "message_delta" && event != "message_stop" && event != "error") return;
  if (event == "message_stop") {
    completed_ = true;
    return;
  }
  if (event == "error") {
    saw_error_ = true;
    return;
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(after_field(line, "data:"), ec);
  if (ec || !v.is_object()) return;
  const auto& o = v.get_object();
  const boost::json::value* u = nullptr;
  if (event == "message_start") {
    started_ = true;
    if (auto* m = o.if_contains("message"); m && m->is_object()) {
      u = m->get_object().if_contains("usage");
      if (auto* model = m->get_object().if_contains("model"); model && model->is_string())
        served_model_ = model->get_string();
    }
  } else {
    u = o.if_contains("usage");
    final_usage_seen_ = final_usage_seen_ || (u && u->is_object() && u->get_object().contains("output_tokens"));
  }
  if (u && u->is_object()) apply_usage_object(u->get_object(), usage_);
}

}  // namespace crs::usage
