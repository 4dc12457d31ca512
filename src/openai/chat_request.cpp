#include "openai/chat_request.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include <boost/json.hpp>

#include "openai/json_fields.hpp"

namespace crs::openai {
namespace json = boost::json;

namespace {

const json::value* member(const json::object& o, std::string_view name) { return o.if_contains(name); }

std::string text_of(const json::value* v) { return v && v->is_string() ? std::string(v->as_string()) : std::string(); }

// The text of a message's content: a string, or its text parts joined.
std::string plain_text(const json::value* content) {
  if (!content) return {};
  if (content->is_string()) return std::string(content->as_string());
  std::string out;
  if (content->is_array())
    for (const auto& part : content->as_array())
      if (part.is_object() && text_of(member(part.as_object(), "type")) == "text") {
        if (!out.empty()) out += '\n';
        out += text_of(member(part.as_object(), "text"));
      }
  return out;
}

json::object text_block(std::string text) { return json::object{{"type", "text"}, {"text", std::move(text)}}; }

// An image_url part as an image block (§3.3), or nullopt for what Anthropic cannot take.
std::optional<json::object> image_block(const json::object& part) {
  const auto* image = member(part, "image_url");
  std::string url = image && image->is_object() ? text_of(member(image->as_object(), "url"))
                                                : text_of(image);  // a bare string, as some clients send
  static const std::vector<std::string> kMedia{"image/jpeg", "image/png", "image/gif", "image/webp"};
  if (url.starts_with("data:")) {
    size_t semi = url.find(";base64,");
    if (semi == std::string::npos) return std::nullopt;
    std::string media = url.substr(5, semi - 5);
    if (std::find(kMedia.begin(), kMedia.end(), media) == kMedia.end()) return std::nullopt;
    json::object source{{"type", "base64"}, {"media_type", media}, {"data", url.substr(semi + 8)}};
    return json::object{{"type", "image"}, {"source", std::move(source)}};
  }
  if (url.starts_with("https://") || url.starts_with("http://"))
    return json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}};
  return std::nullopt;
}

// Anthropic turns being built: adjacent turns of one role are merged.
struct Turns {
  json::array messages;
  bool tool_calls_seen = false;

  void add(std::string_view role, json::object block) {
    if (!messages.empty() && messages.back().as_object().at("role").as_string() == role) {
      messages.back().as_object()["content"].as_array().push_back(std::move(block));
      return;
    }
    json::array content;
    content.push_back(std::move(block));
    messages.push_back(json::object{{"role", role}, {"content", std::move(content)}});
  }
};

Status add_user(Turns& t, const json::value* content) {
  if (content && content->is_string()) {
    t.add("user", text_block(std::string(content->as_string())));
    return Ok{};
  }
  if (!content || !content->is_array()) return Error{"messages: a user message needs content"};
  for (const auto& part : content->as_array()) {
    if (!part.is_object()) continue;
    const auto& p = part.as_object();
    std::string type = text_of(member(p, "type"));
    if (type == "text") t.add("user", text_block(text_of(member(p, "text"))));
    else if (type == "image_url") {
      auto image = image_block(p);
      if (!image) return Error{"messages: an image_url must be an http(s) URL or a base64 data URL of a JPEG, PNG, GIF or WebP"};
      t.add("user", std::move(*image));
    }
  }
  return Ok{};
}

json::object tool_use(std::string id, std::string name, const std::string& arguments) {
  boost::system::error_code ec;
  json::value input = parse_json(arguments, ec);
  if (ec || !input.is_object()) input = json::object();  // the spec's rule for arguments that are not an object
  return json::object{{"type", "tool_use"}, {"id", std::move(id)}, {"name", std::move(name)}, {"input", std::move(input)}};
}

void add_assistant(Turns& t, const json::object& m) {
  if (auto text = plain_text(member(m, "content")); !text.empty()) t.add("assistant", text_block(std::move(text)));
  if (const auto* calls = member(m, "tool_calls"); calls && calls->is_array()) {
    for (const auto& c : calls->as_array()) {
      if (!c.is_object()) continue;
      const auto* fn = member(c.as_object(), "function");
      if (!fn || !fn->is_object()) continue;
      t.add("assistant", tool_use(text_of(member(c.as_object(), "id")), text_of(member(fn->as_object(), "name")),
                                  text_of(member(fn->as_object(), "arguments"))));
      t.tool_calls_seen = true;
    }
  }
  if (const auto* fn = member(m, "function_call"); fn && fn->is_object()) {  // legacy
    std::string name = text_of(member(fn->as_object(), "name"));
    t.add("assistant", tool_use("func_" + name, name, text_of(member(fn->as_object(), "arguments"))));
    t.tool_calls_seen = true;
  }
}

