// OpenAI Chat Completions requests turned into Messages requests (spec/openai-compat.md §3).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "openai/chat_request.hpp"
#include "openai/json_fields.hpp"

namespace crs::openai {
namespace {

namespace json = boost::json;

json::object translate(const std::string& request, ChatInfo* info_out = nullptr) {
  ChatInfo info;
  auto r = chat_to_messages(request, info);
  EXPECT_TRUE(r) << (r ? "" : r.error().message) << " for " << request;
  if (info_out) *info_out = info;
  boost::system::error_code ec;
  return r ? parse_json(*r, ec).as_object() : json::object();
}

std::string refusal(const std::string& request) {
  ChatInfo info;
  auto r = chat_to_messages(request, info);
  return r ? std::string("accepted") : r.error().message;
}

TEST(ChatRequest, TheSpecsWorkedExample) {
  ChatInfo info;
  auto out = translate(R"({
    "model": "claude-sonnet-4-5-20250929",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", "detail": "auto"}}
      ]},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_01Abc", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cats\"}"}}
      ]},
      {"role": "tool", "tool_call_id": "call_01Abc", "content": "3 cats found"}
    ],
    "tools": [
      {"type": "function", "function": {"name": "lookup", "description": "Search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}
    ],
    "tool_choice": "auto",
    "max_tokens": 1024,
    "temperature": 0.7,
    "stream": true,
    "stream_options": {"include_usage": true}
  })", &info);
  auto expected = json::parse(R"({
    "model": "claude-sonnet-4-5-20250929",
    "system": "You are terse.",
    "max_tokens": 1024,
    "temperature": 0.7,
    "stream": true,
    "messages": [
      {"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="}}
      ]},
      {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_01Abc", "name": "lookup", "input": {"q": "cats"}}
      ]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_01Abc", "content": "3 cats found"}
      ]}
    ],
    "tools": [
      {"name": "lookup", "description": "Search", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}
    ],
    "tool_choice": {"type": "auto"}
  })");
  EXPECT_EQ(json::value(out), expected) << json::serialize(out);
  EXPECT_EQ(info.model, "claude-sonnet-4-5-20250929");
  EXPECT_TRUE(info.stream);
  EXPECT_TRUE(info.include_usage);
}

// Deeper than Boost.JSON's default limit of 32: a real tool schema can be.
std::string nested(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += R"({"type":"object","properties":{"x":)";
  s += R"({"type":"string"})";
  for (int i = 0; i < depth; ++i) s += "}}";
  return s;
}

TEST(ChatRequest, ADeeplyNestedToolSchemaIsKept) {
  std::string schema = nested(100);
  auto out = translate(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"deep","parameters":)" +
                       schema + "}}]}");
  boost::system::error_code ec;
  ASSERT_EQ(out["tools"].as_array()[0].as_object()["input_schema"], parse_json(schema, ec));
}

TEST(ChatRequest, SystemAndDeveloperMessagesAnywhereBecomeOneSystem) {
  auto out = translate(R"({"model":"m","messages":[{"role":"developer","content":"A"},{"role":"user","content":"hi"},
    {"role":"system","content":[{"type":"text","text":"B"}]}]})");
  EXPECT_EQ(out["system"].as_string(), "A\n\nB");
  EXPECT_EQ(out["messages"].as_array().size(), 1u);
}

TEST(ChatRequest, ToolResultsComeFirstInOneUserTurnAndTurnsOfARoleMerge) {
  auto out = translate(R"({"model":"m","messages":[
    {"role":"user","content":"find cats and dogs"},
    {"role":"assistant","content":"Looking.","tool_calls":[
      {"id":"c1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"cats\"}"}},
      {"id":"c2","type":"function","function":{"name":"lookup","arguments":"not json"}}]},
    {"role":"tool","tool_call_id":"c1","content":"3 cats"},
    {"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"2 dogs"}]},
    {"role":"user","content":"thanks"},
    {"role":"user","content":"and birds?"}]})");
  auto messages = out["messages"].as_array();
  ASSERT_EQ(messages.size(), 3u) << json::serialize(out);
  auto assistant = messages[1].as_object()["content"].as_array();
  ASSERT_EQ(assistant.size(), 3u);
  EXPECT_EQ(assistant[0].as_object()["text"].as_string(), "Looking.");  // the text stays before the calls
  EXPECT_EQ(assistant[2].as_object()["input"], json::object());        // arguments that are not JSON
  auto user = messages[2].as_object()["content"].as_array();
  ASSERT_EQ(user.size(), 4u);
  EXPECT_EQ(user[0].as_object()["type"].as_string(), "tool_result");
  EXPECT_EQ(user[1].as_object()["content"], json::parse(R"([{"type":"text","text":"2 dogs"}])"));
  EXPECT_EQ(user[2].as_object()["text"].as_string(), "thanks");
  EXPECT_EQ(user[3].as_object()["text"].as_string(), "and birds?");
}

TEST(ChatRequest, LegacyFunctionsAndAHistoryStartingWithTheAssistant) {
  auto out = translate(R"({"model":"m","messages":[
    {"role":"assistant","content":null,"function_call":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}},
    {"role":"function","name":"weather","content":"cold"}],
    "functions":[{"name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]})");
  auto messages = out["messages"].as_array();
  ASSERT_EQ(messages.size(), 3u) << json::serialize(out);
  EXPECT_EQ(messages[0].as_object()["role"].as_string(), "user");  // a placeholder first turn
  EXPECT_EQ(messages[1].as_object()["content"].as_array()[0].as_object()["id"].as_string(), "func_weather");
  EXPECT_EQ(messages[2].as_object()["content"].as_array()[0].as_object()["tool_use_id"].as_string(), "func_weather");
  EXPECT_EQ(out["tools"].as_array()[0].as_object()["name"].as_string(), "weather");
}

