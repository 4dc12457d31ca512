#include "openai/messages_bridge.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include <boost/json.hpp>

#include "openai/json_fields.hpp"

#include "openai/sse_lines.hpp"

namespace crs::openai {
namespace json = boost::json;

namespace {

// Text blocks (or a string) joined.
std::string joined_text(const json::value* content) {
  if (!content) return {};
  if (content->is_string()) return std::string(content->as_string());
  std::string out;
  if (content->is_array())
    for (const auto& b : content->as_array())
      if (b.is_object() && text_of(b.as_object(), "type") == "text") {
        if (!out.empty()) out += '\n';
        out += text_of(b.as_object(), "text");
      }
  return out;
}

std::optional<json::object> image_part(const json::object& block) {
  const auto* source = block.if_contains("source");
  if (!source || !source->is_object()) return std::nullopt;
  const auto& s = source->as_object();
  std::string url = text_of(s, "type") == "base64"
                        ? "data:" + text_of(s, "media_type") + ";base64," + text_of(s, "data")
                        : text_of(s, "url");
  if (url.empty()) return std::nullopt;
  return json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}};
}

json::object tool_message(const json::object& result) {
  std::string content = joined_text(result.if_contains("content"));
  if (const auto* blocks = result.if_contains("content"); blocks && blocks->is_array())
    for (const auto& b : blocks->as_array())
      if (b.is_object() && text_of(b.as_object(), "type") == "image") content += "[image]";
  const auto* error = result.if_contains("is_error");
  if (error && error->is_bool() && error->as_bool()) content = "Error: " + content;
  return json::object{{"role", "tool"}, {"tool_call_id", text_of(result, "tool_use_id")}, {"content", content}};
}

// One user turn: its tool results first, each a tool message, then the rest as a user message.
void add_user_turn(const json::value& content, json::array& out) {
  if (content.is_string()) {
    out.push_back(json::object{{"role", "user"}, {"content", content}});
    return;
  }
  if (!content.is_array()) return;
  json::array parts;
  for (const auto& b : content.as_array()) {
    if (!b.is_object()) continue;
    const auto& block = b.as_object();
    std::string type = text_of(block, "type");
    if (type == "tool_result") out.push_back(tool_message(block));
    else if (type == "text") parts.push_back(json::object{{"type", "text"}, {"text", text_of(block, "text")}});
    else if (type == "image")
      if (auto image = image_part(block)) parts.push_back(std::move(*image));
  }
  if (parts.empty()) return;
  if (parts.size() == 1 && parts[0].as_object().at("type") == "text")
    out.push_back(json::object{{"role", "user"}, {"content", parts[0].as_object().at("text")}});
  else out.push_back(json::object{{"role", "user"}, {"content", std::move(parts)}});
}

void add_assistant_turn(const json::value& content, json::array& out) {
  json::array calls;
  if (content.is_array())
    for (const auto& b : content.as_array()) {
      if (!b.is_object() || text_of(b.as_object(), "type") != "tool_use") continue;
      const auto& block = b.as_object();
      const auto* input = block.if_contains("input");
      json::object fn{{"name", text_of(block, "name")}, {"arguments", input ? json::serialize(*input) : std::string("{}")}};
      calls.push_back(json::object{{"id", text_of(block, "id")}, {"type", "function"}, {"function", std::move(fn)}});
    }
  std::string text = joined_text(&content);
  json::object m{{"role", "assistant"}, {"content", text.empty() ? json::value(nullptr) : json::value(text)}};
  if (!calls.empty()) m["tool_calls"] = std::move(calls);
  if (!text.empty() || m.contains("tool_calls")) out.push_back(std::move(m));
}

