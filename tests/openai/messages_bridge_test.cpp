// Anthropic requests sent on to an OpenAI-compatible upstream, and its whole answers brought
// back (spec/openai-compat.md §6.1, §6.2, §6.4).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "openai/messages_bridge.hpp"
#include "usage/sse_usage_scanner.hpp"

namespace crs::openai {
namespace {

namespace json = boost::json;

json::object bridged(const std::string& anthropic, const std::string& model = "gpt-4o") {
  auto r = messages_to_chat(anthropic, model);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? json::parse(*r).as_object() : json::object();
}

TEST(MessagesBridge, ARequestWithToolsImagesAndResults) {
  auto out = bridged(R"({
    "model": "claude-sonnet-4-5-20250929", "max_tokens": 512, "stream": true, "temperature": 0.3, "top_k": 5,
    "system": [{"type":"text","text":"Be brief."},{"type":"text","text":"Be kind.","cache_control":{"type":"ephemeral"}}],
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u-1"},
    "messages": [
      {"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]},
      {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"Looking."},
        {"type":"tool_use","id":"toolu_1","name":"lookup","input":{"q":"x"}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"found","is_error":false},
        {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"boom"}],"is_error":true},
        {"type":"text","text":"go on"}]}
    ],
    "tools": [{"name":"lookup","description":"Search","input_schema":{"type":"object","properties":{"q":{"type":"string"}}}},
              {"type":"web_search_20250305","name":"web_search"}],
    "tool_choice": {"type":"tool","name":"lookup","disable_parallel_tool_use":true}
  })");
  auto expected = json::parse(R"({
    "model": "gpt-4o",
    "messages": [
      {"role":"system","content":"Be brief.\nBe kind."},
      {"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
      {"role":"assistant","content":"Looking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]},
      {"role":"tool","tool_call_id":"toolu_1","content":"found"},
      {"role":"tool","tool_call_id":"toolu_2","content":"Error: boom"},
      {"role":"user","content":"go on"}
    ],
    "max_tokens": 512, "stop": ["END"], "temperature": 0.3,
    "stream": true, "stream_options": {"include_usage": true},
    "tools": [{"type":"function","function":{"name":"lookup","description":"Search","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],
    "tool_choice": {"type":"function","function":{"name":"lookup"}},
    "parallel_tool_calls": false,
    "user": "u-1"
  })");
  EXPECT_EQ(json::value(out), expected) << json::serialize(out);
}

TEST(MessagesBridge, ChoicesThinkingAndPlainTurns) {
  auto out = bridged(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"},
    {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]}],
    "tool_choice":{"type":"any"},"thinking":{"type":"enabled","budget_tokens":8000}})");
  EXPECT_EQ(out["messages"].as_array()[0], json::parse(R"({"role":"user","content":"hi"})"));
  EXPECT_TRUE(out["messages"].as_array()[1].as_object()["content"].is_null());
  EXPECT_EQ(out["tool_choice"].as_string(), "required");
  EXPECT_EQ(out["reasoning_effort"].as_string(), "medium");
  EXPECT_FALSE(out.contains("stream"));
  EXPECT_EQ(bridged(R"({"messages":[],"tool_choice":{"type":"auto"}})")["tool_choice"].as_string(), "auto");
  EXPECT_EQ(bridged(R"({"messages":[],"tool_choice":{"type":"none"}})")["tool_choice"].as_string(), "none");
  EXPECT_FALSE(messages_to_chat("[]", "m"));
  EXPECT_FALSE(messages_to_chat(R"({"model":"m"})", "m"));
}

