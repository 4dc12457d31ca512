#include "openai/chat_answer.hpp"

#include <boost/json.hpp>

#include "openai/json_fields.hpp"

namespace crs::openai {
namespace json = boost::json;

namespace {

json::object tool_call(const json::object& block) {
  json::object fn;
  fn["name"] = text_of(block, "name");
  const auto* input = block.if_contains("input");
  fn["arguments"] = input ? json::serialize(*input) : std::string("{}");
  json::object call;
  call["id"] = text_of(block, "id");
  call["type"] = "function";
  call["function"] = std::move(fn);
  return call;
}

// The error's type in OpenAI's words: Anthropic's, which OpenAI clients show as they are.
json::object error_object(std::string_view type, std::string_view message, std::string_view code) {
  json::object e;
  e["message"] = message;
  e["type"] = type;
  e["param"] = nullptr;
  e["code"] = code.empty() ? json::value(nullptr) : json::value(code);
  return e;
}

}  // namespace

std::string_view finish_reason_of(std::string_view stop) {
  if (stop == "max_tokens" || stop == "model_context_window_exceeded") return "length";
  if (stop == "tool_use") return "tool_calls";
  if (stop == "refusal") return "content_filter";
  return "stop";
}

json::object openai_usage(const json::object& u) {
  int64_t cached = count_of(u, "cache_read_input_tokens");
  int64_t prompt = count_of(u, "input_tokens") + count_of(u, "cache_creation_input_tokens") + cached;
  int64_t completion = count_of(u, "output_tokens");
  json::object out;
  out["prompt_tokens"] = prompt;
  out["completion_tokens"] = completion;
  out["total_tokens"] = prompt + completion;
  out["prompt_tokens_details"] = json::object{{"cached_tokens", cached}};
  return out;
}

std::string message_to_completion(std::string_view anthropic, const ChatInfo& info, std::string_view id,
                                  int64_t created) {
  boost::system::error_code ec;
  json::value parsed = parse_json(anthropic, ec);
  json::object m = !ec && parsed.is_object() ? parsed.as_object() : json::object();
  std::string text;
  json::array calls;
  if (const auto* content = m.if_contains("content"); content && content->is_array())
    for (const auto& b : content->as_array()) {
      if (!b.is_object()) continue;
      std::string type = text_of(b.as_object(), "type");
      if (type == "text") text += text_of(b.as_object(), "text");
      else if (type == "tool_use") calls.push_back(tool_call(b.as_object()));
    }
  json::object message;
  message["role"] = "assistant";
  message["content"] = text.empty() ? json::value(nullptr) : json::value(text);
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  json::object choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["finish_reason"] = finish_reason_of(text_of(m, "stop_reason"));
  json::object out;
  out["id"] = id;
  out["object"] = "chat.completion";
  out["created"] = created;
  out["model"] = info.model;
  out["choices"] = json::array{std::move(choice)};
  const auto* usage = m.if_contains("usage");
  out["usage"] = openai_usage(usage && usage->is_object() ? usage->as_object() : json::object());
  return json::serialize(out);
}

std::string openai_error_body(unsigned& status, std::string_view anthropic) {
  boost::system::error_code ec;
  json::value parsed = parse_json(anthropic, ec);
  std::string type = "api_error", message = "the upstream answered HTTP " + std::to_string(status), code;
  json::object out;
  if (!ec && parsed.is_object()) {
    for (const auto& member : parsed.as_object())  // the relay's extras (limits, permissions) stay
      if (member.key() != "type" && member.key() != "error") out[member.key()] = member.value();
    const auto* e = parsed.as_object().if_contains("error");
    if (e && e->is_object()) {
      if (auto t = text_of(e->as_object(), "type"); !t.empty()) type = t;
      if (auto msg = text_of(e->as_object(), "message"); !msg.empty()) message = msg;
      code = text_of(e->as_object(), "code");
    }
  }
  if (status == 529) status = 503;  // OpenAI has no 529; its clients retry a 503 the same way
  if (code.empty()) code = status == 401 ? "invalid_api_key" : type;
  out["error"] = error_object(type, message, code);
  return json::serialize(out);
}

ChatStream::ChatStream(ChatInfo info, std::string id, int64_t created)
    : info_(std::move(info)), id_(std::move(id)), created_(created) {}

void ChatStream::chunk(json::object delta, std::string& out, const char* finish) {
  json::object choice;
  choice["index"] = 0;
  choice["delta"] = std::move(delta);
  choice["finish_reason"] = finish ? json::value(finish) : json::value(nullptr);
  json::object c;
  c["id"] = id_;
  c["object"] = "chat.completion.chunk";
  c["created"] = created_;
  c["model"] = info_.model;
  c["choices"] = json::array{std::move(choice)};
  if (info_.include_usage) c["usage"] = nullptr;
  out += "data: " + json::serialize(c) + "\n\n";
}

void ChatStream::error_line(std::string_view type, std::string_view message, std::string& out) {
  json::object e;
  e["message"] = message;
  e["type"] = type;
  out += "data: " + json::serialize(json::object{{"error", std::move(e)}}) + "\n\ndata: [DONE]\n\n";
  done_ = true;
}

void ChatStream::event(std::string_view data, std::string& out) {
  boost::system::error_code ec;
  json::value parsed = parse_json(data, ec);
  if (ec || !parsed.is_object()) return;
  const auto& e = parsed.as_object();
  std::string type = text_of(e, "type");
  if (type == "message_start") {
    const auto* message = e.if_contains("message");
    const auto* usage = message && message->is_object() ? message->as_object().if_contains("usage") : nullptr;
    if (usage && usage->is_object()) usage_ = usage->as_object();
    chunk(json::object{{"role", "assistant"}, {"content", ""}}, out);
  } else if (type == "content_block_start") {
    const auto* block = e.if_contains("content_block");
    if (!block || !block->is_object()) return;
    const auto& b = block->as_object();
    std::string kind = text_of(b, "type");
    if (kind == "text" && !text_of(b, "text").empty()) chunk(json::object{{"content", text_of(b, "text")}}, out);
    if (kind != "tool_use") return;
    int64_t tool = next_tool_++;
    tool_of_[count_of(e, "index")] = tool;
    json::object call{{"index", tool}, {"id", text_of(b, "id")}, {"type", "function"},
                      {"function", json::object{{"name", text_of(b, "name")}, {"arguments", ""}}}};
    chunk(json::object{{"tool_calls", json::array{std::move(call)}}}, out);
  } else if (type == "content_block_delta") {
    const auto* delta = e.if_contains("delta");
    if (!delta || !delta->is_object()) return;
    const auto& d = delta->as_object();
    std::string kind = text_of(d, "type");
    if (kind == "text_delta") {
      chunk(json::object{{"content", text_of(d, "text")}}, out);
    } else if (kind == "input_json_delta") {
      std::string fragment = text_of(d, "partial_json");
      auto tool = tool_of_.find(count_of(e, "index"));
      if (fragment.empty() || tool == tool_of_.end()) return;
      json::object call{{"index", tool->second}, {"function", json::object{{"arguments", fragment}}}};
      chunk(json::object{{"tool_calls", json::array{std::move(call)}}}, out);
    }
  } else if (type == "message_delta") {
    if (const auto* usage = e.if_contains("usage"); usage && usage->is_object())
      for (const auto& [k, v] : usage->as_object()) usage_[k] = v;
    const auto* delta = e.if_contains("delta");
    std::string stop = delta && delta->is_object() ? text_of(delta->as_object(), "stop_reason") : std::string();
    std::string finish(finish_reason_of(stop));
    chunk(json::object(), out, finish.c_str());
  } else if (type == "message_stop") {
    if (info_.include_usage) {
      json::object c;
      c["id"] = id_;
      c["object"] = "chat.completion.chunk";
      c["created"] = created_;
      c["model"] = info_.model;
      c["choices"] = json::array();
      c["usage"] = openai_usage(usage_);
      out += "data: " + json::serialize(c) + "\n\n";
    }
    out += "data: [DONE]\n\n";
    done_ = true;
  } else if (type == "error") {
    const auto* err = e.if_contains("error");
    json::object eo = err && err->is_object() ? err->as_object() : json::object();
    error_line(text_of(eo, "type").empty() ? "api_error" : text_of(eo, "type"), text_of(eo, "message"), out);
  }
}

std::string ChatStream::feed(std::string_view sse) {
  std::string out;
  if (done_) return out;
  lines_.feed(sse, [&](std::string_view line) {
    std::string_view value;
    if (line.empty()) {  // the event ends
      if (!data_.empty()) event(data_, out);
      data_.clear();
    } else if (data_value(line, value)) {
      if (!data_.empty()) data_ += '\n';
      data_ += value;
      if (data_.size() > SseLines::kMaxLine) error_line("api_error", "the upstream sent an event too long to be real", out);
    }
    return !done_;
  });
  if (lines_.overflowed() && !done_) error_line("api_error", "the upstream sent a line too long to be an event", out);
  return out;
}

std::string ChatStream::finish() {
  std::string out;
  if (done_) return out;
  if (!data_.empty() || lines_.has_partial()) out += feed("\n\n");
  if (!done_) error_line("api_error", "the upstream stream ended before the answer was complete", out);
  return out;
}

}  // namespace crs::openai
