#pragma once
// The layout version of the relay's data in Redis (`crs:schema_version`) and the migrations
// that bring older data to it. `crs serve` runs what is pending before it serves and refuses
// data written by a newer crs; `crs data migrate` does the same on demand (--dry-run: lists).
// Every migration is idempotent: running it twice, or on data that never needed it, changes
// nothing more. Concurrent runs (several instances starting at once) take a lock in Redis.
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::ops {

inline constexpr int kSchemaVersion = 1;

struct MigrationStep {
  int version = 0;  // the schema version it brings the data to
  std::string name;
  std::string what;
};

// Why data of schema version `stored` is refused.
std::string newer_data_message(int stored);

// The steps of this build, oldest first.
const std::vector<MigrationStep>& migration_steps();

struct SchemaState {
  int stored = 0;       // 0: no version recorded
  bool fresh = false;   // no relay data at all: stamped without migrating
  bool newer = false;   // written by a newer crs: do not touch
  std::vector<MigrationStep> pending;
};

Task<Result<SchemaState>> read_schema(store::RedisClient& redis);

struct MigrationResult {
  SchemaState before;
  std::vector<std::string> applied;  // names, in order
  int version = 0;                   // after
};

// Applies the pending steps (or only stamps a fresh database) under the migration lock. A
// database written by a newer crs is left alone (`before.newer`: the caller refuses it).
// `dry_run`: reads only.
Task<Result<MigrationResult>> migrate(store::RedisClient& redis, std::string encryption_key, bool dry_run);

}  // namespace crs::ops