json::array tools_of(const json::object& req) {
  json::array out;
  const auto* tools = req.if_contains("tools");
  if (!tools || !tools->is_array()) return out;
  for (const auto& t : tools->as_array()) {
    if (!t.is_object()) continue;
    const auto& tool = t.as_object();
    if (!text_of(tool, "type").empty() && text_of(tool, "type") != "custom") continue;  // server tools: no equivalent
    json::object fn{{"name", text_of(tool, "name")}};
    if (const auto* d = tool.if_contains("description"); d && d->is_string()) fn["description"] = *d;
    if (const auto* schema = tool.if_contains("input_schema")) fn["parameters"] = *schema;
    out.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  return out;
}

void copy_tool_choice(const json::object& req, json::object& out) {
  const auto* c = req.if_contains("tool_choice");
  if (!c || !c->is_object()) return;
  const auto& choice = c->as_object();
  std::string type = text_of(choice, "type");
  if (type == "auto") out["tool_choice"] = "auto";
  else if (type == "any") out["tool_choice"] = "required";
  else if (type == "none") out["tool_choice"] = "none";
  else if (type == "tool")
    out["tool_choice"] = json::object{{"type", "function"}, {"function", json::object{{"name", text_of(choice, "name")}}}};
  const auto* serial = choice.if_contains("disable_parallel_tool_use");
  if (serial && serial->is_bool() && serial->as_bool()) out["parallel_tool_calls"] = false;
}

// Sampling, limits and the rest of §6.1's top-level rows.
void copy_settings(const json::object& req, json::object& out) {
  if (const auto* max = req.if_contains("max_tokens"); max && max->is_int64()) out["max_tokens"] = *max;
  if (const auto* stop = req.if_contains("stop_sequences"); stop && stop->is_array() && !stop->as_array().empty())
    out["stop"] = *stop;
  for (const char* name : {"temperature", "top_p"})
    if (const auto* v = req.if_contains(name); v && v->is_number()) out[name] = *v;
  if (const auto* thinking = req.if_contains("thinking"); thinking && thinking->is_object()) {
    const auto* budget = thinking->as_object().if_contains("budget_tokens");
    if (text_of(thinking->as_object(), "type") == "enabled" && budget && budget->is_int64()) {
      int64_t b = budget->as_int64();
      out["reasoning_effort"] = b < 4096 ? "low" : b < 16384 ? "medium" : "high";
    }
  }
  const auto* stream = req.if_contains("stream");
  if (stream && stream->is_bool() && stream->as_bool()) {
    out["stream"] = true;
    out["stream_options"] = json::object{{"include_usage", true}};  // the usage chunk is what bills
  }
}

// OpenAI usage as Anthropic counts it: cached prompt tokens are cache reads, not input.
BridgedUsage bridged_usage(const json::object& u) {
  const auto* details = u.if_contains("prompt_tokens_details");
  BridgedUsage out;
  out.cache_read_input_tokens = details && details->is_object() ? count_of(details->as_object(), "cached_tokens") : 0;
  out.input_tokens = std::max<int64_t>(0, count_of(u, "prompt_tokens") - out.cache_read_input_tokens);
  out.output_tokens = count_of(u, "completion_tokens");
  out.reported = true;
  return out;
}

}  // namespace

std::string_view stop_reason_of(std::string_view finish) {
  if (finish == "length") return "max_tokens";
  if (finish == "tool_calls" || finish == "function_call") return "tool_use";
  if (finish == "content_filter") return "refusal";
  return "end_turn";
}

Result<std::string> messages_to_chat(std::string_view anthropic, std::string_view upstream_model) {
  boost::system::error_code ec;
  json::value parsed = parse_json(anthropic, ec);
  if (ec || !parsed.is_object()) return Error{"the body must be a JSON object"};
  const auto& req = parsed.as_object();
  const auto* messages = req.if_contains("messages");
  if (!messages || !messages->is_array()) return Error{"messages: an array is required"};
  json::array out_messages;
  if (auto system = joined_text(req.if_contains("system")); !system.empty())
    out_messages.push_back(json::object{{"role", "system"}, {"content", system}});
  for (const auto& m : messages->as_array()) {
    if (!m.is_object() || !m.as_object().contains("content")) continue;
    const auto& content = m.as_object().at("content");
    if (text_of(m.as_object(), "role") == "assistant") add_assistant_turn(content, out_messages);
    else add_user_turn(content, out_messages);
  }
  json::object out;
  out["model"] = upstream_model;
  out["messages"] = std::move(out_messages);
  copy_settings(req, out);
  if (auto tools = tools_of(req); !tools.empty()) out["tools"] = std::move(tools);
  copy_tool_choice(req, out);
  if (const auto* metadata = req.if_contains("metadata"); metadata && metadata->is_object())
    if (auto user = text_of(metadata->as_object(), "user_id"); !user.empty()) out["user"] = user;
  return json::serialize(out);
}

std::string without_identifiers(std::string_view message) {
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    bool starts_token = i == 0 || std::isspace(static_cast<unsigned char>(message[i - 1])) || message[i - 1] == '\'' ||
                        message[i - 1] == '"' || message[i - 1] == ':';
    std::string_view rest = message.substr(i);
    size_t prefix = 0;
    for (std::string_view p : {"org-", "proj_", "user-", "sk-"})
      if (starts_token && rest.starts_with(p)) prefix = p.size();
    if (prefix == 0) {
      out += message[i++];
      continue;
    }
    out.append(rest.substr(0, prefix)).append("…");
    i += prefix;
    while (i < message.size() && (std::isalnum(static_cast<unsigned char>(message[i])) || message[i] == '-' || message[i] == '_' ||
                                  message[i] == '*'))
      ++i;
  }
  return out;
}

