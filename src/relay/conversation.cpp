#include "relay/conversation.hpp"

#include <simdjson.h>

#include "core/crypto.hpp"

namespace crs::relay {
namespace {

namespace od = simdjson::ondemand;

simdjson::ondemand::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

// The text of a content value: a string, or the text blocks of an array. `cached` gets the
// blocks marked with cache_control.
std::string content_text(od::value value, std::string* cached = nullptr) {
  std::string out;
  od::json_type type;
  if (value.type().get(type)) return out;
  if (type == od::json_type::string) {
    std::string_view s;
    if (!value.get_string().get(s)) out = s;
    return out;
  }
  if (type != od::json_type::array) return out;
  od::array blocks;
  if (value.get_array().get(blocks)) return out;
  for (auto block : blocks) {
    od::object o;
    if (block.get_object().get(o)) continue;
    std::string_view text;
    bool marked = false;
    for (auto field : o) {
      std::string_view key;
      if (field.unescaped_key().get(key)) break;
      if (key == "text") {
        if (field.value().get_string().get(text)) text = {};
      } else if (key == "cache_control") {
        marked = true;
      }
    }
    out.append(text).push_back('\n');
    if (marked && cached) cached->append(text).push_back('\n');
  }
  return out;
}

// The first message's content text, and how many messages there are.
std::string first_message_text(od::value messages, size_t& count) {
  od::array list;
  std::string first;
  if (messages.get_array().get(list)) return first;
  for (auto message : list) {
    if (count++ > 0) continue;
    od::object o;
    if (message.get_object().get(o)) return first;
    for (auto field : o) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return first;
      if (key == "content") {
        first = content_text(field.value());
        break;
      }
    }
  }
  return first;
}

std::string from_body(std::string& body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
  od::document doc;
  od::object object;
  if (thread_parser().iterate(view).get(doc) || doc.get_object().get(object)) return {};
  std::string cached_system, system, first;
  size_t messages = 0;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return {};
    if (key == "system") {
      system = content_text(field.value(), &cached_system);
    } else if (key == "messages") {
      first = first_message_text(field.value(), messages);
    }
  }
  // A first turn starts nothing to keep warm yet; and an app's system prompt alone would glue
  // all of its users' conversations to one account, so the first message counts too.
  if (messages < 2) return {};
  if (!cached_system.empty()) return "system-cached:" + cached_system + "\nfirst:" + first;
  if (!system.empty()) return "system:" + system + "\nfirst:" + first;
  if (!first.empty()) return "first:" + first;
  return {};
}

}  // namespace

std::string session_part(std::string_view user_id) {
  if (user_id.empty()) return {};
  if (user_id.front() == '{') {
    // {"device_id":..., "account_uuid":..., "session_id":...}
    simdjson::padded_string copy(user_id);
    od::parser parser;
    od::document doc;
    std::string_view session;
    if (parser.iterate(copy).get(doc) || doc["session_id"].get_string().get(session)) return {};
    return std::string(session);
  }
  auto at = user_id.rfind("_session_");
  if (at == std::string_view::npos) return {};
  return std::string(user_id.substr(at + 9));
}

std::string conversation_of(std::string& body, std::string_view user_id, std::string_view key_id) {
  std::string session = session_part(user_id);
  std::string what = session.empty() ? from_body(body) : "session:" + session;
  // Per key: two keys (bound to different accounts or groups) never share a session.
  if (!what.empty()) what = std::string(key_id) + "\n" + what;
  if (what.empty()) return {};
  return crypto::sha256_hex(what);
}

}  // namespace crs::relay
