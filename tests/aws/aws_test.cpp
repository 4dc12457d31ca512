// SigV4 and the event-stream framing against the vectors of spec/bedrock.md §4.2 and §5.
#include <chrono>

#include <gtest/gtest.h>

#include "aws/event_stream.hpp"
#include "aws/sigv4.hpp"

namespace crs::aws {
namespace {

std::chrono::system_clock::time_point at(int y, int mo, int d, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

const Credentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

TEST(SigV4, AwsGetVanillaVector) {
  SigningInput in;
  in.method = "GET";
  in.path = "/";
  in.region = "us-east-1";
  in.service = "service";
  in.host = "example.amazonaws.com";
  in.now = at(2015, 8, 30, 12, 36, 0);
  auto s = sign_v4(in, kExample);
  EXPECT_EQ(s.amz_date, "20150830T123600Z");
  EXPECT_EQ(s.signing_key_hex, "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
  EXPECT_NE(s.authorization.find("Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
            std::string::npos)
      << s.authorization;
}

TEST(SigV4, BedrockWorkedExampleDoubleEncodesThePath) {
  std::string body = R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"Hi"}]})";
  ASSERT_EQ(body.size(), 102u);
  SigningInput in;
  in.method = "POST";
  in.path = "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke";
  in.body = body;
  in.region = "us-east-1";
  in.service = "bedrock";
  in.headers = {{"Content-Type", "application/json"}};
  in.host = "bedrock-runtime.us-east-1.amazonaws.com";
  in.now = at(2025, 1, 2, 3, 4, 5);
  auto s = sign_v4(in, kExample);
  EXPECT_EQ(s.canonical_request,
            "POST\n/model/us.anthropic.claude-sonnet-4-20250514-v1%253A0/invoke\n\n"
            "content-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\nx-amz-date:20250102T030405Z\n\n"
            "content-type;host;x-amz-date\n4ce463b5c3d9ec921b15bafe17cf28cc4d188c93bf720c68e1dee3905c9fd0f8");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20250102T030405Z\n20250102/us-east-1/bedrock/aws4_request\n"
            "9a50fa290c3ab38be4568361185cdbcfdb5ec08f56300cbce0378145d006c9f1");
  EXPECT_EQ(s.signing_key_hex, "e21c623e4635aedbfb69d823d2707c3757772dc1c9e96594ba340ac8e635ce57");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250102/us-east-1/bedrock/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=e0fef5bc4a36ea1f704b879e946732de19011b80c81b01012018d1d6b61b3ea5");
}

