#pragma once
// The backup file of `crs backup` / `crs restore`: every Redis key the relay owns as Redis's own
// DUMP payload with its absolute expiry, checksummed, authenticated and versioned.
//
//   "CRS-BACKUP 1\n"                     magic and format version
//   <header JSON>\n                      see cli/backup.cpp (encryptionKeyCheck, schemaVersion, ...)
//   ('K' u32 name_len name i64 expire_at_ms u32 payload_len payload)*   big-endian numbers
//   'E'                                  end of records
//   "\n" <trailer JSON>\n                {"keys": N, "sha256": hex, "mac": hex}
//
// `sha256` covers every byte before the trailer; `mac` is an HMAC of it under a key derived from
// ENCRYPTION_KEY, so a file edited by anyone without that key (an admin login planted, an
// account added) is refused even with its checksum recomputed. A restore checks everything on a
// private copy, made as the file is read, and reads the records from that copy only: the file
// cannot change between the check and the writes.
#include <cstdint>
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

  // Creates `path` through a temporary name beside it (0600); an existing file is never replaced.
  Status open(const std::string& path, const boost::json::object& header, std::string_view encryption_key);
  Status add(const BackupRecord& record);
  // Ends the records, writes the trailer, fsyncs and links the file into place.
  Result<std::string> commit();  // the sha256
  uint64_t records() const { return records_; }

 private:
  Status put(std::string_view bytes);
  Status flush();

  std::string path_, temp_, mac_key_;
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

class BackupReader;

// A backup checked whole (a regular file; magic, version, framing, count, checksum, MAC) and
// copied, as it was read, to a private file that it removes when destroyed.
class VerifiedBackup {
 public:
  ~VerifiedBackup();
  VerifiedBackup(const VerifiedBackup&) = delete;
  VerifiedBackup& operator=(const VerifiedBackup&) = delete;

  const BackupSummary& summary() const { return summary_; }
  // The records, from the private copy.
  std::unique_ptr<BackupReader> reader() const;

 private:
  friend Result<std::unique_ptr<VerifiedBackup>> verify_backup(const std::string&, std::string_view);
  VerifiedBackup() = default;
  BackupSummary summary_;
  std::string copy_;
};

// `encryption_key`: the MAC's key. A wrong key and a changed file both fail here; check the
// header's encryptionKeyCheck first to tell the operator which.
Result<std::unique_ptr<VerifiedBackup>> verify_backup(const std::string& path, std::string_view encryption_key);

// The header only (no check): to say why a backup is refused before its MAC is judged.
Result<boost::json::object> read_backup_header(const std::string& path);

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
