#include "adapters/request_needs.hpp"

#include <simdjson.h>

namespace crs::adapters {
namespace {

// Walks every value: an object with "type":"image" is an image block (in messages or in a tool
// result), a "source" whose type is "url" a URL the upstream must fetch, a "cache_control"
// member anywhere marks caching, a non-empty top-level "tools" tools.
constexpr int kMaxDepth = 64;
// The DOM takes about 14 bytes per body byte: larger bodies are not walked.
constexpr size_t kMaxWalkedBody = 4 << 20;

// What cannot be read is assumed to need everything: such a request is never sent to a kind
// that might lack a feature it uses.
void needs_everything(RequestNeeds& needs) {
  needs.images = needs.tools = needs.cache_control = needs.url_sources = true;
}

void walk(simdjson::dom::element e, RequestNeeds& needs, int depth) {
  if (depth > kMaxDepth) return needs_everything(needs);
  simdjson::dom::array array;
  if (!e.get_array().get(array)) {
    for (simdjson::dom::element child : array) walk(child, needs, depth + 1);
    return;
  }
  simdjson::dom::object object;
  if (e.get_object().get(object)) return;
  for (simdjson::dom::key_value_pair field : object) {
    if (field.key == "cache_control") needs.cache_control = true;
    std::string_view type;
    if (field.key == "type" && !field.value.get_string().get(type) && type == "image") needs.images = true;
    simdjson::dom::object source;
    if (field.key == "source" && !field.value.get_object().get(source) && !source["type"].get_string().get(type) &&
        type == "url")
      needs.url_sources = true;
    simdjson::dom::array tools;
    if (depth == 0 && field.key == "tools" && !field.value.get_array().get(tools) && tools.size() > 0)
      needs.tools = true;
    walk(field.value, needs, depth + 1);
  }
}

}  // namespace

void read_content_needs(std::string& body, RequestNeeds& needs) {
  if (body.size() > kMaxWalkedBody) {
    needs_everything(needs);
    // A URL source needs a "url" member: without the word, a large body of base64 images
    // still goes to a kind that does not fetch URLs.
    needs.url_sources = body.find("\"url\"") != std::string::npos;
    return;
  }
  simdjson::dom::parser parser;  // not kept: this path is rare, its memory is given back
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size(), false).get(root)) return needs_everything(needs);
  walk(root, needs, 0);
}

}  // namespace crs::adapters
