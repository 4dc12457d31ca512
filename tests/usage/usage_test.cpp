#include <gtest/gtest.h>
#include <boost/json.hpp>
#include <algorithm>

#include "usage/aggregator.hpp"
#include "usage/pricing.hpp"
#include "usage/sse_usage_scanner.hpp"

namespace crs::usage {
namespace {

const std::string kStream =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":310,"
    "\"cache_creation_input_tokens\":20,\"cache_read_input_tokens\":1000,\"output_tokens\":2}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"h\\u00e9llo\"}}\n\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":41}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

void expect_final(const SseUsageScanner& s) {
  EXPECT_TRUE(s.started());
  EXPECT_TRUE(s.completed());
  EXPECT_EQ(s.usage().input_tokens, 310);
  EXPECT_EQ(s.usage().output_tokens, 41);  // overwritten by message_delta, never added
  EXPECT_EQ(s.usage().cache_creation_input_tokens, 20);
  EXPECT_EQ(s.usage().cache_creation_5m, 20);  // no TTL detail: all 5-minute
  EXPECT_EQ(s.usage().cache_read_input_tokens, 1000);
}

TEST(SseUsageScanner, WholeStream) {
  SseUsageScanner s;
  s.feed(kStream);
  expect_final(s);
  EXPECT_TRUE(s.at_event_boundary());
}

TEST(SseUsageScanner, EverySplitPoint) {
  for (size_t cut = 1; cut < kStream.size(); ++cut) {
    SseUsageScanner s;
    s.feed(std::string_view(kStream).substr(0, cut));
    s.feed(std::string_view(kStream).substr(cut));
    expect_final(s);
  }
}

TEST(SseUsageScanner, ByteByByteWithCrlf) {
  std::string crlf;
  for (char c : kStream) {
    if (c == '\n') crlf += "\r\n";
    else crlf += c;
  }
  SseUsageScanner s;
  for (char c : crlf) s.feed(std::string_view(&c, 1));
  expect_final(s);
}

TEST(SseUsageScanner, CutStreamKeepsWhatWasSeen) {
  SseUsageScanner s;
  s.feed(kStream.substr(0, kStream.find("event: message_delta") + 30));
  EXPECT_TRUE(s.started());
  EXPECT_FALSE(s.completed());
  EXPECT_EQ(s.usage().input_tokens, 310);
  EXPECT_EQ(s.usage().output_tokens, 2);
  EXPECT_FALSE(s.at_event_boundary());
}

TEST(SseUsageScanner, ErrorEventAndHugeLines) {
  SseUsageScanner s;
  s.feed("event: content_block_delta\ndata: {\"x\":\"" + std::string(1 << 20, 'a') + "\"}\n\n");
  s.feed("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n");
  EXPECT_TRUE(s.saw_error());
  EXPECT_FALSE(s.completed());
}

TEST(SseUsageScanner, CacheCreationDetail) {
  SseUsageScanner s;
  s.feed("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1,"
         "\"cache_creation_input_tokens\":30,\"cache_creation\":{\"ephemeral_5m_input_tokens\":10,"
         "\"ephemeral_1h_input_tokens\":20},\"output_tokens\":1}}}\n\n");
  EXPECT_EQ(s.usage().cache_creation_5m, 10);
  EXPECT_EQ(s.usage().cache_creation_1h, 20);
}

TEST(Pricing, BuiltinTableParsesAndPricesExactly) {
  auto t = PricingTable::parse(PricingTable::builtin_json());
  ASSERT_TRUE(t.ok()) << t.error().message;
  Usage u;
  u.input_tokens = 1000;
  u.output_tokens = 2000;
  u.cache_read_input_tokens = 10000;
  u.cache_creation_input_tokens = 3000;
  u.cache_creation_5m = 1000;
  u.cache_creation_1h = 2000;
  // sonnet 4.5: 3 in, 15 out, 3.75 write 5m, 6 write 1h, 0.3 read ($ per MTok) -> micro-USD
  EXPECT_EQ(t->cost_micro_usd("claude-sonnet-4-5-20250929", u), 3000 + 30000 + 3750 + 12000 + 3000);
  EXPECT_EQ(t->lookup("claude-sonnet-4-5").source, "alias");
  EXPECT_EQ(t->lookup("claude-sonnet-4-5-20250929[1m]").source, "model");
  EXPECT_EQ(t->lookup("us.anthropic.claude-3-5-haiku-20241022-v1:0").source, "model");
}

TEST(Pricing, UnknownModelsAreNeverFree) {
  auto t = PricingTable::parse(PricingTable::builtin_json());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->lookup("claude-opus-5-5").source, "family:opus");
  EXPECT_EQ(t->lookup("claude-sonnet-5").source, "family:sonnet");
  EXPECT_EQ(t->lookup("claude-haiku-9").source, "family:haiku");
  EXPECT_EQ(t->lookup("mystery-model").source, "default");
  Usage u;
  u.input_tokens = 1;
  EXPECT_GT(t->cost_micro_usd("mystery-model", u), 0);
  EXPECT_FALSE(t->model_ids().empty());
  EXPECT_EQ(t->model_ids().front(), "claude-opus-4-5-20251101");  // newest first
}

