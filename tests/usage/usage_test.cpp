#include <gtest/gtest.h>
#include <boost/json.hpp>
#include <algorithm>

#include "usage/aggregator.hpp"
#include "usage/pricing.hpp"
#include "usage/spool.hpp"
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

// A data line counts only when it reads through as one JSON object; a repeated member
// replaces the first; message_start's output count is not the final one.
TEST(SseUsageScanner, ADataLineCountsOnlyWhenItReadsThrough) {
  auto event = [](std::string_view name, std::string_view data) {
    return "event: " + std::string(name) + "\ndata: " + std::string(data) + "\n\n";
  };
  SseUsageScanner s;
  s.feed(event("message_start", R"({"message":{"model":"m1","usage":{"input_tokens":7,"output_tokens":1}}} x)"));
  EXPECT_FALSE(s.started()) << "trailing bytes after the object";
  EXPECT_EQ(s.usage().input_tokens, 0);
  s.feed(event("message_start", R"({"message":{"model":"m1","usage":{"input_tokens":7,"output_tokens":1}}})"));
  EXPECT_TRUE(s.started());
  EXPECT_EQ(s.served_model(), "m1");
  EXPECT_EQ(s.usage().input_tokens, 7);
  EXPECT_FALSE(s.final_usage_seen()) << "message_start's output_tokens is not the final count";
  s.feed(event("message_delta", R"({"usage":{"output_tokens":40},"usage":{"output_tokens":"x"}})"));
  EXPECT_EQ(s.usage().output_tokens, 1) << "the last usage member counts, and its count is no number";
  s.feed(event("message_delta", R"({"usage":{"output_tokens":50,"input_tokens":8}})"));
  EXPECT_EQ(s.usage().output_tokens, 50);
  EXPECT_EQ(s.usage().input_tokens, 8);
  EXPECT_TRUE(s.final_usage_seen());
  s.feed(event("message_delta", R"({"usage":{"output_tokens":60,)"));
  EXPECT_EQ(s.usage().output_tokens, 50) << "a line cut short changes nothing";
  s.feed(event("message_delta", R"({"usage":{"output_tokens":1e400,"input_tokens":99999999999999999999999}})"));
  EXPECT_EQ(s.usage().output_tokens, kMaxTokenCount) << "numbers beyond 64 bits are clamped, not refused";
  EXPECT_EQ(s.usage().input_tokens, kMaxTokenCount);
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

TEST(Pricing, UnknownModelsAreNeverFreeAndFlagged) {
  auto t = PricingTable::parse(PricingTable::builtin_json());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->lookup("claude-opus-9").source, "family:opus");
  EXPECT_EQ(t->lookup("claude-sonnet-9").source, "family:sonnet");
  EXPECT_EQ(t->lookup("claude-haiku-9").source, "family:haiku");
  EXPECT_EQ(t->lookup("mystery-model").source, "default");
  Usage u;
  u.input_tokens = 1;
  EXPECT_GT(t->cost_micro_usd("mystery-model", u), 0);
  EXPECT_TRUE(t->cost("claude-sonnet-9", u).fallback);
  EXPECT_FALSE(t->cost("claude-sonnet-5", u).fallback);
  EXPECT_FALSE(t->has_entry("claude-opus-9"));
  EXPECT_TRUE(t->has_entry("claude-sonnet-4-5"));
  EXPECT_FALSE(t->model_ids().empty());
}