TEST(MessagesBridge, AWholeAnswerBroughtBack) {
  BridgedUsage usage;
  auto r = completion_to_message(R"({"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4o-2024",
    "choices":[{"index":0,"message":{"role":"assistant","content":"Sure.","tool_calls":[
      {"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"y\"}"}},
      {"id":"call_2","type":"function","function":{"name":"other","arguments":"oops"}}]},"finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":2100,"completion_tokens":35,"total_tokens":2135,"prompt_tokens_details":{"cached_tokens":2048}}})",
                                  "claude-sonnet-4-5-20250929", usage);
  ASSERT_TRUE(r) << r.error().message;
  auto expected = json::parse(R"({"id":"msg_chatcmpl-9","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
    "content":[{"type":"text","text":"Sure."},{"type":"tool_use","id":"call_1","name":"lookup","input":{"q":"y"}},
               {"type":"tool_use","id":"call_2","name":"other","input":{}}],
    "stop_reason":"tool_use","stop_sequence":null,
    "usage":{"input_tokens":52,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"output_tokens":35}})");
  EXPECT_EQ(json::parse(*r), expected) << *r;
  EXPECT_TRUE(usage.reported);
  EXPECT_EQ(usage.input_tokens, 52);
  EXPECT_EQ(usage.cache_read_input_tokens, 2048);
  EXPECT_EQ(usage.served_model, "gpt-4o-2024");  // what it is priced as
  BridgedUsage none;
  auto bare = completion_to_message(R"({"id":"x","choices":[{"message":{"content":"ok"},"finish_reason":"length"}]})", "m", none);
  ASSERT_TRUE(bare);
  EXPECT_FALSE(none.reported);
  EXPECT_EQ(json::parse(*bare).as_object().at("stop_reason").as_string(), "max_tokens");
  EXPECT_FALSE(completion_to_message(R"({"choices":[]})", "m", none));
  EXPECT_FALSE(completion_to_message("<html>", "m", none));
}

TEST(MessagesBridge, StopReasons) {
  EXPECT_EQ(stop_reason_of("stop"), "end_turn");
  EXPECT_EQ(stop_reason_of("length"), "max_tokens");
  EXPECT_EQ(stop_reason_of("tool_calls"), "tool_use");
  EXPECT_EQ(stop_reason_of("function_call"), "tool_use");
  EXPECT_EQ(stop_reason_of("content_filter"), "refusal");
  EXPECT_EQ(stop_reason_of(""), "end_turn");
}

}  // namespace
}  // namespace crs::openai

namespace crs::openai {
namespace {

std::string stream_of(const std::vector<std::string>& chunks, bool done = true) {
  std::string sse;
  for (const auto& c : chunks) sse += "data: " + c + "\n\n";
  if (done) sse += "data: [DONE]\n\n";
  return sse;
}

std::string run(const std::string& sse, size_t piece = 0, MessagesStream* keep = nullptr) {
  MessagesStream local("claude-sonnet-4-5-20250929");
  MessagesStream& s = keep ? *keep : local;
  std::string out;
  if (piece == 0) out = s.feed(sse);
  else
    for (size_t i = 0; i < sse.size(); i += piece) out += s.feed(std::string_view(sse).substr(i, piece));
  return out + s.finish();
}

const std::vector<std::string> kText = {
    R"({"id":"c1","model":"gpt-4o-2024","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
    R"({"id":"c1","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})",
    R"({"id":"c1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]})",
    R"({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})",
    R"({"id":"c1","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":2,"total_tokens":32,"prompt_tokens_details":{"cached_tokens":10}}})"};

TEST(MessagesStream, ATextAnswerWithItsUsageAfterTheFinish) {
  MessagesStream s("claude-sonnet-4-5-20250929");
  std::string out = run(stream_of(kText), 0, &s);
  const std::string expected =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_c1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}})" "\n\n"
      "event: ping\ndata: {\"type\":\"ping\"}\n\n"
      "event: content_block_start\n"
      R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})" "\n\n"
      "event: content_block_delta\n"
      R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})" "\n\n"
      "event: content_block_delta\n"
      R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}})" "\n\n"
      "event: content_block_stop\n"
      R"(data: {"type":"content_block_stop","index":0})" "\n\n"
      "event: message_delta\n"
      R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":20,"cache_read_input_tokens":10,"output_tokens":2}})" "\n\n"
      "event: message_stop\n"
      R"(data: {"type":"message_stop"})" "\n\n";
  EXPECT_EQ(out, expected);
  EXPECT_TRUE(s.usage().reported);
  EXPECT_EQ(s.usage().input_tokens, 20);
  EXPECT_EQ(s.usage().served_model, "gpt-4o-2024");
  for (size_t piece : {1, 3, 17}) EXPECT_EQ(run(stream_of(kText), piece), expected) << piece;
  // The relay's own meter reads the bridged stream as it reads Anthropic's.
  usage::SseUsageScanner meter;
  meter.feed(out);
  EXPECT_TRUE(meter.final_usage_seen());
  EXPECT_EQ(meter.usage().input_tokens, 20);
  EXPECT_EQ(meter.usage().cache_read_input_tokens, 10);
  EXPECT_EQ(meter.usage().output_tokens, 2);
}