Result<std::string> completion_to_message(std::string_view answer, std::string_view requested_model, BridgedUsage& usage) {
  boost::system::error_code ec;
  json::value parsed = parse_json(answer, ec);
  if (ec || !parsed.is_object()) return Error{"the upstream's answer is not a JSON object"};
  const auto& a = parsed.as_object();
  const auto* choices = a.if_contains("choices");
  if (!choices || !choices->is_array() || choices->as_array().empty() || !choices->as_array()[0].is_object())
    return Error{"the upstream's answer has no choice"};
  const auto& choice = choices->as_array()[0].as_object();
  const auto* message = choice.if_contains("message");
  json::object m = message && message->is_object() ? message->as_object() : json::object();
  json::array content;
  if (auto text = text_of(m, "content"); !text.empty()) content.push_back(json::object{{"type", "text"}, {"text", text}});
  if (const auto* calls = m.if_contains("tool_calls"); calls && calls->is_array())
    for (const auto& c : calls->as_array()) {
      if (!c.is_object()) continue;
      const auto* fn = c.as_object().if_contains("function");
      json::object f = fn && fn->is_object() ? fn->as_object() : json::object();
      json::value input = parse_json(text_of(f, "arguments"), ec);
      if (ec || !input.is_object()) input = json::object();
      content.push_back(json::object{{"type", "tool_use"}, {"id", text_of(c.as_object(), "id")},
                                     {"name", text_of(f, "name")}, {"input", std::move(input)}});
    }
  if (const auto* u = a.if_contains("usage"); u && u->is_object()) usage = bridged_usage(u->as_object());
  usage.served_model = text_of(a, "model");
  json::object out;
  out["id"] = "msg_" + text_of(a, "id");
  out["type"] = "message";
  out["role"] = "assistant";
  out["model"] = requested_model;
  out["content"] = std::move(content);
  out["stop_reason"] = stop_reason_of(text_of(choice, "finish_reason"));
  out["stop_sequence"] = nullptr;
  out["usage"] = json::object{{"input_tokens", usage.input_tokens},
                              {"cache_creation_input_tokens", 0},
                              {"cache_read_input_tokens", usage.cache_read_input_tokens},
                              {"output_tokens", usage.output_tokens}};
  return json::serialize(out);
}

MessagesStream::MessagesStream(std::string requested_model) : model_(std::move(requested_model)) {}

void MessagesStream::emit(std::string_view event, const std::string& json_text, std::string& out) {
  out += "event: ";
  out += event;
  out += "\ndata: ";
  out += json_text;
  out += "\n\n";
}

void MessagesStream::open(const char* kind, std::string& out) {
  if (open_kind_ == kind) return;
  close_open(out);
  json::object block;
  block["type"] = kind;
  block[kind == std::string_view("text") ? "text" : "thinking"] = "";
  emit("content_block_start",
       json::serialize(json::object{{"type", "content_block_start"}, {"index", next_index_}, {"content_block", std::move(block)}}),
       out);
  open_kind_ = kind;
  open_index_ = next_index_++;
}

void MessagesStream::close_open(std::string& out) {
  if (open_kind_.empty()) return;
  emit("content_block_stop", json::serialize(json::object{{"type", "content_block_stop"}, {"index", open_index_}}), out);
  open_kind_.clear();
}

