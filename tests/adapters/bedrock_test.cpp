// The Bedrock wire (spec/bedrock.md), table-driven from the spec's examples: model ids both
// ways, the body Bedrock takes (built from the client's bytes), its errors as the client and
// the account see them, and event-stream answers turned into Anthropic SSE, split anywhere.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/bedrock_wire.hpp"
#include "aws/event_stream.hpp"
#include "core/crypto.hpp"

namespace crs::adapters::bedrock {
namespace {

namespace json = boost::json;

TEST(BedrockWire, ModelIdsForTheAccountsRegion) {
  struct Row {
    const char* model;
    const char* region;
    const char* id;
  } rows[] = {
      {"claude-sonnet-4-5-20250929", "us-east-1", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
      {"claude-sonnet-4-5", "us-west-2", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
      {"claude-haiku-4-5", "eu-central-1", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"},
      {"claude-opus-4-1-20250805", "ap-northeast-1", "apac.anthropic.claude-opus-4-1-20250805-v1:0"},
      {"claude-sonnet-4-20250514", "us-gov-west-1", "us-gov.anthropic.claude-sonnet-4-20250514-v1:0"},
      {"claude-3-5-haiku-20241022", "sa-east-1", "global.anthropic.claude-3-5-haiku-20241022-v1:0"},
      {"claude-sonnet-4-5-20250929[1m]", "us-east-1", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
      {"claude-opus-4-6", "us-east-1", "us.anthropic.claude-opus-4-6-v1"},
      {"global.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
      {"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", "us-east-1",
       "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"},
  };
  for (const auto& r : rows) EXPECT_EQ(model_id(r.model, r.region), r.id) << r.model << " in " << r.region;
}

TEST(BedrockWire, ModelNamesBackFromBedrockIds) {
  EXPECT_EQ(plain_model("us.anthropic.claude-sonnet-4-20250514-v1:0"), "claude-sonnet-4-20250514");
  EXPECT_EQ(plain_model("anthropic.claude-3-5-haiku-20241022-v1:0"), "claude-3-5-haiku-20241022");
  EXPECT_EQ(plain_model("global.anthropic.claude-opus-4-6-v1"), "claude-opus-4-6");
  EXPECT_EQ(plain_model("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5-20250929");
}

TEST(BedrockWire, TheModelIdIsOneEncodedPathSegment) {
  EXPECT_EQ(invoke_path("us.anthropic.claude-sonnet-4-20250514-v1:0", false),
            "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke");
  EXPECT_EQ(invoke_path("us.anthropic.claude-sonnet-4-20250514-v1:0", true),
            "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke-with-response-stream");
  EXPECT_EQ(invoke_path("arn:aws:bedrock:us-east-1:1:inference-profile/us.x", false),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/invoke");
}

std::string converted(std::string body, std::vector<std::string> betas = {}) { return bedrock_body(body, betas); }

TEST(BedrockWire, TheSpecsBodyExample) {
  std::string out = converted(
      R"({"model": "claude-sonnet-4-20250514", "max_tokens": 16, "stream": true, "metadata": {"user_id": "u1"}, "messages": [{"role": "user", "content": "Hi"}]})",
      {"interleaved-thinking-2025-05-14"});
  EXPECT_EQ(json::parse(out), json::parse(R"({"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["interleaved-thinking-2025-05-14"], "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]})"));
  // The client's bytes are kept as they were: spacing and all.
  EXPECT_NE(out.find(R"("messages": [{"role": "user", "content": "Hi"}])"), std::string::npos) << out;
}

TEST(BedrockWire, RefusedFieldsGoAndTheRestStays) {
  std::string out = converted(
      R"({"model":"m","service_tier":"auto","container":"c","inference_geo":"us","betas":["x"],"anthropic_version":"2023-06-01",)"
      R"("context_management":{"edits":[]},"output_config":{"effort":"low"},"max_tokens":5,"temperature":0.5,)"
      R"("messages":[{"role":"user","content":"\"model\": not a key"}],"tools":[{"name":"t","input_schema":{"type":"object"}}]})");
  EXPECT_EQ(json::parse(out), json::parse(R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"temperature":0.5,)"
                                          R"("messages":[{"role":"user","content":"\"model\": not a key"}],)"
                                          R"("tools":[{"name":"t","input_schema":{"type":"object"}}]})"));
  // Their betas keep them.
  out = converted(R"({"context_management":{"edits":[]},"output_config":{"effort":"low"},"max_tokens":5,"messages":[]})",
                  {"context-management-2025-06-27", "effort-2025-11-24"});
  auto o = json::parse(out).as_object();
  EXPECT_TRUE(o.contains("context_management") && o.contains("output_config")) << out;
}

TEST(BedrockWire, CacheControlKeepsOnlyTypeAndTtlWhereverItIs) {
  std::string out = converted(
      R"({"max_tokens":5,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral","scope":"global"}}],)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"cache_control","cache_control":{"type":"ephemeral","ttl":"1h","scope":"x"}}]}],)"
      R"("tools":[{"name":"t","input_schema":{},"cache_control":{"type":"ephemeral"}}]})");
  auto o = json::parse(out).as_object();
  EXPECT_EQ(o["system"].as_array()[0].as_object()["cache_control"], json::parse(R"({"type":"ephemeral"})"));
  EXPECT_EQ(o["messages"].as_array()[0].as_object()["content"].as_array()[0].as_object()["cache_control"],
            json::parse(R"({"type":"ephemeral","ttl":"1h"})"));
  EXPECT_NE(out.find(R"("tools":[{"name":"t","input_schema":{},"cache_control":{"type":"ephemeral"}}])"), std::string::npos);
}

