#pragma once
// Export files on disk. The directory is the process user's alone (0700); a file is written
// under a temporary name, fsync'd and renamed into place with mode 0600, so a reader never
// sees half a file. Names are made only from the task id and the format: no text of a request
// ever reaches a path, and a name that does not have that form is never opened.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.hpp"
#include "core/result.hpp"
#include "export/spec.hpp"

namespace crs::key_export {

// Creates `path` (0700) if it is missing; refuses a directory that is not the process user's
// or that its group or others may enter. Returns the absolute path.
Result<std::string> prepare_output_dir(const std::string& path);
// The same judgement without creating anything (`crs config check`): a missing directory is fine.
Status check_output_dir(const std::string& path);

std::string final_name(std::string_view task_id, Format format);  // "keys-<id>.<ext>"
std::string temp_name(std::string_view task_id, Format format);   // ".keys-<id>.<ext>.tmp"

struct FileName {
  std::string task_id;
  Format format = Format::Json;
  bool temporary = false;
};
// The parts of a name made by final_name or temp_name; nullopt for any other name.
std::optional<FileName> parse_file_name(std::string_view name);

struct WrittenFile {
  std::string name;    // in the output directory
  uint64_t size = 0;
  std::string sha256;  // hex
};

// One export being written: buffered writes, the checksum taken as they go.
class ExportFile {
 public:
  ExportFile() = default;
  ~ExportFile();  // an uncommitted file is removed
  ExportFile(const ExportFile&) = delete;
  ExportFile& operator=(const ExportFile&) = delete;

  Status open(const std::string& dir, std::string_view task_id, Format format);
  Status write(std::string_view data);
  // Flushes, fsyncs, renames into place (0600) and fsyncs the directory.
  Result<WrittenFile> commit();
  void discard();

 private:
  Status flush();

  std::string dir_, temp_, final_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t size_ = 0;
  crypto::Sha256 sha_;
};

// An export file opened for reading (download), by a name that parse_file_name accepts,
// never through a symbolic link; -1 and the reason otherwise.
struct OpenedFile {
  int fd = -1;
  uint64_t size = 0;
};
Result<OpenedFile> open_export_file(const std::string& dir, const std::string& name);

struct DirEntry {
  std::string name;
  FileName parsed;
  int64_t mtime_ms = 0;
  uint64_t size = 0;
};
// The export files (final and temporary) in `dir`; other names are left out.
std::vector<DirEntry> list_export_files(const std::string& dir);
bool remove_export_file(const std::string& dir, const std::string& name);

}  // namespace crs::key_export
