#include "export/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace crs::key_export {
namespace fs = std::filesystem;

namespace {

constexpr size_t kWriteBuffer = 256 * 1024;
constexpr std::string_view kFinalPrefix = "keys-";
constexpr std::string_view kTempPrefix = ".keys-";
constexpr std::string_view kTempSuffix = ".tmp";

std::string errno_text() { return std::strerror(errno); }

bool is_task_id(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

namespace {

Result<std::filesystem::path> absolute_dir(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  if (ec) return Error{fmt::format("apiExport.outputDir {}: {}", path, ec.message())};
  if (!p.has_filename()) p = p.parent_path();  // "dir/" names the directory
  return p;
}

// An existing directory: the process user's alone.
Status check_existing(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return Error{fmt::format("apiExport.outputDir {}: {}", p.string(), errno_text())};
  if (!S_ISDIR(st.st_mode)) return Error{fmt::format("apiExport.outputDir {} is not a directory", p.string())};
  if (st.st_uid != ::geteuid())
    return Error{fmt::format("apiExport.outputDir {} belongs to uid {}, not to this process (uid {}): exports hold "
                             "every key's details, so the directory must be this user's alone",
                             p.string(), st.st_uid, ::geteuid())};
  if (st.st_mode & 077)
    return Error{fmt::format("apiExport.outputDir {} has mode {:04o}: its group or others may enter it. Run chmod 700 {} "
                             "(exports hold every key's details)",
                             p.string(), st.st_mode & 07777, p.string())};
  return Ok{};
}

}  // namespace

Result<std::string> prepare_output_dir(const std::string& path) {
  auto p = absolute_dir(path);
  if (!p) return p.error();
  std::error_code ec;
  if (!fs::exists(*p, ec)) {
    fs::create_directories(p->parent_path(), ec);
    if (::mkdir(p->c_str(), 0700) != 0 && errno != EEXIST)
      return Error{fmt::format("apiExport.outputDir {}: cannot create it: {}", p->string(), errno_text())};
  }
  if (auto s = check_existing(*p); !s) return s.error();
  return p->string();
}

Status check_output_dir(const std::string& path) {
  auto p = absolute_dir(path);
  if (!p) return p.error();
  std::error_code ec;
  if (!fs::exists(*p, ec)) return Ok{};  // made 0700 at the first start
  return check_existing(*p);
}

std::string final_name(std::string_view task_id, Format format) {
  return fmt::format("{}{}.{}", kFinalPrefix, task_id, file_extension(format));
}

std::string temp_name(std::string_view task_id, Format format) {
  return fmt::format("{}{}.{}{}", kTempPrefix, task_id, file_extension(format), kTempSuffix);
}

std::optional<FileName> parse_file_name(std::string_view name) {
  FileName out;
  if (name.starts_with(kTempPrefix) && name.ends_with(kTempSuffix)) {
    out.temporary = true;
    name.remove_prefix(kTempPrefix.size());
    name.remove_suffix(kTempSuffix.size());
  } else if (name.starts_with(kFinalPrefix)) {
    name.remove_prefix(kFinalPrefix.size());
  } else {
    return std::nullopt;
  }
  auto dot = name.find('.');
  if (dot == std::string_view::npos || !is_task_id(name.substr(0, dot))) return std::nullopt;
  auto format = parse_format(name.substr(dot + 1));
  if (!format) return std::nullopt;
  out.task_id = std::string(name.substr(0, dot));
  out.format = *format;
  return out;
}

ExportFile::~ExportFile() { discard(); }

Status ExportFile::open(const std::string& dir, std::string_view task_id, Format format) {
  dir_ = dir;
  temp_ = dir + "/" + temp_name(task_id, format);
  final_ = final_name(task_id, format);
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return Error{fmt::format("cannot create {}: {}", temp_, errno_text())};
  buffer_.reserve(kWriteBuffer);
  return Ok{};
}

Status ExportFile::write(std::string_view data) {
  sha_.update(data);
  size_ += data.size();
  buffer_.append(data);
  if (buffer_.size() >= kWriteBuffer) return flush();
  return Ok{};
}

Status ExportFile::flush() {
  if (buffer_.empty()) return Ok{};
  if (!write_all(fd_, buffer_)) return Error{fmt::format("cannot write {}: {}", temp_, errno_text())};
  buffer_.clear();
  return Ok{};
}

Result<WrittenFile> ExportFile::commit() {
  if (auto s = flush(); !s) return s.error();
  if (::fchmod(fd_, 0600) != 0 || ::fsync(fd_) != 0) return Error{fmt::format("cannot sync {}: {}", temp_, errno_text())};
  ::close(std::exchange(fd_, -1));
  std::string target = dir_ + "/" + final_;
  if (::rename(temp_.c_str(), target.c_str()) != 0) return Error{fmt::format("cannot rename {}: {}", temp_, errno_text())};
  temp_.clear();
  fsync_dir(dir_);
  return WrittenFile{final_, size_, sha_.hex()};
}

void ExportFile::discard() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
}

Result<OpenedFile> open_export_file(const std::string& dir, const std::string& name) {
  auto parsed = parse_file_name(name);
  if (!parsed || parsed->temporary) return Error{"not an export file name"};
  std::string path = dir + "/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Error{errno == ENOENT ? "the file is gone" : errno_text()};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{"not a regular file"};
  }
  return OpenedFile{fd, static_cast<uint64_t>(st.st_size)};
}

std::vector<DirEntry> list_export_files(const std::string& dir) {
  std::vector<DirEntry> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    auto parsed = parse_file_name(e->d_name);
    if (!parsed) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    int64_t mtime_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
    out.push_back(DirEntry{e->d_name, *parsed, mtime_ms, static_cast<uint64_t>(st.st_size)});
  }
  ::closedir(d);
  return out;
}

bool remove_export_file(const std::string& dir, const std::string& name) {
  if (!parse_file_name(name)) return false;
  return ::unlink((dir + "/" + name).c_str()) == 0;
}

}  // namespace crs::key_export