void add_tool_result(Turns& t, std::string id, const json::value* content) {
  json::object block{{"type", "tool_result"}, {"tool_use_id", std::move(id)}};
  if (content && content->is_array()) {
    json::array texts;
    for (const auto& part : content->as_array())
      if (part.is_object() && text_of(member(part.as_object(), "type")) == "text")
        texts.push_back(text_block(text_of(member(part.as_object(), "text"))));
    block["content"] = std::move(texts);
  } else {
    block["content"] = plain_text(content);
  }
  t.add("user", std::move(block));
}

// The messages (§3.2) and the system prompt they carry.
Status convert_messages(const json::array& in, Turns& t, std::string& system) {
  for (const auto& v : in) {
    if (!v.is_object()) return Error{"messages: each message must be an object"};
    const auto& m = v.as_object();
    std::string role = text_of(member(m, "role"));
    if (role == "system" || role == "developer") {
      std::string text = plain_text(member(m, "content"));
      if (!text.empty()) {
        if (!system.empty()) system += "\n\n";
        system += text;
      }
    } else if (role == "user") {
      if (auto s = add_user(t, member(m, "content")); !s) return s;
    } else if (role == "assistant") {
      add_assistant(t, m);
    } else if (role == "tool") {
      add_tool_result(t, text_of(member(m, "tool_call_id")), member(m, "content"));
    } else if (role == "function") {
      add_tool_result(t, "func_" + text_of(member(m, "name")), member(m, "content"));
    } else {
      return Error{"messages: unknown role \"" + role + "\""};
    }
  }
  if (t.messages.empty()) return Error{"messages: at least one user or assistant message is required"};
  if (t.messages.front().as_object().at("role").as_string() != "user") {
    json::array placeholder;
    placeholder.push_back(text_block("(conversation continues)"));
    t.messages.insert(t.messages.begin(), json::object{{"role", "user"}, {"content", std::move(placeholder)}});
  }
  return Ok{};
}

json::object tool_of(const json::object& fn) {
  json::object tool{{"name", text_of(member(fn, "name"))}};
  if (const auto* d = member(fn, "description"); d && d->is_string()) tool["description"] = *d;
  const auto* params = member(fn, "parameters");
  tool["input_schema"] = params && params->is_object() ? *params : json::value(json::object{{"type", "object"}, {"properties", json::object()}});
  return tool;
}

json::array tools_of(const json::object& req) {
  json::array tools;
  if (const auto* list = member(req, "tools"); list && list->is_array())
    for (const auto& t : list->as_array())
      if (t.is_object())
        if (const auto* fn = member(t.as_object(), "function"); fn && fn->is_object()) tools.push_back(tool_of(fn->as_object()));
  if (const auto* list = member(req, "functions"); list && list->is_array())  // legacy
    for (const auto& fn : list->as_array())
      if (fn.is_object()) tools.push_back(tool_of(fn.as_object()));
  return tools;
}

// tool_choice (§3.1), with parallel_tool_calls: false; null when neither is given.
Result<json::value> tool_choice_of(const json::object& req) {
  json::object choice;
  const auto* c = member(req, "tool_choice");
  if (c && c->is_string()) {
    std::string s(c->as_string());
    if (s == "auto") choice["type"] = "auto";
    else if (s == "required") choice["type"] = "any";
    else if (s == "none") choice["type"] = "none";
    else return Error{"tool_choice: auto, required, none or a function"};
  } else if (c && c->is_object()) {
    const auto* fn = member(c->as_object(), "function");
    std::string name = fn && fn->is_object() ? text_of(member(fn->as_object(), "name")) : std::string();
    if (name.empty()) return Error{"tool_choice: a function choice needs function.name"};
    choice["type"] = "tool";
    choice["name"] = name;
  }
  const auto* parallel = member(req, "parallel_tool_calls");
  if (parallel && parallel->is_bool() && !parallel->as_bool()) {
    if (choice.empty()) choice["type"] = "auto";
    choice["disable_parallel_tool_use"] = true;
  }
  if (choice.empty()) return json::value(nullptr);
  return json::value(std::move(choice));
}

