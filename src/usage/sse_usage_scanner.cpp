#include "usage/sse_usage_scanner.hpp"

#include <optional>

#include "usage/usage_json.hpp"

namespace crs::usage {
namespace ondemand = simdjson::ondemand;
namespace {

constexpr size_t kMaxInterestingLine = 256 * 1024;

// What one data line says, kept apart until the whole line has read through. A repeated member
// replaces the first: each is read over what the scanner had before the line.
struct EventRead {
  Usage usage;
  std::optional<std::string> model;
  bool final_count = false;  // the usage member had output_tokens
};

// A usage member; false if the JSON breaks off. Anything but an object says nothing.
bool read_usage_member(ondemand::value v, const Usage& before, EventRead& read) {
  read.usage = before;
  read.final_count = false;
  ondemand::object usage;
  if (v.get_object().get(usage)) return v.type().error() == simdjson::SUCCESS;
  auto r = apply_usage_object(usage, read.usage);
  read.final_count = r.has_output_tokens;
  return r.readable;
}

// message_start's "message": its model and usage; false if the JSON breaks off.
bool read_message(ondemand::value v, const Usage& before, EventRead& read) {
  read.usage = before;
  read.model.reset();
  ondemand::object message;
  if (v.get_object().get(message)) return true;  // not an object: nothing
  for (auto member : message) {
    std::string_view name;
    ondemand::value m;
    if (member.unescaped_key().get(name) || member.value().get(m)) return false;
    if (name == "usage" && !read_usage_member(m, before, read)) return false;
    if (name == "model") {
      read.model.reset();  // a repeated member that is no string: no model
      std::string_view text;
      if (!m.get_string().get(text)) read.model = std::string(text);
    }
  }
  return true;
}

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
  read_event(after_field(line, "data:"), event == "message_start");
}

// message_start: {"message": {"model": ..., "usage": {...}}, ...}; message_delta:
// {"usage": {...}, ...}. What a data line says is taken only if the line reads through.
void SseUsageScanner::read_event(std::string_view data, bool start) {
  thread_local ondemand::parser parser;
  std::string padded;  // two small lines per stream
  padded.reserve(data.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(data);
  ondemand::document doc;
  ondemand::object o;
  if (parser.iterate(simdjson::padded_string_view(padded.data(), padded.size(), padded.capacity())).get(doc) ||
      doc.get_object().get(o))
    return;
  EventRead read{usage_, std::nullopt, false};
  for (auto field : o) {
    std::string_view key;
    ondemand::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) return;
    bool readable = true;
    if (!start && key == "usage") readable = read_usage_member(v, usage_, read);
    else if (start && key == "message") readable = read_message(v, usage_, read);
    if (!readable) return;
  }
  // Nothing after the object (simdjson 3.0 has no document::at_end).
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return;
  if (start) started_ = true;
  usage_ = read.usage;
  if (read.model) served_model_ = std::move(*read.model);
  if (!start) final_usage_seen_ = final_usage_seen_ || read.final_count;  // message_start's count is not final
}

}  // namespace crs::usage
