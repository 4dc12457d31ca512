#include "relay/request_fields.hpp"

#include <algorithm>
#include <optional>

#include <simdjson.h>

#include "usage/json_number.hpp"

namespace crs::relay {
namespace {

// A parser keeps its buffers between documents; one per I/O thread.
simdjson::ondemand::parser& thread_parser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

// The fields the relay acts on must mean one thing: JSON parsers differ on which of two
// equal keys wins, and a key's model rules must judge the model the upstream will serve.
// Escaped keys ("mod\u0065l") count as what they spell (the key is compared unescaped).
bool once(std::string_view key, unsigned& seen) {
  static constexpr std::string_view kJudged[] = {"model", "stream", "max_tokens", "metadata", "messages"};
  for (unsigned i = 0; i < std::size(kJudged); ++i) {
    if (key != kJudged[i]) continue;
    if (seen & (1u << i)) return false;
    seen |= 1u << i;
  }
  return true;
}

}  // namespace

RequestFields read_request_fields(std::string& body, bool require_messages) {
  RequestFields f;
  if (body.empty()) {
    f.error = "Request body is empty: expected a JSON object";
    return f;
  }
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
  simdjson::ondemand::document doc;
  if (thread_parser().iterate(view).get(doc)) {
    f.error = "Request body is not valid JSON";
    return f;
  }
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) {
    f.error = "Request body is not a JSON object";
    return f;
  }
  bool has_messages = false;
  unsigned seen = 0;  // the fields below met so far: each at most once
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      f.error = "Request body is not valid JSON";
      return f;
    }
    if (!once(key, seen)) {
      f.error = std::string(key) + ": appears more than once";
      return f;
    }
    auto value = field.value();
    if (key == "model") {
      std::string_view token = usage::trim_json_token(value.raw_json_token());
      f.model_at = static_cast<size_t>(token.data() - body.data());
      f.model_size = token.size();
      std::string_view model;
      if (value.get_string().get(model)) {
        f.error = "model: must be a string";
        return f;
      }
      f.model = std::string(model);
    } else if (key == "stream") {
      bool stream = false;
      if (value.get_bool().get(stream)) {
        f.error = "stream: must be a boolean";
        return f;
      }
      f.stream = stream;
    } else if (key == "max_tokens") {
      simdjson::ondemand::value number;
      std::optional<double> max_tokens = value.get(number) ? std::nullopt : usage::json_number(number);
      if (max_tokens && *max_tokens > 0)
        f.max_tokens = static_cast<int64_t>(std::min(*max_tokens, static_cast<double>(usage::kMaxTokenCount)));
    } else if (key == "metadata") {
      // Only for telling conversations apart: anything malformed here is the upstream's to judge.
      simdjson::ondemand::object metadata;
      if (!value.get_object().get(metadata)) {
        std::string_view user_id;
        if (!metadata["user_id"].get_string().get(user_id) && user_id.size() <= 1024) f.user_id = std::string(user_id);
      }
    } else if (key == "messages") {
      simdjson::ondemand::json_type type;
      if (value.type().get(type) || type != simdjson::ondemand::json_type::array) {
        f.error = "messages: must be an array";
        return f;
      }
      has_messages = true;
    }
  }
  if (f.model.empty()) f.error = "model: Field required";
  else if (require_messages && !has_messages) f.error = "messages: Field required";
  return f;
}

}  // namespace crs::relay