TEST(ChatRequest, TopLevelFields) {
  ChatInfo info;
  auto out = translate(R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":"END","temperature":1.7,
    "top_p":0.5,"user":"u-42","seed":7,"logprobs":true,"presence_penalty":1,"stream_options":{"include_usage":true}})", &info);
  EXPECT_EQ(out["stop_sequences"], json::parse(R"(["END"])"));
  EXPECT_EQ(out["temperature"].as_double(), 1.0);
  EXPECT_FALSE(out.contains("top_p"));  // not both
  EXPECT_EQ(out["max_tokens"].as_int64(), 4096);
  EXPECT_EQ(out["metadata"].as_object()["user_id"].as_string(), "u-42");
  EXPECT_EQ(out["stream"].as_bool(), false);
  EXPECT_FALSE(info.include_usage) << "usage chunks exist only in streams";
  for (const char* dropped : {"seed", "logprobs", "presence_penalty", "stream_options", "stop", "user"})
    EXPECT_FALSE(out.contains(dropped)) << dropped;
  auto alone = translate(R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_p":0.5,"max_completion_tokens":99,"max_tokens":5})");
  EXPECT_EQ(alone["top_p"].as_double(), 0.5);
  EXPECT_EQ(alone["max_tokens"].as_int64(), 99);
  auto tool = translate(R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"t","strict":true}}]})");
  EXPECT_EQ(tool["tools"], json::parse(R"([{"name":"t","input_schema":{"type":"object","properties":{}}}])"));
}

TEST(ChatRequest, ToolChoices) {
  auto choice = [](const std::string& extra) {
    ChatInfo info;
    auto r = chat_to_messages(R"({"model":"m","messages":[{"role":"user","content":"x"}])" + extra + "}", info);
    if (!r) return "error: " + r.error().message;
    auto o = json::parse(*r).as_object();
    return o.contains("tool_choice") ? json::serialize(o["tool_choice"]) : std::string("none given");
  };
  EXPECT_EQ(choice(R"(,"tool_choice":"auto")"), R"({"type":"auto"})");
  EXPECT_EQ(choice(R"(,"tool_choice":"required")"), R"({"type":"any"})");
  EXPECT_EQ(choice(R"(,"tool_choice":"none")"), R"({"type":"none"})");
  EXPECT_EQ(choice(R"(,"tool_choice":{"type":"function","function":{"name":"lookup"}})"), R"({"type":"tool","name":"lookup"})");
  EXPECT_EQ(choice(R"(,"parallel_tool_calls":false)"), R"({"type":"auto","disable_parallel_tool_use":true})");
  EXPECT_EQ(choice(R"(,"tool_choice":"required","parallel_tool_calls":false)"), R"({"type":"any","disable_parallel_tool_use":true})");
  EXPECT_EQ(choice(R"(,"parallel_tool_calls":true)"), "none given");
  EXPECT_EQ(choice(R"(,"tool_choice":"sometimes")"), "error: tool_choice: auto, required, none or a function");
  EXPECT_EQ(choice(R"(,"tool_choice":{"type":"function"})"), "error: tool_choice: a function choice needs function.name");
}

TEST(ChatRequest, ImagesByUrlAndRefusedOnes) {
  auto out = translate(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}},{"type":"input_audio","input_audio":{}}]}]})");
  EXPECT_EQ(out["messages"].as_array()[0].as_object()["content"],
            json::parse(R"([{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}])"));
  EXPECT_NE(refusal(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AAAA"}}]}]})")
                .find("image_url"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}]})")
                .find("image_url"),
            std::string::npos);
}

TEST(ChatRequest, RequestsThatCannotBeHonouredAreRefusedByName) {
  EXPECT_EQ(refusal("not json"), "the body must be a JSON object");
  EXPECT_EQ(refusal(R"({"messages":[{"role":"user","content":"x"}]})"), "model: required");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[]})"), "messages: a non-empty array is required");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":2})"), "n: only one choice can be returned");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})"), "messages: unknown role \"wizard\"");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"system","content":"only a system prompt"}]})"),
            "messages: at least one user or assistant message is required");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":1})"), "accepted");
}

TEST(ChatRequest, ReasoningEffortTurnsThinkingOnWhereTheApiAllowsIt) {
  auto out = translate(R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"medium","max_tokens":1000})");
  EXPECT_EQ(out["thinking"], json::parse(R"({"type":"enabled","budget_tokens":4096})"));
  EXPECT_EQ(out["max_tokens"].as_int64(), 4096 + 1024);
  auto roomy = translate(R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low","max_tokens":8000})");
  EXPECT_EQ(roomy["max_tokens"].as_int64(), 8000);
  // Not with tool calls in the history (they would need signed thinking), a forced tool, or a
  // temperature other than 1; "minimal" asks for none.
  for (std::string request : {
           R"({"model":"m","reasoning_effort":"high","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"t","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}]})",
           R"({"model":"m","reasoning_effort":"high","tool_choice":"required","messages":[{"role":"user","content":"x"}]})",
           R"({"model":"m","reasoning_effort":"high","temperature":0.2,"messages":[{"role":"user","content":"x"}]})",
           R"({"model":"m","reasoning_effort":"minimal","messages":[{"role":"user","content":"x"}]})"}) {
    EXPECT_FALSE(translate(request).contains("thinking")) << request;
  }
  auto warm = translate(R"({"model":"m","reasoning_effort":"low","temperature":1,"messages":[{"role":"user","content":"x"}]})");
  EXPECT_TRUE(warm.contains("thinking"));
  EXPECT_FALSE(warm.contains("temperature"));
}

}  // namespace
}  // namespace crs::openai
