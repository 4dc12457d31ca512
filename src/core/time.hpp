#pragma once
#include <chrono>
#include <string>

namespace crs {

// "2026-11-26T05:02:48.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
size_t resident_memory_bytes();

}  // namespace crs
