#pragma once
// The backup file of `crs backup` / `crs restore`: every Redis key the relay owns as Redis's own
// DUMP payload with its absolute expiry, checksummed and versioned.
//
//   "CRS-BACKUP 1\n"                     magic and format version
//   <header JSON>\n                      BackupHeader
//   ('K' u32 name_len name i64 expire_at_ms u32 payload_len payload)*   big-endian numbers
//   'E'                                  end of records
//   "\n" <trailer JSON>\n                {"keys": N, "sha256": hex of every byte before "\n"}
//
// A reader checks the magic, the version and the checksum before it hands out one record, so a
// truncated or edited file is refused before anything is written to Redis.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/crypto.hpp"
#include "core/result.hpp"

namespace crs::ops {

inline constexpr int kBackupFormat = 1;

struct BackupRecord {
  std::string name;
  int64_t expire_at_ms = -1;  // -1: no expiry
  std::string payload;        // DUMP's serialized value (RDB version in its last 10 bytes)
};

// The RDB version a DUMP payload was made with (its footer), or -1 for a malformed payload.
int payload_rdb_version(std::string_view payload);

// The check that a restore runs with the ENCRYPTION_KEY the backup's credentials and key
// digests were made with (an HMAC of a fixed label: it reveals nothing of the key).
std::string encryption_key_check(std::string_view encryption_key);

class BackupWriter {
 public:
  BackupWriter() = default;
  ~BackupWriter();  // an uncommitted file is removed
  BackupWriter(const BackupWriter&) = delete;
  BackupWriter& operator=(const BackupWriter&) = delete;

  // Creates `path` through a temporary name beside it (0600); refuses an existing file.
  Status open(const std::string& path, const boost::json::object& header);
  Status add(const BackupRecord& record);
  // Ends the records, writes the trailer, fsyncs and renames into place.
  Result<std::string> commit();  // the sha256
  uint64_t records() const { return records_; }

 private:
  Status put(std::string_view bytes);
  Status flush();

  std::string path_, temp_;
  int fd_ = -1;
  std::string buffer_;
  crypto::Sha256 sha_;
  uint64_t records_ = 0;
};

struct BackupSummary {
  boost::json::object header;
  uint64_t keys = 0;
  std::string sha256;
  uint64_t bytes = 0;
};

// Reads a backup whole to check it (magic, version, every record's framing, the count and the
// checksum) without keeping its records. Nothing may be written before this passes.
Result<BackupSummary> verify_backup(const std::string& path);

// The records of a backup, one at a time (after verify_backup).
class BackupReader {
 public:
  explicit BackupReader(const std::string& path);
  ~BackupReader();
  BackupReader(const BackupReader&) = delete;
  BackupReader& operator=(const BackupReader&) = delete;

  Result<boost::json::object> open();  // the header
  // true: `record` is the next one; false: the records ended. An Error for a malformed record.
  Result<bool> next(BackupRecord& record);

 private:
  struct State;
  std::string path_;
  std::unique_ptr<State> state_;
};

}  // namespace crs::ops
