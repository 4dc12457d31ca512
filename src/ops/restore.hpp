#pragma once
// Restoring a backup (ops/backup_file.hpp). Nothing is written until the file's checksum and
// version pass, this ENCRYPTION_KEY is the one its credentials and key digests were made with,
// and this Redis can read its payloads. Two modes:
//  - into an empty database (the default): every key as it was, with its absolute expiry;
//    refused if the database holds any key.
//  - into a live one (`into_live`): nothing live is overwritten or deleted. A value the database
//    lacks is restored; for a value it has, the backup's hash fields, set members and sorted-set
//    members that it lacks are added, and any other value (strings, lists, streams) stays as
//    it is live. A key whose type differs is left alone and reported. Records the database
//    lacks (relay keys, accounts, groups) were deleted since the backup, perhaps because they
//    leaked: they come back only with `include_deleted`, and indexes gain only members whose
//    record exists live.
// Afterwards the query caches' generations move past every earlier value and every instance is
// told to reload keys and accounts.
#include <string>

#include <boost/json/object.hpp>

#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::ops {

struct RestoreOptions {
  std::string path;
  std::string encryption_key;
  bool into_live = false;
  bool include_deleted = false;  // into_live: bring back records deleted since the backup
  bool dry_run = false;
  size_t batch = 500;
};

// The report (what was, or with dry_run would be, restored); an Error when the checks refuse.
Task<Result<boost::json::object>> restore_backup(store::RedisClient& redis, RestoreOptions options);

// The newest RDB version a Redis of this version reads (DUMP payloads carry theirs).
int max_rdb_version(const std::string& redis_version);

}  // namespace crs::ops
