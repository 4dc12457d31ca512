#include "relay/request_fields.hpp"

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

bool read_answer_usage(std::string& body, usage::Usage& u) {
  if (body.empty()) return false;
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (thread_parser().iterate(view).get(doc) || doc.get_object().get(object)) return false;
  simdjson::ondemand::object usage;
  if (object.find_field_unordered("usage").get_object().get(usage)) return false;
  // The same reading as usage::apply_usage_object: overwrite what is present; cache writes
  // without a TTL breakdown count as 5-minute writes.
  bool had_creation = false, had_detail = false;
  for (auto field : usage) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    auto value = field.value();
    int64_t n = 0;
    if (key == "cache_creation") {
      simdjson::ondemand::object detail;
      if (value.get_object().get(detail)) continue;
      had_detail = true;
      for (auto d : detail) {
        std::string_view dkey;
        if (d.unescaped_key().get(dkey) || d.value().get_int64().get(n)) continue;
        if (dkey == "ephemeral_5m_input_tokens") u.cache_creation_5m = n;
        else if (dkey == "ephemeral_1h_input_tokens") u.cache_creation_1h = n;
      }
      continue;
    }
    if (value.get_int64().get(n)) continue;
    if (key == "input_tokens") u.input_tokens = n;
    else if (key == "output_tokens") u.output_tokens = n;
    else if (key == "cache_read_input_tokens") u.cache_read_input_tokens = n;
    else if (key == "cache_creation_input_tokens") {
      u.cache_creation_input_tokens = n;
      had_creation = true;
    }
  }
  if (had_creation && !had_detail) {
    u.cache_creation_5m = u.cache_creation_input_tokens;
    u.cache_creation_1h = 0;
  }
  return true;
}

}  // namespace crs::relay
