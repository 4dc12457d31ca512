#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace crs {

// "2026-11-26T05:02:48.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

// Now, in milliseconds since the epoch.
int64_t unix_ms();
// "2026-11-26T05:02:48Z" (fractions and zone ignored, read as UTC) in ms since the epoch; 0 when
// the text does not start with such a time.
int64_t parse_iso8601_ms(const std::string& text);

// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
size_t resident_memory_bytes();

}  // namespace crs