void MessagesStream::chunk(std::string_view data, std::string& out) {
  boost::system::error_code ec;
  json::value parsed = parse_json(data, ec);
  if (ec || !parsed.is_object()) return;
  const auto& c = parsed.as_object();
  if (const auto* error = c.if_contains("error"); error && error->is_object()) {
    std::string message = without_identifiers(text_of(error->as_object(), "message"));
    emit("error", json::serialize(json::object{{"type", "error"}, {"error", json::object{{"type", "api_error"}, {"message", message}}}}), out);
    done_ = failed_ = true;
    return;
  }
  if (!started_) {
    json::object message{{"id", "msg_" + text_of(c, "id")}, {"type", "message"}, {"role", "assistant"}, {"model", model_},
                         {"content", json::array()}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                         {"usage", json::object{{"input_tokens", 0}, {"output_tokens", 0}}}};
    emit("message_start", json::serialize(json::object{{"type", "message_start"}, {"message", std::move(message)}}), out);
    emit("ping", R"({"type":"ping"})", out);
    started_ = true;
  }
  std::string served = usage_.served_model.empty() ? text_of(c, "model") : usage_.served_model;
  if (const auto* u = c.if_contains("usage"); u && u->is_object()) usage_ = bridged_usage(u->as_object());
  usage_.served_model = std::move(served);
  const auto* choices = c.if_contains("choices");
  if (!choices || !choices->is_array() || choices->as_array().empty() || !choices->as_array()[0].is_object()) return;
  const auto& choice = choices->as_array()[0].as_object();
  const auto* delta_value = choice.if_contains("delta");
  json::object delta = delta_value && delta_value->is_object() ? delta_value->as_object() : json::object();
  if (auto thinking = text_of(delta, "reasoning_content"); !thinking.empty()) {
    open("thinking", out);
    json::object d{{"type", "thinking_delta"}, {"thinking", thinking}};
    emit("content_block_delta", json::serialize(json::object{{"type", "content_block_delta"}, {"index", open_index_}, {"delta", std::move(d)}}), out);
  }
  if (auto text = text_of(delta, "content"); !text.empty()) {
    open("text", out);
    json::object d{{"type", "text_delta"}, {"text", text}};
    emit("content_block_delta", json::serialize(json::object{{"type", "content_block_delta"}, {"index", open_index_}, {"delta", std::move(d)}}), out);
  }
  if (const auto* calls = delta.if_contains("tool_calls"); calls && calls->is_array())
    for (const auto& call : calls->as_array()) {
      if (!call.is_object()) continue;
      const auto& tc = call.as_object();
      int64_t index = count_of(tc, "index");
      auto it = std::find_if(tools_.begin(), tools_.end(), [&](const ToolCall& t) { return t.index == index; });
      if (it == tools_.end()) it = tools_.insert(tools_.end(), ToolCall{index, "", "", ""});
      if (auto id = text_of(tc, "id"); !id.empty()) it->id = id;
      const auto* fn = tc.if_contains("function");
      if (fn && fn->is_object()) {
        if (auto name = text_of(fn->as_object(), "name"); !name.empty()) it->name = name;
        it->arguments += text_of(fn->as_object(), "arguments");
      }
    }
  if (auto reason = text_of(choice, "finish_reason"); !reason.empty()) finish_ = reason;
}

std::string MessagesStream::feed(std::string_view sse) {
  std::string out;
  if (done_) return out;
  lines_.feed(sse, [&](std::string_view line) {
    std::string_view value;
    if (!data_value(line, value)) return true;
    if (value == "[DONE]") out += finish();
    else chunk(value, out);
    return !done_;
  });
  if (lines_.overflowed() && !done_) {
    emit("error", R"({"type":"error","error":{"type":"api_error","message":"the upstream sent a line too long to be an event"}})", out);
    done_ = failed_ = true;
  }
  return out;
}

std::string MessagesStream::finish() {
  std::string out;
  if (done_) return out;
  done_ = true;
  if (!started_) {
    emit("error", R"({"type":"error","error":{"type":"api_error","message":"the upstream stream ended without an answer"}})", out);
    failed_ = true;
    return out;
  }
  close_open(out);
  for (size_t i = 0; i < tools_.size(); ++i) {
    const auto& t = tools_[i];
    std::string id = t.id.empty() ? "toolu_bridged_" + std::to_string(i) : t.id;
    json::object block{{"type", "tool_use"}, {"id", id}, {"name", t.name}, {"input", json::object()}};
    int64_t index = next_index_++;
    emit("content_block_start", json::serialize(json::object{{"type", "content_block_start"}, {"index", index}, {"content_block", std::move(block)}}), out);
    if (!t.arguments.empty()) {
      json::object d{{"type", "input_json_delta"}, {"partial_json", t.arguments}};
      emit("content_block_delta", json::serialize(json::object{{"type", "content_block_delta"}, {"index", index}, {"delta", std::move(d)}}), out);
    }
    emit("content_block_stop", json::serialize(json::object{{"type", "content_block_stop"}, {"index", index}}), out);
  }
  std::string stop(stop_reason_of(finish_));
  if (!tools_.empty() && finish_.empty()) stop = "tool_use";
  json::object usage{{"input_tokens", usage_.input_tokens},
                     {"cache_read_input_tokens", usage_.cache_read_input_tokens},
                     {"output_tokens", usage_.output_tokens}};
  json::object delta{{"stop_reason", stop}, {"stop_sequence", nullptr}};
  emit("message_delta", json::serialize(json::object{{"type", "message_delta"}, {"delta", std::move(delta)}, {"usage", std::move(usage)}}), out);
  emit("message_stop", R"({"type":"message_stop"})", out);
  return out;
}

}  // namespace crs::openai
