#include "behavior.hpp"

#include <boost/json.hpp>

namespace crs::fake {
namespace json = boost::json;

std::string parse_behavior(const json::value& value, Behavior& b) {
  const auto* obj = value.if_object();
  if (!obj) return "behavior must be a JSON object";
  for (const auto& [key, v] : *obj) {
    auto as_int = [&](auto& field) -> bool {
      if (!v.is_int64() && !v.is_uint64()) return false;
      field = static_cast<std::remove_reference_t<decltype(field)>>(v.to_number<int64_t>());
      return true;
    };
    auto as_str = [&](std::string& field) -> bool {
      if (!v.is_string()) return false;
      field = std::string(v.get_string());
      return true;
    };
    auto as_bool = [&](bool& field) -> bool {
      if (!v.is_bool()) return false;
      field = v.get_bool();
      return true;
    };
    bool ok = true;
    if (key == "status") ok = as_int(b.status);
    else if (key == "errorType") ok = as_str(b.error_type);
    else if (key == "errorMessage") ok = as_str(b.error_message);
    else if (key == "htmlError") ok = as_bool(b.html_error);
    else if (key == "contentType") ok = as_str(b.content_type);
    else if (key == "retryAfter") ok = as_int(b.retry_after);
    else if (key == "unifiedResetIn") ok = as_int(b.unified_reset_in);
    else if (key == "shouldRetry") { bool x = false; ok = as_bool(x); b.should_retry = x; }
    else if (key == "latencyMs") ok = as_int(b.latency_ms);
    else if (key == "firstEventDelayMs") ok = as_int(b.first_event_delay_ms);
    else if (key == "dripMs") ok = as_int(b.drip_ms);
    else if (key == "deltas") ok = as_int(b.deltas);
    else if (key == "text") ok = as_str(b.text);
    else if (key == "textRepeat") ok = as_int(b.text_repeat);
    else if (key == "resetBeforeResponse") ok = as_bool(b.reset_before_response);
    else if (key == "stallAfterEvents") ok = as_int(b.stall_after_events);
    else if (key == "resetAfterEvents") ok = as_int(b.reset_after_events);
    else if (key == "resetInEvent") ok = as_int(b.reset_in_event);
    else if (key == "errorAfterEvents") ok = as_int(b.error_after_events);
    else if (key == "stallMs") ok = as_int(b.stall_ms);
    else if (key == "chunkBytes") ok = as_int(b.chunk_bytes);
    else if (key == "crlf") ok = as_bool(b.crlf);
    else if (key == "inputTokens") { int64_t x = 0; ok = as_int(x); b.input_tokens = x; }
    else if (key == "outputTokens") { int64_t x = 0; ok = as_int(x); b.output_tokens = x; }
    else if (key == "cacheCreationInputTokens") ok = as_int(b.cache_creation_input_tokens);
    else if (key == "cacheReadInputTokens") ok = as_int(b.cache_read_input_tokens);
    else if (key == "cacheCreation1hTokens") ok = as_int(b.cache_creation_1h_tokens);
    else if (key == "webSearchRequests") ok = as_int(b.web_search_requests);
    else if (key == "restateInputInDelta") ok = as_bool(b.restate_input_in_delta);
    else if (key == "servedModel") ok = as_str(b.served_model);
    else if (key == "utilization5h") ok = as_str(b.utilization_5h);
    else if (key == "utilization7d") ok = as_str(b.utilization_7d);
    else if (key == "omitUsage") ok = as_bool(b.omit_usage);
    else if (key == "bedrockError") ok = as_str(b.bedrock_error);
    else if (key == "exceptionAfterEvents") ok = as_int(b.exception_after_events);
    else if (key == "exceptionType") ok = as_str(b.exception_type);
    else if (key == "corruptCrcAtEvent") ok = as_int(b.corrupt_crc_at_event);
    else if (key == "truncateAfterEvents") ok = as_int(b.truncate_after_events);
    else if (key == "toolUse") {
      const auto* call = v.if_object();
      ok = call && call->contains("name") && call->at("name").is_string() && call->contains("input") &&
           call->at("input").is_object();
      if (ok) b.tool_use = *call;
    }
    else return "unknown behavior field '" + std::string(key) + "'";
    if (!ok) return "behavior field '" + std::string(key) + "' has the wrong type";
  }
  if (b.deltas < 0 || b.deltas > 100000) return "deltas must be between 0 and 100000";
  if (b.cache_creation_1h_tokens < 0 || b.cache_creation_1h_tokens > b.cache_creation_input_tokens)
    return "cacheCreation1hTokens must be between 0 and cacheCreationInputTokens";
  return {};
}

}  // namespace crs::fake
