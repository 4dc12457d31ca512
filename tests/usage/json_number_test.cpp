// Numbers the relay acts on (max_tokens, usage counts) read as their text says: simdjson 3.0.1's
// own get_double misreads numbers of more than 19 significant digits.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "usage/json_number.hpp"

namespace crs::usage {
namespace {

// The value of {"n": <text>}'s member, as json_number reads it.
std::optional<double> read(const std::string& text) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string json("{\"n\":" + text + "}");
  simdjson::ondemand::document doc;
  simdjson::ondemand::value v;
  if (parser.iterate(json).get(doc) || doc["n"].get(v)) return std::nullopt;
  return json_number(v);
}

TEST(JsonNumber, TheTextsShape) {
  for (const char* good : {"0", "-0", "7", "-12", "1.5", "0.25e-3", "1E+9", "123456789012345678901234"})
    EXPECT_TRUE(is_json_number(good)) << good;
  for (const char* bad : {"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "0x10", "inf", "NaN", "1 ", "1.5.2"})
    EXPECT_FALSE(is_json_number(bad)) << bad;
  EXPECT_EQ(trim_json_token("42 \r\n\t"), "42");
}

TEST(JsonNumber, ManySignificantDigitsAreReadAsWritten) {
  // simdjson's get_double gave 1068.05 and 38.76 for these two.
  EXPECT_DOUBLE_EQ(*read("0.84467440737098375495e4"), 8446.7440737098375495);
  EXPECT_DOUBLE_EQ(*read("0.999999999999999999999e4"), 10000);
  EXPECT_DOUBLE_EQ(*read("0.84467440737098375495"), 0.84467440737098375495);
  EXPECT_EQ(*read("4096"), 4096);
  EXPECT_EQ(*read("-3"), -3);
  EXPECT_EQ(*read("18446744073709551615"), 18446744073709551615.0);
  EXPECT_EQ(*read("123456789012345678901234"), 123456789012345678901234.0);
}

TEST(JsonNumber, OutOfRangeIsInfinityOrZeroAndOtherValuesAreNone) {
  EXPECT_TRUE(std::isinf(*read("1e400")));
  EXPECT_GT(*read("1e400"), 0);
  EXPECT_TRUE(std::isinf(*read("-1e400")));
  EXPECT_EQ(*read("1e-400"), 0);
  for (const char* other : {"\"4096\"", "true", "null", "[1]", "{\"a\":1}"})
    EXPECT_FALSE(read(other).has_value()) << other;
}

// Whatever the value and however it was read, the document reads on: the next member is there.
TEST(JsonNumber, TheNextMemberReadsAfterAnyValue) {
  for (const char* first : {"1.5", "0.84467440737098375495e4", "7", "18446744073709551615", "1e400", "[1,{\"a\":2}]",
                            "{\"a\":[1]}", "\"x\"", "null"}) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string json("{\"n\":" + std::string(first) + ",\"m\":2}");
    simdjson::ondemand::document doc;
    simdjson::ondemand::object o;
    ASSERT_FALSE(parser.iterate(json).get(doc));
    ASSERT_FALSE(doc.get_object().get(o));
    std::vector<std::string> keys;
    for (auto field : o) {
      std::string_view key;
      simdjson::ondemand::value v;
      ASSERT_FALSE(field.unescaped_key().get(key) || field.value().get(v)) << first;
      std::optional<double> number = json_number(v);
      if (key == "m") {
        ASSERT_TRUE(number.has_value()) << first;
        EXPECT_EQ(*number, 2) << first;
      }
      keys.emplace_back(key);
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"n", "m"})) << first;
  }
}

}  // namespace
}  // namespace crs::usage