TEST(Pricing, RejectsBrokenTables) {
  EXPECT_FALSE(PricingTable::parse("[]").ok());
  EXPECT_FALSE(PricingTable::parse(R"({"models":{},"families":{}})").ok());  // no default
  EXPECT_FALSE(PricingTable::parse(R"({"models":{"m":{"input":-1,"output":1,"cacheWrite5m":1,"cacheWrite1h":1,"cacheRead":1}},"families":{},"default":{"input":1,"output":1,"cacheWrite5m":1,"cacheWrite1h":1,"cacheRead":1}})").ok());
  EXPECT_FALSE(PricingTable::parse(R"({"models":{},"families":{},"default":{"input":0,"output":0,"cacheWrite5m":0,"cacheWrite1h":0,"cacheRead":0}})").ok());
}

TEST(Buckets, TimezoneOffset) {
  int64_t ms = 1764115200000;  // 2025-11-26T00:00:00Z
  EXPECT_EQ(day_bucket(ms, 0), "2025-11-26");
  EXPECT_EQ(day_bucket(ms - 1, 0), "2025-11-25");
  EXPECT_EQ(day_bucket(ms - 3600 * 1000, 8), "2025-11-26");  // 07:00 in UTC+8
  EXPECT_EQ(hour_bucket(ms, 8), "2025-11-26:08");
  EXPECT_EQ(month_bucket(ms, -12), "2025-11");
}

// An event of key k1 on account a1 and model m, at `ts`; tests set what they look at.
UsageEvent event_at(int64_t ts) {
  UsageEvent e;
  e.timestamp_ms = ts;
  e.key_id = "k1";
  e.account_id = "a1";
  e.model = "m";
  return e;
}

TEST(FoldArguments, MergesIncrementsOfABatch) {
  UsageEvent e = event_at(1764115200000);
  e.usage.input_tokens = 10;
  e.usage.output_tokens = 5;
  e.cost_micro = 7;
  AggregatorOptions o;
  o.timezone_offset_hours = 0;
  auto args = fold_arguments({{"1-0", e}, {"2-0", e}}, o);
  // ids first
  ASSERT_GE(args.size(), 3u);
  EXPECT_EQ(args[0], "2");
  EXPECT_EQ(args[1], "1-0");
  EXPECT_EQ(args[2], "2-0");
  // usage:k1 totalInputTokens is incremented once, by 20
  bool found = false;
  for (size_t i = 0; i + 2 < args.size(); ++i)
    if (args[i] == "usage:k1" && args[i + 1] == "totalInputTokens") {
      EXPECT_EQ(args[i + 2], "20");
      EXPECT_FALSE(found) << "merged into one increment";
      found = true;
    }
  EXPECT_TRUE(found);
}

TEST(FoldArguments, RecordsAreValidJsonWithExactCost) {
  UsageEvent e = event_at(1764115200123);
  e.model = "we\"ird\\model\x01";
  e.request_id = "r1";
  e.endpoint = "/v1/messages";
  e.status = 200;
  e.stream = true;
  e.usage.input_tokens = 10;
  e.cost_micro = 1234567;
  AggregatorOptions o;
  auto args = fold_arguments({{"1-0", e}}, o);
  auto at = std::find(args.begin(), args.end(), "usage:records:k1");
  ASSERT_NE(at, args.end());
  ASSERT_LT(at + 3, args.end());
  EXPECT_EQ(*(at + 2), "1");  // one record
  auto record = boost::json::parse(*(at + 3)).as_object();
  EXPECT_EQ(record["timestamp"].as_string(), "2025-11-26T00:00:00.123Z");
  EXPECT_EQ(record["model"].as_string(), "we\"ird\\model\x01");
  EXPECT_EQ(record["statusCode"].as_int64(), 200);
  EXPECT_TRUE(record["stream"].as_bool());
  EXPECT_FALSE(record["partial"].as_bool());
  EXPECT_EQ(record["inputTokens"].as_int64(), 10);
  EXPECT_EQ(record["costMicro"].as_int64(), 1234567);
  EXPECT_DOUBLE_EQ(record["cost"].as_double(), 1.234567);
  EXPECT_NE(at[3].find("\"cost\":1.234567}"), std::string::npos) << at[3];
}