TEST(MessagesStream, InterleavedToolCallsAreSentWholeAtTheEnd) {
  std::string out = run(stream_of({
      R"({"id":"c2","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{"content":"Calling."}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"a","arguments":"{\"x\":"}}]}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"b","arguments":""}}]}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"}));
  auto at = [&](const std::string& needle) { return out.find(needle); };
  EXPECT_LT(at(R"("content_block":{"type":"thinking","thinking":""})"), at(R"("content_block":{"type":"text","text":""})"));
  EXPECT_NE(at(R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_a","name":"a","input":{}}})"), std::string::npos) << out;
  EXPECT_NE(at(R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"x\":1}"}})"), std::string::npos) << out;
  EXPECT_NE(at(R"({"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"call_b","name":"b","input":{}}})"), std::string::npos);
  EXPECT_EQ(at(R"("index":3,"delta")"), std::string::npos) << "no empty argument delta";
  EXPECT_NE(at(R"("stop_reason":"tool_use")"), std::string::npos);
  EXPECT_TRUE(out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
}

TEST(MessagesStream, EndsWithoutDoneWithoutUsageOrWithAnError) {
  MessagesStream cut("m");
  std::string out = run(stream_of({kText[0], kText[1]}, false), 0, &cut);
  EXPECT_NE(out.find(R"("stop_reason":"end_turn")"), std::string::npos) << out;
  EXPECT_FALSE(cut.usage().reported) << "the meter must estimate";
  EXPECT_EQ(cut.finish(), "");

  std::string empty = run("");
  EXPECT_TRUE(empty.starts_with("event: error\n")) << empty;
  EXPECT_EQ(empty.find("message_start"), std::string::npos);

  std::string failed = run(stream_of({kText[0], R"({"error":{"message":"upstream exploded","type":"server_error"}})", kText[1]}));
  EXPECT_NE(failed.find(R"(event: error)" "\n" R"(data: {"type":"error","error":{"type":"api_error","message":"upstream exploded"}})"),
            std::string::npos)
      << failed;
  EXPECT_EQ(failed.find("Hel"), std::string::npos);
  EXPECT_EQ(failed.find("message_stop"), std::string::npos);
  // The reader learns the stream failed (the account is charged with it).
  MessagesStream errored("m");
  run(stream_of({kText[0], R"({"error":{"message":"boom","type":"server_error"}})"}), 0, &errored);
  EXPECT_TRUE(errored.failed());
  EXPECT_FALSE(cut.failed());
}

TEST(MessagesStream, ALineWithoutEndIsNotBufferedForever) {
  MessagesStream s("m");
  std::string out = s.feed("data: {\"id\":\"c1\",\"choices\":[]}\n\ndata: ");
  std::string chunk(1 << 20, 'x');
  for (int i = 0; i < 17 && !s.done(); ++i) out += s.feed(chunk);
  EXPECT_TRUE(s.failed());
  EXPECT_NE(out.find("too long"), std::string::npos);
}

TEST(MessagesBridge, ProviderMessagesLoseTheAccountsIdentifiers) {
  EXPECT_EQ(without_identifiers("You exceeded your quota for org-AbC123 (project proj_x9Y) with key sk-proj-abc***xyz."),
            "You exceeded your quota for org-… (project proj_…) with key sk-….");
  EXPECT_EQ(without_identifiers("a user-12 said: 'org-1'"), "a user-… said: 'org-…'");
  EXPECT_EQ(without_identifiers("disorg-1 stays"), "disorg-1 stays");
}

}  // namespace
}  // namespace crs::openai