TEST(SigV4, SessionTokensAreSignedAndHeaderValuesCanonical) {
  SigningInput in;
  in.method = "POST";
  in.path = "/model/x/invoke";
  in.region = "eu-west-1";
  in.service = "bedrock";
  in.headers = {{"Content-Type", "  application/json   ; charset=utf-8 "}};
  in.host = "127.0.0.1:8443";
  in.now = at(2025, 1, 2, 3, 4, 5);
  Credentials temporary{"ASIAEXAMPLE", "secret", "session-token-value"};
  auto s = sign_v4(in, temporary);
  EXPECT_NE(s.canonical_request.find("content-type:application/json ; charset=utf-8\nhost:127.0.0.1:8443\n"
                                     "x-amz-date:20250102T030405Z\nx-amz-security-token:session-token-value\n\n"
                                     "content-type;host;x-amz-date;x-amz-security-token\n"),
            std::string::npos)
      << s.canonical_request;
  EXPECT_NE(s.authorization.find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"), std::string::npos);
  // Another secret, another signature; the same input, the same one.
  EXPECT_EQ(sign_v4(in, temporary).authorization, s.authorization);
  EXPECT_NE(sign_v4(in, Credentials{"ASIAEXAMPLE", "other", "session-token-value"}).authorization, s.authorization);
}

TEST(SigV4, UriEncodingKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(uri_encode("a-b_c.d~e/f g:h%", true), "a-b_c.d~e/f%20g%3Ah%25");
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
}

const std::string kMessageStop =
    "00000087000000" "4b87ea2bf30b3a6576656e742d747970650700056368756e6b0d3a636f6e74656e742d74797065070010"
    "6170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b226279746573223a2265794a"
    "306558426c496a6f696257567a6332466e5a56397a64473977496e303d227dba48ab22";
const std::string kEmpty = "000000100000000005c248eb7d98c8ff";
const std::string kHiChunk =
    "000000e20000004bd638d3ce0b3a6576656e742d747970650700056368756e6b0d3a636f6e74656e742d747970650700106170706c"
    "69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b226279746573223a2265794a306558426c49"
    "6a6f695932397564475675644639696247396a6131396b5a57783059534973496d6c755a475634496a6f774c434a6b5a5778305953"
    "493665794a306558426c496a6f69644756346446396b5a57783059534973496e526c654851694f694a4961534a3966513d3d222c22"
    "70223a2261626364227d528ecb0b";
const std::string kThrottling =
    "00000090000000618e91a9b70f3a657863657074696f6e2d747970650700137468726f74746c696e67457863657074696f6e0d3a"
    "636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d7479706507000965786365"
    "7074696f6e7b226d657373616765223a22546f6f206d616e79207265717565737473227de67f8005";

std::vector<FrameHeader> chunk_headers() {
  return {{":event-type", HeaderType::kString, "chunk"},
          {":content-type", HeaderType::kString, "application/json"},
          {":message-type", HeaderType::kString, "event"}};
}

TEST(EventStream, TheSpecsFramesDecode) {
  EventStreamDecoder d;
  std::vector<Frame> frames;
  std::string all = from_hex(kMessageStop) + from_hex(kEmpty) + from_hex(kHiChunk) + from_hex(kThrottling);
  ASSERT_EQ(from_hex(kMessageStop).size(), 135u);
  ASSERT_TRUE(d.feed(all, frames)) << d.error();
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].header(":event-type"), "chunk");
  EXPECT_EQ(frames[0].header(":message-type"), "event");
  EXPECT_EQ(frames[0].payload, R"({"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0="})");
  EXPECT_TRUE(frames[1].headers.empty());
  EXPECT_TRUE(frames[1].payload.empty());
  EXPECT_EQ(frames[2].payload.size(), 226u - 75u - 16u);
  EXPECT_NE(frames[2].payload.find(R"("p":"abcd")"), std::string::npos);
  EXPECT_EQ(frames[3].header(":message-type"), "exception");
  EXPECT_EQ(frames[3].header(":exception-type"), "throttlingException");
  EXPECT_EQ(frames[3].payload, R"({"message":"Too many requests"})");
  EXPECT_FALSE(d.has_partial());
}

TEST(EventStream, TheEncoderWritesTheSpecsFramesByteForByte) {
  EXPECT_EQ(encode_frame(chunk_headers(), R"({"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0="})"), from_hex(kMessageStop));
  EXPECT_EQ(encode_frame({}, ""), from_hex(kEmpty));
  std::vector<FrameHeader> exception{{":exception-type", HeaderType::kString, "throttlingException"},
                                     {":content-type", HeaderType::kString, "application/json"},
                                     {":message-type", HeaderType::kString, "exception"}};
  EXPECT_EQ(encode_frame(exception, R"({"message":"Too many requests"})"), from_hex(kThrottling));
}

TEST(EventStream, FramesSplitAtEveryOffsetDecodeTheSame) {
  std::string all = from_hex(kHiChunk) + from_hex(kMessageStop);
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    EventStreamDecoder d;
    std::vector<Frame> frames;
    ASSERT_TRUE(d.feed(std::string_view(all).substr(0, cut), frames));
    ASSERT_TRUE(d.feed(std::string_view(all).substr(cut), frames)) << cut;
    ASSERT_EQ(frames.size(), 2u) << cut;
    EXPECT_EQ(frames[1].payload, R"({"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0="})");
  }
  // One byte at a time.
  EventStreamDecoder d;
  std::vector<Frame> frames;
  for (char c : all) ASSERT_TRUE(d.feed(std::string_view(&c, 1), frames));
  EXPECT_EQ(frames.size(), 2u);
}

