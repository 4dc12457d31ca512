// The day and week a key's daily and weekly budgets count in (limits/limits.hpp): the week
// starts on the key's reset day and hour in the configured time zone, and the labels name the
// local day and the week's first hour, also across a day's end (they are formatted once per
// thread while they stay the same).
#include <ctime>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "limits/limits.hpp"

namespace crs::limits {
namespace {

using namespace std::chrono_literals;
constexpr int64_t kHour = 3'600'000, kDay = 24 * kHour, kWeek = 7 * kDay;

std::tm local(int64_t ms, int tz) {
  std::time_t t = static_cast<std::time_t>(ms / 1000 + tz * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

TEST(Limits, AWeekStartsOnTheKeysResetDayAndHourInTheTimeZone) {
  const int64_t from = 1'796'083'200'000;  // 2026-12-01T00:00:00Z, a Tuesday
  for (int tz : {-11, 0, 5, 14}) {
    Limits limits(tz, 60s);
    keys::ApiKey key;
    for (int day = 1; day <= 7; ++day) {
      for (int hour : {0, 13, 23}) {
        key.limits.weekly_reset_day = day;
        key.limits.weekly_reset_hour = hour;
        for (int64_t now = from; now < from + 3 * kWeek; now += 7 * kHour + 1234) {
          int64_t start = limits.week_start_ms(key.limits, now);
          ASSERT_LE(start, now);
          ASSERT_GT(start + kWeek, now);
          auto tm = local(start, tz);
          ASSERT_EQ(tm.tm_wday == 0 ? 7 : tm.tm_wday, day) << "tz " << tz << " now " << now;
          ASSERT_EQ(tm.tm_hour, hour);
          ASSERT_EQ(tm.tm_min, 0);
          EXPECT_EQ(limits.week_label(key, now),
                    fmt::format("{:04}-{:02}-{:02}T{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, hour));
        }
      }
    }
  }
}

TEST(Limits, TheDayLabelTurnsAtLocalMidnight) {
  const int64_t utc_midnight = 1'796'083'200'000;  // 2026-12-01T00:00:00Z
  Limits utc(0, 60s), east(5, 60s);
  EXPECT_EQ(utc.day_label(utc_midnight - 1), "2026-11-30");
  EXPECT_EQ(utc.day_label(utc_midnight), "2026-12-01");
  EXPECT_EQ(utc.day_label(utc_midnight - 1), "2026-11-30") << "back again: the cached label is not kept";
  EXPECT_EQ(east.day_label(utc_midnight - 5 * kHour - 1), "2026-11-30");
  EXPECT_EQ(east.day_label(utc_midnight - 5 * kHour), "2026-12-01") << "another zone on the same thread";
  EXPECT_EQ(utc.day_label(utc_midnight - 5 * kHour), "2026-11-30");
}

}  // namespace
}  // namespace crs::limits
