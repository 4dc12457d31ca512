// Date ranges of the usage reports.
#include <gtest/gtest.h>

#include "usage/usage_reader.hpp"

namespace crs::usage {
namespace {

TEST(UsagePeriods, DaysHoursAndMonthsAcrossBoundaries) {
  auto days = periods(Granularity::Day, "2024-02-27", "2024-03-01", 100);
  ASSERT_TRUE(days);
  EXPECT_EQ(*days, (std::vector<std::string>{"2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"}));
  auto hours = periods(Granularity::Hour, "2026-12-31", "2027-01-01", 100);
  ASSERT_TRUE(hours);
  ASSERT_EQ(hours->size(), 48u);
  EXPECT_EQ(hours->front(), "2026-12-31:00");
  EXPECT_EQ((*hours)[24], "2027-01-01:00");
  EXPECT_EQ(hours->back(), "2027-01-01:23");
  auto months = periods(Granularity::Month, "2026-11", "2027-02-15", 100);
  ASSERT_TRUE(months);
  EXPECT_EQ(*months, (std::vector<std::string>{"2026-11", "2026-12", "2027-01", "2027-02"}));
}

TEST(UsagePeriods, RefusesBadDatesReversedAndHugeRanges) {
  EXPECT_FALSE(periods(Granularity::Day, "2026-02-30", "2026-03-01", 100)) << "no such day";
  EXPECT_FALSE(periods(Granularity::Day, "2026-11", "2026-11-30", 100)) << "a month is not a day";
  EXPECT_FALSE(periods(Granularity::Day, "26-11-01", "2026-11-30", 100));
  EXPECT_FALSE(periods(Granularity::Day, "2026-11-30", "2026-11-01", 100)) << "reversed";
  auto big = periods(Granularity::Hour, "2026-01-01", "2026-12-31", 800);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("800"), std::string::npos);
  EXPECT_TRUE(periods(Granularity::Day, "2026-11-26", "2026-11-26", 1));
}

TEST(UsageKeys, NamesMatchTheAggregator) {
  EXPECT_EQ(bucket_key(Subject::Key, "k", Granularity::Day, "2026-11-26"), "usage:daily:k:2026-11-26");
  EXPECT_EQ(bucket_key(Subject::Account, "a", Granularity::Hour, "2026-11-26:05"),
            "account_usage:hourly:a:2026-11-26:05");
  EXPECT_EQ(bucket_key(Subject::Model, "m", Granularity::Month, "2026-11"), "usage:model:monthly:m:2026-11");
  EXPECT_EQ(bucket_key(Subject::Global, "", Granularity::Day, "2026-11-26"), "usage:global:daily:2026-11-26");
  EXPECT_EQ(all_time_key(Subject::Key, "k"), "usage:k");
  EXPECT_EQ(key_model_key("k", "m", "daily", "2026-11-26"), "usage:k:model:daily:m:2026-11-26");
  EXPECT_EQ(key_model_key("k", "m", "alltime", ""), "usage:k:model:alltime:m");
}

}  // namespace
}  // namespace crs::usage
