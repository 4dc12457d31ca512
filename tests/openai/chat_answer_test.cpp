// Anthropic answers turned into what OpenAI clients read (spec/openai-compat.md §4–5).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "openai/chat_answer.hpp"

namespace crs::openai {
namespace {

namespace json = boost::json;

// anthropic-messages.md §7.5: text, then a tool call whose arguments arrive in pieces.
const std::string kToolTranscript =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_01FakeExample0000000004","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":310,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}})" "\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})" "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking."}})" "\n\n"
    "event: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":0})" "\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01FakeToolUse000003","name":"get_weather","input":{}}})" "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})" "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": "}})" "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}})" "\n\n"
    "event: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":1})" "\n\n"
    "event: message_delta\n"
    R"(data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":41}})" "\n\n"
    "event: message_stop\n"
    R"(data: {"type":"message_stop"})" "\n\n";

// openai-compat.md §5.1, byte for byte.
const std::string kExpected =
    R"(data: {"id":"chatcmpl-7Qk2","object":"chat.completion.chunk","created":1767225600,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null})" "\n\n"
    R"(data: {"id":"chatcmpl-7Qk2","object":"chat.completion.chunk","created":1767225600,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"content":"Checking."},"finish_reason":null}],"usage":null})" "\n\n"
    R"(data: {"id":"chatcmpl-7Qk2","object":"chat.completion.chunk","created":1767225600,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"toolu_01FakeToolUse000003","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}],"usage":null})" "\n\n"
    R"(data: {"id":"chatcmpl-7Qk2","object":"chat.completion.chunk","created":1767225600,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": "}}]},"finish_reason":null}],"usage":null})" "\n\n"
    R"(data: {"id":"chatcmpl-7Qk2","object":"chat.completion.chunk","created":1767225600,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Oslo\"}"}}]},"finish_reason":null}],"usage":null})" "\n\n"
    R"(data: {"id":"chatcmpl-7Qk2","object":"chat.completion.chunk","created":1767225600,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null})" "\n\n"
    R"(data: {"id":"chatcmpl-7Qk2","object":"chat.completion.chunk","created":1767225600,"model":"claude-sonnet-4-5-20250929","choices":[],"usage":{"prompt_tokens":310,"completion_tokens":41,"total_tokens":351,"prompt_tokens_details":{"cached_tokens":0}}})" "\n\n"
    "data: [DONE]\n\n";

ChatInfo info(bool include_usage) {
  ChatInfo i;
  i.model = "claude-sonnet-4-5-20250929";
  i.stream = true;
  i.include_usage = include_usage;
  return i;
}

std::string convert(const std::string& sse, bool include_usage, size_t piece = 0) {
  ChatStream s(info(include_usage), "chatcmpl-7Qk2", 1767225600);
  std::string out;
  if (piece == 0) out = s.feed(sse);
  else
    for (size_t i = 0; i < sse.size(); i += piece) out += s.feed(std::string_view(sse).substr(i, piece));
  return out + s.finish();
}

TEST(ChatStream, TheSpecsTranscriptByteForByte) { EXPECT_EQ(convert(kToolTranscript, true), kExpected); }

TEST(ChatStream, SplitsAnywhereGiveTheSameLines) {
  for (size_t piece : {1, 2, 7, 64}) EXPECT_EQ(convert(kToolTranscript, true, piece), kExpected) << piece;
  std::string crlf;
  for (char c : kToolTranscript) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_EQ(convert(crlf, true, 5), kExpected);
}