TEST(FoldArguments, HourlyBucketsExpireAfterTheConfiguredRetention) {
  UsageEvent e = event_at(1764115200000);
  e.usage.input_tokens = 1;
  AggregatorOptions o;
  o.timezone_offset_hours = 0;
  o.hourly_retention_days = 2;
  auto args = fold_arguments({{"1-0", e}}, o);
  int hourly = 0;
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i].find(":hourly:") != std::string::npos && args[i + 1] == "172800") ++hourly;
  EXPECT_EQ(hourly, 4);  // per key, per account, per model and for the whole relay
}

TEST(FoldArguments, KeepsOnlyTheNewestRecordsOldestFirst) {
  std::vector<std::pair<std::string, UsageEvent>> events;
  for (int i = 0; i < 5; ++i) {
    UsageEvent e;
    e.timestamp_ms = 1764115200000 + i;
    e.key_id = "k1";
    e.request_id = "r" + std::to_string(i);
    events.emplace_back(std::to_string(i + 1) + "-0", e);
  }
  AggregatorOptions o;
  o.records_per_key = 3;
  auto args = fold_arguments(events, o);
  auto at = std::find(args.begin(), args.end(), "usage:records:k1");
  ASSERT_NE(at, args.end());
  EXPECT_EQ(at[1], "3");  // the list's length limit
  ASSERT_EQ(at[2], "3");  // records pushed
  // LPUSH takes them oldest first, so the list's head is the newest request.
  EXPECT_NE(at[3].find("\"requestId\":\"r2\""), std::string::npos);
  EXPECT_NE(at[4].find("\"requestId\":\"r3\""), std::string::npos);
  EXPECT_NE(at[5].find("\"requestId\":\"r4\""), std::string::npos);
}

TEST(UsageEvent, RoundTripsThroughTheStreamLine) {
  UsageEvent e;
  e.timestamp_ms = 5;
  e.key_id = "k";
  e.account_id = "a";
  e.model = "claude-x";
  e.usage.input_tokens = 1;
  e.usage.output_tokens = 2;
  e.usage.cache_creation_input_tokens = 3;
  e.usage.cache_read_input_tokens = 4;
  e.cost_micro = 99;
  e.partial = true;
  e.status = 529;
  e.request_id = "r1";
  e.endpoint = "/v1/messages";
  auto back = UsageEvent::from_wire(e.to_wire());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->timestamp_ms, 5);
  EXPECT_EQ(back->key_id, "k");
  EXPECT_EQ(back->account_id, "a");
  EXPECT_EQ(back->model, "claude-x");
  EXPECT_EQ(back->usage.input_tokens, 1);
  EXPECT_EQ(back->usage.output_tokens, 2);
  EXPECT_EQ(back->usage.cache_creation_input_tokens, 3);
  EXPECT_EQ(back->usage.cache_read_input_tokens, 4);
  EXPECT_EQ(back->cost_micro, 99);
  EXPECT_EQ(back->status, 529);
  EXPECT_TRUE(back->partial);
  EXPECT_FALSE(back->stream);
  EXPECT_EQ(back->request_id, "r1");
  EXPECT_EQ(back->endpoint, "/v1/messages");
}

TEST(UsageEvent, ClientTextCannotShiftColumns) {
  UsageEvent e;
  e.timestamp_ms = 7;
  e.model = "evil\tmodel\n";
  e.usage.output_tokens = 9;
  auto back = UsageEvent::from_wire(e.to_wire());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->model, "evil model ");
  EXPECT_EQ(back->usage.output_tokens, 9);
}

TEST(UsageEvent, RefusesWhatIsNotAnEvent) {
  EXPECT_FALSE(UsageEvent::from_wire(""));
  EXPECT_FALSE(UsageEvent::from_wire("garbage"));
  UsageEvent e;
  e.timestamp_ms = 1;
  std::string line = e.to_wire();
  EXPECT_FALSE(UsageEvent::from_wire("9" + line.substr(1)));  // another format version
  EXPECT_FALSE(UsageEvent::from_wire(line.substr(0, line.rfind('\t'))));  // a column short
  std::string bad = line;
  bad.replace(bad.find('\t') + 1, 1, "x");  // timestamp not a number
  EXPECT_FALSE(UsageEvent::from_wire(bad));
}

}  // namespace
}  // namespace crs::usage