TEST(BedrockWire, AdaptiveThinkingIsMadeExplicit) {
  auto o = json::parse(converted(R"({"max_tokens":4096,"thinking":{"type":"adaptive"},"messages":[]})")).as_object();
  EXPECT_EQ(o["thinking"], json::parse(R"({"type":"enabled","budget_tokens":4095})"));
  o = json::parse(converted(R"({"thinking":{"type":"adaptive"},"max_tokens":1000,"messages":[]})")).as_object();
  EXPECT_FALSE(o.contains("thinking"));
  o = json::parse(converted(R"({"max_tokens":9000,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[]})")).as_object();
  EXPECT_EQ(o["thinking"], json::parse(R"({"type":"enabled","budget_tokens":2000})"));
  // max_tokens read as written: simdjson's get_double gave 38.76 for this one, and the
  // thinking was dropped.
  o = json::parse(converted(R"({"max_tokens":0.999999999999999999999e4,"thinking":{"type":"adaptive"},"messages":[]})"))
          .as_object();
  EXPECT_EQ(o["thinking"], json::parse(R"({"type":"enabled","budget_tokens":9999})"));
}

TEST(BedrockWire, AnUnreadableBodyGivesNothing) {
  EXPECT_EQ(converted("[1,2]"), "");
  EXPECT_EQ(converted(R"({"messages":[{"role":"user","content":"x"}])"), "");
}

UpstreamError bedrock_error(unsigned status, const std::string& type, const std::string& message) {
  UpstreamError e;
  e.status = status;
  if (!type.empty()) e.headers.set("x-amzn-ErrorType", type + ":http://internal.amazon.com/coral/com.amazon.bedrock/");
  e.body = json::serialize(json::object{{"message", message}});
  return e;
}

TEST(BedrockWire, ErrorsForTheClientAndTheAccount) {
  struct Row {
    unsigned status;
    const char* type;
    unsigned client_status;
    const char* client_type;
    ErrorClass what;
  } rows[] = {
      {400, "ValidationException", 400, "invalid_request_error", ErrorClass::ClientError},
      {400, "ServiceQuotaExceededException", 429, "rate_limit_error", ErrorClass::BurstRateLimited},
      {403, "AccessDeniedException", 403, "permission_error", ErrorClass::ClientError},
      {404, "ResourceNotFoundException", 404, "not_found_error", ErrorClass::ClientError},
      {408, "ModelTimeoutException", 504, "timeout_error", ErrorClass::Timeout},
      {424, "ModelErrorException", 500, "api_error", ErrorClass::ServerError},
      {429, "ThrottlingException", 429, "rate_limit_error", ErrorClass::BurstRateLimited},
      {429, "ModelNotReadyException", 529, "overloaded_error", ErrorClass::Overloaded},
      {500, "InternalServerException", 500, "api_error", ErrorClass::ServerError},
      {503, "ServiceUnavailableException", 529, "overloaded_error", ErrorClass::Overloaded},
      {403, "InvalidSignatureException", 500, "api_error", ErrorClass::Unauthorized},
      {403, "UnrecognizedClientException", 500, "api_error", ErrorClass::Unauthorized},
      {403, "ExpiredTokenException", 500, "api_error", ErrorClass::Unauthorized},
      {502, "", 500, "api_error", ErrorClass::ServerError},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.type);
    auto e = bedrock_error(r.status, r.type, "something failed");
    EXPECT_EQ(classify_error(e, 0).what, r.what);
    auto c = client_error(e);
    EXPECT_EQ(c.status, r.client_status);
    auto body = json::parse(c.body).as_object();
    EXPECT_EQ(body["type"], "error");
    EXPECT_EQ(body["error"].as_object()["type"], r.client_type);
  }
}

