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

}  // namespace

void SseUsageScanner::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      if (!skipping_) {
        line_.append(bytes);
        // Only "event:" and the data lines we parse matter; long content deltas are skipped.
        if (line_.size() > kMaxInterestingLine) {
          line_.clear();
          skipping_ = true;
        }
      }
      return;
    }
    if (skipping_) {
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
    if (auto* m = o.if_contains("message"); m && m->is_object()) u = m->get_object().if_contains("usage");
  } else {
    u = o.if_contains("usage");
  }
  if (u && u->is_object()) apply_usage_object(u->get_object(), usage_);
}

}  // namespace crs::usage
