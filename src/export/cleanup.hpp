#pragma once
// Removes export files older than a maximum age (their tasks become "expired") and the
// temporary files of exports that are no longer running (an instance killed mid-export).
// Names that are not export files are never touched.
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::key_export {

struct CleanupReport {
  std::vector<std::string> removed;      // files (final and temporary) removed, or that would be
  std::vector<std::string> expired;      // tasks marked expired
  int64_t kept = 0;                      // export files left in place
};

// `dry_run`: reports what would go and changes nothing.
Task<Result<CleanupReport>> clean_exports(store::RedisClient& redis, std::string dir, int64_t max_age_ms,
                                          bool dry_run);

// One cleaner at a time across instances: a lock with an expiry, released by its holder only.
Task<Result<bool>> take_cleanup_lock(store::RedisClient& redis, std::string holder);
Task<void> release_cleanup_lock(store::RedisClient& redis, std::string holder);

}  // namespace crs::key_export