TEST(BedrockWire, ErrorMessagesNeverNameTheAwsAccount) {
  auto c = client_error(bedrock_error(
      403, "AccessDeniedException",
      "User: arn:aws:iam::123456789012:user/relay is not authorized to perform: bedrock:InvokeModel on account 123456789012"));
  EXPECT_EQ(c.body.find("123456789012"), std::string::npos) << c.body;
  EXPECT_EQ(c.body.find("user/relay"), std::string::npos) << c.body;
  EXPECT_NE(c.body.find("is not authorized to perform"), std::string::npos) << c.body;
  // The credentials' problem is the relay's: the client is not told about signatures.
  c = client_error(bedrock_error(403, "InvalidSignatureException", "The request signature we calculated does not match"));
  EXPECT_EQ(c.body.find("signature"), std::string::npos) << c.body;
}

// ---- streams ----

std::string chunk(const std::string& event, const std::string& pad = "abcd") {
  json::object payload{{"bytes", crypto::base64(event)}, {"p", pad}};
  return aws::encode_frame({{":event-type", aws::HeaderType::kString, "chunk"},
                            {":content-type", aws::HeaderType::kString, "application/json"},
                            {":message-type", aws::HeaderType::kString, "event"}},
                           json::serialize(payload));
}

std::string exception(const std::string& type, const std::string& message) {
  return aws::encode_frame({{":exception-type", aws::HeaderType::kString, type},
                            {":content-type", aws::HeaderType::kString, "application/json"},
                            {":message-type", aws::HeaderType::kString, "exception"}},
                           json::serialize(json::object{{"message", message}}));
}

const std::string kStart =
    R"({"type":"message_start","message":{"id":"msg_bdrk_01","type":"message","role":"assistant","model":"us.anthropic.claude-sonnet-4-20250514-v1:0","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}})";
const std::string kDelta = R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})";
const std::string kMessageDelta = R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}})";
const std::string kStop =
    R"({"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":7,"invocationLatency":400,"firstByteLatency":90}})";

std::string read_all(AnswerReader& reader, const std::string& bytes, size_t piece) {
  std::string out;
  for (size_t at = 0; at < bytes.size() && !reader.broken(); at += piece)
    out += reader.stream_chunk(std::string_view(bytes).substr(at, piece));
  if (!reader.broken()) out += reader.stream_end();
  return out;
}

TEST(BedrockStream, FramesBecomeAnthropicEventsSplitAnywhere) {
  std::string bytes = chunk(kStart) + chunk(kDelta, "") + chunk(kMessageDelta, "abcdefghij") + chunk(kStop);
  std::string expected;
  for (size_t piece : {bytes.size(), size_t{1}, size_t{7}, size_t{100}}) {
    auto reader = answer_reader();
    std::string out = read_all(*reader, bytes, piece);
    if (expected.empty()) expected = out;
    EXPECT_EQ(out, expected) << "pieces of " << piece;
    EXPECT_FALSE(reader->broken());
    auto f = reader->facts();
    EXPECT_TRUE(f.completed);
    EXPECT_TRUE(f.final_usage_seen);
    EXPECT_EQ(f.usage.input_tokens, 12);
    EXPECT_EQ(f.usage.output_tokens, 7);
    EXPECT_EQ(f.served_model, "claude-sonnet-4-20250514");
  }
  EXPECT_TRUE(expected.starts_with("event: message_start\ndata: {")) << expected;
  EXPECT_NE(expected.find("event: content_block_delta\ndata: " + kDelta + "\n\n"), std::string::npos) << expected;
  EXPECT_NE(expected.find(R"("model":"claude-sonnet-4-20250514")"), std::string::npos) << "the Bedrock id leaked";
  EXPECT_TRUE(expected.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) << expected;
}

