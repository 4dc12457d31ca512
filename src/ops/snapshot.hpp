#pragma once
// A consistent copy of every key in the relay's Redis database: writes are paused (CLIENT PAUSE
// WRITE, which lets reads through and ends by itself if this process dies), every name is
// listed with SCAN and read with DUMP and PEXPIRETIME, then writes resume. A copy that took
// longer than the pause is refused: writes may have run in the middle of it.
#include <chrono>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "ops/backup_file.hpp"
#include "store/redis_client.hpp"

namespace crs::ops {

struct SnapshotOptions {
  bool pause_writes = true;
  std::chrono::milliseconds max_pause{2000};
  std::vector<std::string> excluded_prefixes;  // derived data (the query cache)
  size_t batch = 500;                          // keys per pipeline
};

struct Snapshot {
  std::vector<BackupRecord> records;  // sorted by name
  std::string redis_version;
  int64_t pause_ms = 0;  // how long writes waited (0 without a pause)
  bool consistent = false;
};

Task<Result<Snapshot>> take_snapshot(store::RedisClient& redis, SnapshotOptions options);

// "apikey", "usage", "crs:account", ...: how a report groups key names.
std::string key_family(std::string_view name);

// redis_version from INFO server's text.
std::string info_field(const std::string& info, std::string_view name);

}  // namespace crs::ops