std::optional<int64_t> positive_int(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64() && v->as_int64() > 0) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() > 0) return static_cast<int64_t>(std::min<uint64_t>(v->as_uint64(), INT64_MAX));
  return std::nullopt;
}

// Sampling and stop fields (§3.1); `temperature_set`: a temperature other than 1 is set.
void copy_sampling(const json::object& req, json::object& out, bool& temperature_set) {
  if (const auto* t = member(req, "temperature"); t && t->is_number()) {
    out["temperature"] = std::clamp(t->to_number<double>(), 0.0, 1.0);
    temperature_set = out["temperature"].as_double() != 1.0;
  }
  if (const auto* p = member(req, "top_p"); p && p->is_number() && !out.contains("temperature")) out["top_p"] = *p;
  if (const auto* stop = member(req, "stop")) {
    json::array sequences;
    if (stop->is_string()) sequences.push_back(*stop);
    else if (stop->is_array())
      for (const auto& s : stop->as_array())
        if (s.is_string()) sequences.push_back(s);
    if (!sequences.empty()) out["stop_sequences"] = std::move(sequences);
  }
}

// reasoning_effort as thinking, where Anthropic allows it (§3.4): not with tool calls in the
// history (they would need signed thinking), a forced tool or a temperature other than 1.
void add_thinking(const json::object& req, json::object& out, bool history_has_tools, bool temperature_set) {
  int64_t budget = thinking_budget(text_of(member(req, "reasoning_effort")));
  if (budget == 0 || history_has_tools || temperature_set) return;
  if (const auto* c = out.if_contains("tool_choice"); c && c->is_object()) {
    std::string type = text_of(member(c->as_object(), "type"));
    if (type == "any" || type == "tool") return;
  }
  out["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", budget}};
  if (out["max_tokens"].as_int64() <= budget) out["max_tokens"] = budget + 1024;
  out.erase("temperature");
  out.erase("top_p");
}

}  // namespace

int64_t thinking_budget(std::string_view effort) {
  if (effort == "low") return 1024;
  if (effort == "medium") return 4096;
  if (effort == "high") return 16384;
  return 0;
}

Result<std::string> chat_to_messages(std::string_view body, ChatInfo& info, const ChatOptions& options) {
  boost::system::error_code ec;
  json::value parsed = parse_json(body, ec);
  if (ec || !parsed.is_object()) return Error{"the body must be a JSON object"};
  const auto& req = parsed.as_object();
  info.model = text_of(member(req, "model"));
  if (info.model.empty()) return Error{"model: required"};
  const auto* messages = member(req, "messages");
  if (!messages || !messages->is_array() || messages->as_array().empty()) return Error{"messages: a non-empty array is required"};
  if (auto n = positive_int(member(req, "n")); n && *n > 1) return Error{"n: only one choice can be returned"};
  const auto* stream = member(req, "stream");
  info.stream = stream && stream->is_bool() && stream->as_bool();
  const auto* stream_options = member(req, "stream_options");
  const auto* include = stream_options && stream_options->is_object() ? member(stream_options->as_object(), "include_usage") : nullptr;
  info.include_usage = info.stream && include && include->is_bool() && include->as_bool();

  Turns turns;
  std::string system;
  if (auto s = convert_messages(messages->as_array(), turns, system); !s) return s.error();
  json::object out;
  out["model"] = info.model;
  if (!system.empty()) out["system"] = system;
  auto max = positive_int(member(req, "max_completion_tokens"));
  if (!max) max = positive_int(member(req, "max_tokens"));
  out["max_tokens"] = max.value_or(options.default_max_tokens);
  bool temperature_set = false;
  copy_sampling(req, out, temperature_set);
  out["stream"] = info.stream;
  out["messages"] = std::move(turns.messages);
  if (auto tools = tools_of(req); !tools.empty()) out["tools"] = std::move(tools);
  auto choice = tool_choice_of(req);
  if (!choice) return choice.error();
  if (!choice->is_null()) out["tool_choice"] = std::move(*choice);
  if (auto user = text_of(member(req, "user")); !user.empty()) out["metadata"] = json::object{{"user_id", user}};
  add_thinking(req, out, turns.tool_calls_seen, temperature_set);
  return json::serialize(out);
}

}  // namespace crs::openai