// The Claude 5 generation and the 4.6-4.8 models have exact entries at Anthropic's prices
// (the 4.5 family price was 1.5x too high for Sonnet 5).
TEST(Pricing, NewerModelsHaveExactPrices) {
  auto t = PricingTable::parse(PricingTable::builtin_json());
  ASSERT_TRUE(t.ok());
  Usage million;
  million.input_tokens = 1'000'000;
  Usage out;
  out.output_tokens = 1'000'000;
  auto in_out = [&](const char* model) {
    return std::pair{t->cost_micro_usd(model, million), t->cost_micro_usd(model, out)};
  };
  EXPECT_EQ(in_out("claude-sonnet-5"), (std::pair<int64_t, int64_t>{2'000'000, 10'000'000}));
  EXPECT_EQ(in_out("claude-sonnet-5-5"), (std::pair<int64_t, int64_t>{2'000'000, 10'000'000}));
  EXPECT_EQ(in_out("claude-sonnet-4-6"), (std::pair<int64_t, int64_t>{3'000'000, 15'000'000}));
  EXPECT_EQ(in_out("claude-opus-5"), (std::pair<int64_t, int64_t>{5'000'000, 25'000'000}));
  EXPECT_EQ(in_out("claude-opus-5-5"), (std::pair<int64_t, int64_t>{4'000'000, 20'000'000}));
  EXPECT_EQ(in_out("claude-opus-4-6"), (std::pair<int64_t, int64_t>{5'000'000, 25'000'000}));
  EXPECT_EQ(in_out("claude-fable-5"), (std::pair<int64_t, int64_t>{10'000'000, 50'000'000}));
  // A 1M-token prompt is over 100K: the tier price; the output alone, under it: the base price.
  EXPECT_EQ(in_out("claude-haiku-5-5"), (std::pair<int64_t, int64_t>{500'000, 500'000}));
  Usage small;
  small.input_tokens = 100'000;
  EXPECT_EQ(t->cost_micro_usd("claude-haiku-5-5", small), 10'000);
}

// Over 200K prompt tokens (input + cache reads + writes) under the 1M-context beta, every token
// of the request is priced at the long-context tier.
TEST(Pricing, LongContextTier) {
  auto t = PricingTable::parse(PricingTable::builtin_json());
  ASSERT_TRUE(t.ok());
  Usage u;
  u.input_tokens = 150'000;
  u.cache_read_input_tokens = 50'000;
  u.output_tokens = 1'000;
  auto at_limit = t->cost("claude-sonnet-4-5-20250929", u);
  EXPECT_FALSE(at_limit.long_context);
  EXPECT_EQ(at_limit.micro, 450'000 + 15'000 + 15'000);
  u.cache_read_input_tokens = 50'001;
  auto over = t->cost("claude-sonnet-4-5-20250929", u);
  EXPECT_TRUE(over.long_context);
  // 6 in, 22.5 out, 0.6 read
  EXPECT_EQ(over.micro, 900'000 + 22'500 + 30'001);
  EXPECT_FALSE(t->cost("claude-opus-4-5-20251101", u).long_context);  // no such tier
}

TEST(Pricing, WebSearchesArePricedPerSearch) {
  auto t = PricingTable::parse(PricingTable::builtin_json());
  ASSERT_TRUE(t.ok());
  Usage u;
  u.web_search_requests = 3;
  u.web_fetch_requests = 2;  // tokens only
  EXPECT_EQ(t->cost_micro_usd("claude-sonnet-4-5-20250929", u), 30'000);  // $10 per 1,000
  EXPECT_FALSE(PricingTable::parse(R"({"models":{},"families":{},"serverTools":{"webSearchPerThousand":-1},)"
                                   R"("default":{"input":1,"output":1,"cacheWrite5m":1,"cacheWrite1h":1,"cacheRead":1}})")
                   .ok());
}

// The spec's own message_delta example restates cache_creation_input_tokens without the TTL
// breakdown: the one-hour part from message_start must survive (it was billed at the 5-minute
// rate, 0.75x the input price under).
TEST(SseUsageScanner, RestatedCacheWritesKeepTheOneHourPart) {
  auto t = PricingTable::parse(PricingTable::builtin_json());
  ASSERT_TRUE(t.ok());
  const std::string start =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-opus-4-5-20251101\","
      "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":1000,\"cache_creation\":{"
      "\"ephemeral_5m_input_tokens\":200,\"ephemeral_1h_input_tokens\":800},\"output_tokens\":1}}}\n\n";
  auto delta = [](int total) {
    return "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":10,"
           "\"cache_creation_input_tokens\":" + std::to_string(total) +
           ",\"cache_read_input_tokens\":0,\"output_tokens\":50,\"server_tool_use\":{\"web_search_requests\":2}}}\n\n";
  };
  SseUsageScanner same;
  same.feed(start + delta(1000));
  EXPECT_EQ(same.served_model(), "claude-opus-4-5-20251101");
  EXPECT_EQ(same.usage().cache_creation_1h, 800);
  EXPECT_EQ(same.usage().cache_creation_5m, 200);
  EXPECT_EQ(same.usage().web_search_requests, 2);
  EXPECT_TRUE(same.final_usage_seen());
  // opus 4.5: 5 in, 25 out, 6.25 5m, 10 1h; 2 searches
  EXPECT_EQ(t->cost_micro_usd("claude-opus-4-5-20251101", same.usage()), 50 + 1250 + 1250 + 8000 + 20000);
  // The total disagrees with the parts: the known one-hour part keeps its rate.
  SseUsageScanner more;
  more.feed(start + delta(1500));
  EXPECT_EQ(more.usage().cache_creation_1h, 800);
  EXPECT_EQ(more.usage().cache_creation_5m, 700);
  SseUsageScanner less;
  less.feed(start + delta(500));
  EXPECT_EQ(less.usage().cache_creation_1h, 500);
  EXPECT_EQ(less.usage().cache_creation_5m, 0);
}

// A stream cut before message_delta is charged the output that passed: characters / 4.
TEST(SseUsageScanner, EstimatesOutputFromTheDeltasThatPassed) {
  SseUsageScanner s;
  s.feed("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,"
         "\"output_tokens\":1}}}\n\n");
  std::string text_delta = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                           "\"delta\":{\"type\":\"text_delta\",\"text\":\"abcdefg\\\"\"}}\n\n";  // 8 characters
  std::string tool_delta = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
                           "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": \\u00e9\"}}\n\n";  // {"a": é
  for (int i = 0; i < 100; ++i) s.feed(text_delta);
  s.feed(tool_delta);
  s.feed("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
         "\"delta\":{\"type\":\"text_delta\",\"text\":\"h\xc3\xa9llo\"}}\n\n");  // 5 characters
  EXPECT_FALSE(s.final_usage_seen());
  EXPECT_EQ(s.estimated_output_tokens(), (800 + 7 + 5 + 3) / 4);
  EXPECT_EQ(s.usage().output_tokens, 1);
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
  // Assigned from std::string: GCC 12 warns falsely (stringop-overflow) on these literals here.
  e.key_id = std::string("k1");
  e.account_id = std::string("a1");
  e.model = std::string("m");
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
  e.usage.web_search_requests = 6;
  e.usage.web_fetch_requests = 7;
  e.estimated = true;
  e.long_context = true;
  auto back = UsageEvent::from_wire(e.to_wire());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->usage.web_search_requests, 6);
  EXPECT_EQ(back->usage.web_fetch_requests, 7);
  EXPECT_TRUE(back->estimated);
  EXPECT_TRUE(back->long_context);
  EXPECT_FALSE(back->priced_by_fallback);
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

// Events written by the previous version may still be in the stream at an upgrade.
TEST(UsageEvent, ReadsVersionOneEvents) {
  auto back = UsageEvent::from_wire("1\t5\tk\ta\tclaude-x\t1\t2\t3\t4\t3\t0\t99\t200\t1\t0\t12\tr1\t/v1/messages");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->usage.output_tokens, 2);
  EXPECT_EQ(back->cost_micro, 99);
  EXPECT_EQ(back->endpoint, "/v1/messages");
  EXPECT_EQ(back->usage.web_search_requests, 0);
  EXPECT_FALSE(back->estimated);
}

TEST(UsageSpool, RecordsRoundTripAnyBytesAndACutTailIsIgnored) {
  SpoolEntry e{true, true, "req-1", {"EVALSHA", "abc", "3", "k\n1", "k 2", "usage:events", "lease|5|6", "1", "2",
                                     "d", "w", "u", std::string("2\t5\tk\0x", 8)}};
  SpoolEntry r{false, false, "", {"ZREM", "limit:concurrency:x", "lease"}};
  std::string file = e.encode() + r.encode();
  std::string_view rest = file;
  auto a = SpoolEntry::decode(rest);
  auto b = SpoolEntry::decode(rest);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(a->command, e.command);
  EXPECT_TRUE(a->completion && a->ambiguous);
  EXPECT_EQ(a->request_id, "req-1");
  EXPECT_EQ(b->command, r.command);
  EXPECT_FALSE(b->completion || b->ambiguous);
  for (size_t cut = 0; cut < file.size() - r.encode().size(); ++cut) {
    std::string_view partial = std::string_view(file).substr(0, cut);
    auto x = SpoolEntry::decode(partial);
    EXPECT_FALSE(x) << cut;  // a record cut short is never taken
  }
  EXPECT_TRUE(failed_before_sending("redis not connected (127.0.0.1:6379)"));
  EXPECT_FALSE(failed_before_sending("redis connection lost (127.0.0.1:6379)"));
  EXPECT_FALSE(failed_before_sending("redis command timed out after 5000 ms"));
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
