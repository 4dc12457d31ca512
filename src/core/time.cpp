#include "core/time.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>

namespace crs {

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // Written by hand: snprintf costs more than the rest of a usage record together.
  std::string out = "0000-00-00T00:00:00.000Z";
  auto digits = [&](size_t at, int value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) out[at + static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  digits(0, tm.tm_year + 1900, 4);
  digits(5, tm.tm_mon + 1, 2);
  digits(8, tm.tm_mday, 2);
  digits(11, tm.tm_hour, 2);
  digits(14, tm.tm_min, 2);
  digits(17, tm.tm_sec, 2);
  digits(20, static_cast<int>(ms % 1000), 3);
  return out;
}

size_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t parse_iso8601_ms(const std::string& text) {
  std::tm tm{};
  if (text.empty() || !strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

}  // namespace crs
