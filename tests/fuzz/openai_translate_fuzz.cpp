// The OpenAI <-> Anthropic translations take client bodies and upstream streams: whatever the
// input, they never crash, a request they accept is one JSON object with a model and messages,
// and every event or line they emit carries valid JSON.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "fuzz_check.hpp"
#include "openai/chat_answer.hpp"
#include "openai/chat_request.hpp"
#include "openai/json_fields.hpp"
#include "openai/messages_bridge.hpp"

namespace {

// Every "data: " line of SSE text is JSON (or [DONE]).
void check_data_lines(const std::string& sse) {
  size_t at = 0;
  while ((at = sse.find("data: ", at)) != std::string::npos) {
    size_t end = sse.find('\n', at);
    std::string_view value(sse.data() + at + 6, (end == std::string::npos ? sse.size() : end) - at - 6);
    boost::system::error_code ec;
    if (value != "[DONE]") crs::openai::parse_json(value, ec);
    FUZZ_CHECK(!ec, "an emitted data line is not JSON");
    at = end == std::string::npos ? sse.size() : end;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  crs::openai::ChatInfo info;
  if (auto messages = crs::openai::chat_to_messages(input, info)) {
    boost::system::error_code ec;
    auto v = crs::openai::parse_json(*messages, ec);
    FUZZ_CHECK(!ec && v.is_object(), "a translated request is not a JSON object");
    FUZZ_CHECK(v.as_object().contains("model") && v.as_object().contains("messages"), "no model or messages");
    (void)crs::openai::messages_to_chat(*messages, "upstream-model");
  }
  (void)crs::openai::messages_to_chat(input, "upstream-model");
  crs::openai::BridgedUsage used;
  (void)crs::openai::completion_to_message(input, "m", used);
  unsigned status = 500;
  (void)crs::openai::openai_error_body(status, input);
  crs::openai::ChatStream chat(crs::openai::ChatInfo{"m", true, true}, "chatcmpl-1", 1);
  std::string out = chat.feed(input) + chat.finish();
  check_data_lines(out);
  FUZZ_CHECK(out.ends_with("data: [DONE]\n\n"), "a chat stream without [DONE]");
  crs::openai::MessagesStream bridge("m");
  std::string events = bridge.feed(input) + bridge.finish();
  check_data_lines(events);
  return 0;
}