TEST(EventStream, CorruptionAndTruncationAreTold) {
  auto decode = [](std::string bytes) {
    EventStreamDecoder d;
    std::vector<Frame> frames;
    bool ok = d.feed(bytes, frames);
    return std::make_pair(ok ? std::string(d.has_partial() ? "partial" : "ok") : d.error(), frames.size());
  };
  std::string good = from_hex(kMessageStop);
  EXPECT_EQ(decode(good).first, "ok");
  std::string bad_prelude = good;
  bad_prelude[9] ^= 1;
  EXPECT_EQ(decode(bad_prelude).first, "corrupt prelude (CRC)");
  std::string bad_payload = good;
  bad_payload[100] ^= 1;
  EXPECT_EQ(decode(bad_payload).first, "corrupt frame (CRC)");
  EXPECT_EQ(decode(good.substr(0, 60)).first, "partial");
  // Lengths that cannot hold, with a valid prelude CRC: refused before waiting for the bytes.
  auto prelude = [](uint32_t total, uint32_t headers) {
    std::string p;
    for (uint32_t v : {total, headers})
      for (int shift = 24; shift >= 0; shift -= 8) p += static_cast<char>((v >> shift) & 0xff);
    uint32_t c = crc32(p);
    for (int shift = 24; shift >= 0; shift -= 8) p += static_cast<char>((c >> shift) & 0xff);
    return p;
  };
  EXPECT_EQ(decode(prelude(15, 0)).first, "corrupt prelude (lengths)");
  EXPECT_EQ(decode(prelude(100, 90)).first, "corrupt prelude (lengths)");
  EXPECT_EQ(decode(prelude(0xffffffff, 0)).first, "corrupt prelude (lengths)");
  // A header section that does not parse to its length.
  std::vector<FrameHeader> one{{":a", HeaderType::kString, "b"}};
  std::string frame = encode_frame(one, "x");
  EXPECT_EQ(decode(frame).first, "ok");
  std::string broken = frame;
  broken[12 + 1 + 2] = 42;  // the type byte: no such type
  // (re-CRC so that only the header is wrong)
  std::string body = broken.substr(0, broken.size() - 4);
  uint32_t c = crc32(body);
  for (int shift = 24; shift >= 0; shift -= 8) body += static_cast<char>((c >> shift) & 0xff);
  EXPECT_EQ(decode(body).first, "corrupt frame (headers)");
  // After a failure the decoder takes nothing more.
  EventStreamDecoder d;
  std::vector<Frame> frames;
  EXPECT_FALSE(d.feed(bad_prelude, frames));
  EXPECT_FALSE(d.feed(good, frames));
  EXPECT_TRUE(frames.empty());
}

TEST(EventStream, EveryHeaderTypeRoundTrips) {
  std::vector<FrameHeader> all{{"t", HeaderType::kTrue, ""},         {"f", HeaderType::kFalse, ""},
                               {"b", HeaderType::kByte, "\x07"},      {"s", HeaderType::kInt16, "\x01\x02"},
                               {"i", HeaderType::kInt32, "abcd"},     {"l", HeaderType::kInt64, "abcdefgh"},
                               {"y", HeaderType::kBytes, "raw\x00z"}, {"str", HeaderType::kString, "text"},
                               {"ts", HeaderType::kTimestamp, "12345678"}, {"u", HeaderType::kUuid, "0123456789abcdef"}};
  all[6].value = std::string("raw\0z", 5);
  EventStreamDecoder d;
  std::vector<Frame> frames;
  ASSERT_TRUE(d.feed(encode_frame(all, "p"), frames)) << d.error();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0].headers.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(frames[0].headers[i].name, all[i].name);
    EXPECT_EQ(frames[0].headers[i].type, all[i].type);
    EXPECT_EQ(frames[0].headers[i].value, all[i].value) << all[i].name;
  }
  EXPECT_EQ(frames[0].header("str"), "text");
  EXPECT_EQ(frames[0].header("y"), "");  // not a string header
}

}  // namespace
}  // namespace crs::aws