TEST(BedrockStream, WithoutAFinalCountTheInvocationMetricsAreTheUsage) {
  std::string stop =
      R"({"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":40,"outputTokenCount":9,"cacheReadInputTokenCount":300,"cacheWriteInputTokenCount":20}})";
  auto reader = answer_reader();
  read_all(*reader, chunk(kStart) + chunk(kDelta) + chunk(stop), 5);
  auto f = reader->facts();
  EXPECT_TRUE(f.final_usage_seen);
  EXPECT_EQ(f.usage.input_tokens, 40);
  EXPECT_EQ(f.usage.output_tokens, 9);
  EXPECT_EQ(f.usage.cache_read_input_tokens, 300);
  EXPECT_EQ(f.usage.cache_creation_input_tokens, 20);
}

TEST(BedrockStream, AnExceptionFrameEndsTheStreamWithAnErrorEvent) {
  auto reader = answer_reader();
  std::string out = read_all(*reader, chunk(kStart) + chunk(kDelta) + exception("throttlingException", "Too many tokens") + chunk(kDelta), 3);
  ASSERT_NE(reader->broken(), nullptr);
  EXPECT_EQ(reader->broken()->what, ErrorClass::BurstRateLimited);
  EXPECT_TRUE(out.ends_with("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Too many tokens\"}}\n\n"))
      << out;
  EXPECT_EQ(out.find(kDelta + "\n\nevent: content_block_delta"), std::string::npos) << "read past the exception";
  EXPECT_FALSE(reader->facts().completed);
}

TEST(BedrockStream, ACorruptOrCutFrameIsAnApiError) {
  std::string bytes = chunk(kStart) + chunk(kDelta);
  std::string corrupt = bytes;
  corrupt[corrupt.size() - 10] ^= 1;
  auto reader = answer_reader();
  std::string out = read_all(*reader, corrupt, 11);
  ASSERT_NE(reader->broken(), nullptr);
  EXPECT_EQ(reader->broken()->what, ErrorClass::ServerError);
  EXPECT_NE(out.find("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""), std::string::npos) << out;
  EXPECT_EQ(out.find("text_delta"), std::string::npos) << "a corrupt frame's event passed";
  // Cut in the middle of a frame, then a clean end.
  reader = answer_reader();
  out = read_all(*reader, bytes.substr(0, bytes.size() - 20), 13);
  ASSERT_NE(reader->broken(), nullptr);
  EXPECT_NE(out.find("ended in the middle of a frame"), std::string::npos) << out;
}

TEST(BedrockWhole, UsageFromTheBodyElseFromTheHeaders) {
  auto reader = answer_reader();
  http::response_header<> head;
  head.set("x-amzn-bedrock-input-token-count", "21");
  head.set("x-amzn-bedrock-output-token-count", "5");
  reader->upstream_head(head);
  std::string body = R"({"id":"msg_bdrk_1","type":"message","model":"us.anthropic.claude-haiku-4-5-20251001-v1:0","content":[]})";
  reader->whole_answer(body);
  auto f = reader->facts();
  EXPECT_EQ(f.usage.input_tokens, 21);
  EXPECT_EQ(f.usage.output_tokens, 5);
  EXPECT_EQ(f.served_model, "claude-haiku-4-5-20251001");
  EXPECT_EQ(json::parse(body).as_object()["model"], "claude-haiku-4-5-20251001");
  reader = answer_reader();
  reader->upstream_head(head);
  body = R"({"id":"m","model":"claude-haiku-4-5-20251001","usage":{"input_tokens":3,"output_tokens":4}})";
  reader->whole_answer(body);
  EXPECT_EQ(reader->facts().usage.input_tokens, 3);
}

}  // namespace
}  // namespace crs::adapters::bedrock