TEST(ChatStream, WithoutIncludeUsageNoUsageAnywhere) {
  std::string out = convert(kToolTranscript, false);
  EXPECT_EQ(out.find("usage"), std::string::npos) << out;
  EXPECT_EQ(out.find("\"choices\":[]"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n")) << out;
}

TEST(ChatStream, ToolCallsAreNumberedAmongToolCalls) {
  std::string sse =
      "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n"
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"x\"}}\n\n"
      "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"b\",\"name\":\"y\"}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n";
  std::string out = convert(sse, false);
  EXPECT_NE(out.find(R"({"index":0,"id":"a")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"index":1,"id":"b")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"index":1,"function":{"arguments":"{}"}})"), std::string::npos) << out;
  // It ended without message_stop: an error line, then [DONE].
  EXPECT_TRUE(out.ends_with("\"type\":\"api_error\"}}\n\ndata: [DONE]\n\n")) << out;
}

TEST(ChatStream, AnErrorEventEndsTheStreamOnce) {
  std::string sse =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":40}}}\n\n"
      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"late\"}}\n\n";
  ChatStream s(info(true), "chatcmpl-1", 1);
  std::string out = s.feed(sse);
  EXPECT_TRUE(s.done());
  EXPECT_NE(out.find(R"(data: {"error":{"message":"Overloaded","type":"overloaded_error"}})"), std::string::npos) << out;
  EXPECT_EQ(out.find("late"), std::string::npos);
  EXPECT_EQ(out.find("[DONE]"), out.rfind("[DONE]"));
  EXPECT_EQ(s.finish(), "");
  EXPECT_EQ(s.feed("data: {\"type\":\"message_stop\"}\n\n"), "");
}

TEST(ChatAnswer, AWholeMessage) {
  ChatInfo i = info(false);
  i.model = "the-name-the-client-used";
  std::string anthropic = R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
    "content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Let me "},{"type":"text","text":"look that up."},
               {"type":"tool_use","id":"toolu_4","name":"lookup","input":{"q":"dogs"}}],
    "stop_reason":"tool_use","usage":{"input_tokens":52,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"output_tokens":35}})";
  auto out = json::parse(message_to_completion(anthropic, i, "chatcmpl-1", 1767225600)).as_object();
  auto expected = json::parse(R"({"id":"chatcmpl-1","object":"chat.completion","created":1767225600,"model":"the-name-the-client-used",
    "choices":[{"index":0,"message":{"role":"assistant","content":"Let me look that up.",
      "tool_calls":[{"id":"toolu_4","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"dogs\"}"}}]},
      "finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":2100,"completion_tokens":35,"total_tokens":2135,"prompt_tokens_details":{"cached_tokens":2048}}})");
  EXPECT_EQ(json::value(out), expected) << json::serialize(out);
  auto empty = json::parse(message_to_completion(R"({"content":[],"stop_reason":"max_tokens"})", i, "c", 1)).as_object();
  EXPECT_TRUE(empty["choices"].as_array()[0].as_object()["message"].as_object()["content"].is_null());
  EXPECT_EQ(empty["choices"].as_array()[0].as_object()["finish_reason"].as_string(), "length");
}

TEST(ChatAnswer, FinishReasons) {
  for (auto [stop, finish] : std::vector<std::pair<std::string, std::string>>{
           {"end_turn", "stop"}, {"stop_sequence", "stop"}, {"max_tokens", "length"},
           {"model_context_window_exceeded", "length"}, {"tool_use", "tool_calls"}, {"pause_turn", "stop"},
           {"refusal", "content_filter"}, {"", "stop"}, {"something_new", "stop"}})
    EXPECT_EQ(finish_reason_of(stop), finish) << stop;
}

TEST(ChatAnswer, ADeeplyNestedToolInputIsNotLost) {
  std::string input;
  for (int i = 0; i < 100; ++i) input += R"({"a":)";
  input += "1";
  for (int i = 0; i < 100; ++i) input += "}";
  std::string message = R"({"type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"deep","input":)" +
                        input + R"(}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})";
  auto out = json::parse(message_to_completion(message, ChatInfo{"m"}, "chatcmpl-1", 1));
  auto& call = out.at("choices").at(0).at("message").at("tool_calls").at(0).at("function").as_object();
  EXPECT_EQ(call.at("arguments").as_string(), input);
  EXPECT_EQ(out.at("choices").at(0).at("finish_reason").as_string(), "tool_calls");
}

TEST(ChatAnswer, ErrorsKeepTheirStatusInOpenAisShape) {
  unsigned status = 529;
  auto body = json::parse(openai_error_body(status, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  EXPECT_EQ(status, 503u);
  EXPECT_EQ(body, json::parse(R"({"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":"overloaded_error"}})"));
  status = 401;
  body = json::parse(openai_error_body(status, R"({"type":"error","error":{"type":"authentication_error","message":"Invalid API key"}})"));
  EXPECT_EQ(status, 401u);
  EXPECT_EQ(body.as_object().at("error").as_object().at("code").as_string(), "invalid_api_key");
  status = 502;
  body = json::parse(openai_error_body(status, "<html>bad gateway</html>"));
  EXPECT_EQ(body.as_object().at("error").as_object().at("type").as_string(), "api_error");
  EXPECT_EQ(body.as_object().at("error").as_object().at("message").as_string(), "the upstream answered HTTP 502");
}

TEST(ChatAnswer, ARefusalKeepsItsCodeAndTheRelaysExtras) {
  unsigned status = 402;
  auto body = json::parse(openai_error_body(
      status, R"({"type":"error","error":{"type":"permission_error","message":"Daily cost limit reached","code":"daily_cost_limit"},"limit":5,"resetAt":"2026-12-06T00:00:00Z"})"));
  EXPECT_EQ(status, 402u);
  EXPECT_EQ(body, json::parse(R"({"limit":5,"resetAt":"2026-12-06T00:00:00Z","error":{"message":"Daily cost limit reached","type":"permission_error","param":null,"code":"daily_cost_limit"}})"));
}

}  // namespace
}  // namespace crs::openai
