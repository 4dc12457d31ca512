#include "relay/request_fields.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <simdjson.h>

namespace crs::relay {
namespace {

// A parser keeps its buffers between documents; one per I/O thread.
simdjson::ondemand::parser& thread_parser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
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
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      f.error = "Request body is not valid JSON";
      return f;
    }
    auto value = field.value();
    if (key == "model") {
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
      double max_tokens = 0;
      if (!value.get_double().get(max_tokens) && max_tokens > 0)
        f.max_tokens = static_cast<int64_t>(std::min(max_tokens, static_cast<double>(usage::kMaxTokenCount)));
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

bool read_answer_usage(std::string& body, usage::Usage& u, std::string& served_model) {
  if (body.empty()) return false;
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (thread_parser().iterate(view).get(doc) || doc.get_object().get(object)) return false;
  // The usage object is small: its text goes through the one reading of usage the stream
  // uses too (usage::apply_usage_object), so both paths clamp and split alike.
  std::string_view usage_text;
  bool found = false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "model") {
      std::string_view model;
      if (!field.value().get_string().get(model)) served_model = std::string(model);
    } else if (key == "usage") {
      simdjson::ondemand::object usage;
      if (field.value().get_object().get(usage) || usage.raw_json().get(usage_text)) return false;
      found = true;
    }
  }
  if (!found) return false;
  boost::system::error_code ec;
  auto v = boost::json::parse(usage_text, ec);
  if (ec || !v.is_object()) return false;
  usage::apply_usage_object(v.get_object(), u);
  return true;
}

}  // namespace crs::relay
