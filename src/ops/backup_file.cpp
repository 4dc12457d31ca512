#include "ops/backup_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace crs::ops {
namespace json = boost::json;
namespace {

constexpr std::string_view kMagic = "CRS-BACKUP ";
constexpr size_t kMaxName = 1 << 16;
constexpr size_t kMaxPayload = 512u << 20;  // Redis's own limit on a string
constexpr size_t kMaxHeader = 1 << 20;
constexpr size_t kMaxTrailer = 4096;

std::string errno_text() { return std::strerror(errno); }

std::string mac_key_of(std::string_view encryption_key) {
  return crypto::hmac_sha256_raw(encryption_key, "crs/backup/mac/v1");
}

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void put_i64(std::string& out, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((u >> shift) & 0xff));
}

// A backup read in order from one descriptor: every byte before the trailer goes into the
// checksum and, when there is one, into a copy. Lengths are checked against the bytes left,
// so a hostile length never makes a large allocation.
class Reader {
 public:
  Reader(FILE* in, uint64_t size, FILE* copy = nullptr) : in_(in), size_(size), copy_(copy) {}
  bool read(char* to, size_t n) {
    if (n > size_ - pos_) return false;
    if (n > 0 && std::fread(to, 1, n, in_) != n) return false;
    if (copy_ && n > 0 && std::fwrite(to, 1, n, copy_) != n) copy_failed_ = true;
    sha_.update(std::string_view(to, n));
    pos_ += n;
    return true;
  }
  bool read_line(std::string& line, size_t limit) {
    line.clear();
    char c;
    while (line.size() < limit && read(&c, 1)) {
      if (c == '\n') return true;
      line.push_back(c);
    }
    return false;
  }
  bool u32(uint32_t& v) {
    unsigned char b[4];
    if (!read(reinterpret_cast<char*>(b), 4)) return false;
    v = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
    return true;
  }
  bool i64(int64_t& v) {
    unsigned char b[8];
    if (!read(reinterpret_cast<char*>(b), 8)) return false;
    uint64_t u = 0;
    for (unsigned char x : b) u = (u << 8) | x;
    v = static_cast<int64_t>(u);
    return true;
  }
  uint64_t left() const { return size_ - pos_; }
  std::string digest() { return sha_.hex(); }
  // The trailer: not hashed, at most kMaxTrailer bytes.
  std::optional<std::string> trailer() {
    if (left() > kMaxTrailer) return std::nullopt;
    std::string out(static_cast<size_t>(left()), '\0');
    if (!out.empty() && std::fread(out.data(), 1, out.size(), in_) != out.size()) return std::nullopt;
    if (copy_ && !out.empty() && std::fwrite(out.data(), 1, out.size(), copy_) != out.size()) copy_failed_ = true;
    pos_ = size_;
    return out;
  }
  bool copy_failed() const { return copy_failed_; }

 private:
  FILE* in_;
  uint64_t size_, pos_ = 0;
  FILE* copy_;
  bool copy_failed_ = false;
  crypto::Sha256 sha_;
};

// A regular file opened for reading, with its size.
struct OpenFile {
  FILE* f = nullptr;
  uint64_t size = 0;
  ~OpenFile() {
    if (f) std::fclose(f);
  }
};

Status open_regular(const std::string& path, OpenFile& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Error{fmt::format("cannot open {}: {}", path, errno_text())};
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{fmt::format("{} is not a regular file", path)};
  }
  out.f = ::fdopen(fd, "rb");
  if (!out.f) {
    ::close(fd);
    return Error{fmt::format("cannot read {}: {}", path, errno_text())};
  }
  out.size = static_cast<uint64_t>(st.st_size);
  return Ok{};
}

Result<json::object> read_head(Reader& r, const std::string& path) {
  std::string line;
  if (!r.read_line(line, 64) || !line.starts_with(kMagic))
    return Error{fmt::format("{} is not a crs backup (no CRS-BACKUP line)", path)};
  int format = std::atoi(line.c_str() + kMagic.size());
  if (format < 1 || format > kBackupFormat)
    return Error{fmt::format("{} is backup format {}; this crs reads format {} and older (upgrade crs to restore it)",
                             path, line.substr(kMagic.size()), kBackupFormat)};
  if (!r.read_line(line, kMaxHeader)) return Error{fmt::format("{}: the header is cut short", path)};
  boost::system::error_code ec;
  auto header = json::parse(line, ec);
  if (ec || !header.is_object()) return Error{fmt::format("{}: the header is not a JSON object", path)};
  return header.as_object();
}

enum class Next { Record, End, Broken };

Next read_record(Reader& r, BackupRecord& rec) {
  char tag;
  if (!r.read(&tag, 1)) return Next::Broken;
  if (tag == 'E') return Next::End;
  if (tag != 'K') return Next::Broken;
  uint32_t name_len = 0, payload_len = 0;
  if (!r.u32(name_len) || name_len == 0 || name_len > kMaxName || name_len > r.left()) return Next::Broken;
  rec.name.resize(name_len);
  if (!r.read(rec.name.data(), name_len) || !r.i64(rec.expire_at_ms)) return Next::Broken;
  if (!r.u32(payload_len) || payload_len > kMaxPayload || payload_len > r.left()) return Next::Broken;
  rec.payload.resize(payload_len);
  if (!r.read(rec.payload.data(), payload_len)) return Next::Broken;
  return Next::Record;
}

// The trailer's count, checksum and MAC against what was read.
Status check_trailer(const std::string& path, const std::optional<std::string>& trailer, const BackupSummary& s,
                     std::string_view encryption_key) {
  if (!trailer || trailer->empty() || trailer->front() != '\n')
    return Error{fmt::format("{}: the trailer (count and checksum) is missing: the file is incomplete", path)};
  boost::system::error_code ec;
  auto parsed = json::parse(*trailer, ec);
  if (ec || !parsed.is_object()) return Error{fmt::format("{}: the trailer is not JSON: the file is damaged", path)};
  auto& t = parsed.as_object();
  auto* sha = t.if_contains("sha256");
  auto* keys = t.if_contains("keys");
  auto* mac = t.if_contains("mac");
  if (!sha || !sha->is_string() || !crypto::equal_constant_time(sha->get_string(), s.sha256))
    return Error{fmt::format("{}: checksum mismatch: the file was changed or damaged", path)};
  if (!keys || !keys->is_int64() || static_cast<uint64_t>(keys->get_int64()) != s.keys)
    return Error{fmt::format("{}: the record count does not match its trailer", path)};
  std::string expected = crypto::hmac_sha256_hex(mac_key_of(encryption_key), s.sha256);
  if (!mac || !mac->is_string() || !crypto::equal_constant_time(mac->get_string(), expected))
    return Error{fmt::format("{}: its MAC does not match: the file was changed by someone without the ENCRYPTION_KEY "
                             "it was made with",
                             path)};
  return Ok{};
}

// A private file for the copy, in the system's temporary directory (0600).
Result<std::pair<std::string, FILE*>> private_copy() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "crs-restore-XXXXXX").string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return Error{fmt::format("cannot create a private copy in {}: {}", tmpl, errno_text())};
  ::fchmod(fd, 0600);
  FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    return Error{"cannot write a private copy: " + errno_text()};
  }
  return std::make_pair(tmpl, f);
}

}  // namespace

int payload_rdb_version(std::string_view payload) {
  if (payload.size() < 10) return -1;
  auto lo = static_cast<unsigned char>(payload[payload.size() - 10]);
  auto hi = static_cast<unsigned char>(payload[payload.size() - 9]);
  return lo | (hi << 8);
}

std::string encryption_key_check(std::string_view encryption_key) {
  return crypto::hmac_sha256_hex(encryption_key, "crs/backup/encryption-key-check/v1");
}

// ---- writing ----

BackupWriter::~BackupWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

Status BackupWriter::open(const std::string& path, const json::object& header, std::string_view encryption_key) {
  path_ = path;
  mac_key_ = mac_key_of(encryption_key);
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || ec)
    return Error{fmt::format("{} exists (or cannot be checked): choose another --out", path)};
  temp_ = fmt::format("{}.tmp-{}-{}", path, ::getpid(), crypto::random_hex(4));
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return Error{fmt::format("cannot create {}: {}", temp_, errno_text())};
  ::fchmod(fd_, 0600);  // whatever the umask
  std::string head = fmt::format("{}{}\n{}\n", kMagic, kBackupFormat, json::serialize(header));
  return put(head);
}

Status BackupWriter::put(std::string_view bytes) {
  sha_.update(bytes);
  buffer_.append(bytes);
  return buffer_.size() >= (1 << 20) ? flush() : Status(Ok{});
}

Status BackupWriter::flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{fmt::format("cannot write {}: {}", temp_, errno_text())};
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  return Ok{};
}

Status BackupWriter::add(const BackupRecord& record) {
  if (record.name.empty() || record.name.size() > kMaxName) return Error{"a key name of an impossible length"};
  std::string frame;
  frame.reserve(17 + record.name.size());
  frame.push_back('K');
  put_u32(frame, static_cast<uint32_t>(record.name.size()));
  frame.append(record.name);
  put_i64(frame, record.expire_at_ms);
  put_u32(frame, static_cast<uint32_t>(record.payload.size()));
  if (auto s = put(frame); !s) return s;
  ++records_;
  return put(record.payload);
}

Result<std::string> BackupWriter::commit() {
  if (auto s = put("E"); !s) return s.error();
  std::string digest = sha_.hex();
  // Appended piece by piece: GCC 12 warns falsely (stringop-overflow) on the concatenation.
  std::string trailer = json::serialize(json::object{{"keys", static_cast<int64_t>(records_)},
                                                     {"sha256", digest},
                                                     {"mac", crypto::hmac_sha256_hex(mac_key_, digest)}});
  buffer_.push_back('\n');
  buffer_.append(trailer);
  buffer_.push_back('\n');
  if (auto s = flush(); !s) return s.error();
  if (::fsync(fd_) != 0) return Error{fmt::format("cannot sync {}: {}", temp_, errno_text())};
  ::close(fd_);
  fd_ = -1;
  // link(), unlike rename(), never replaces a file another process created meanwhile.
  int linked = ::link(temp_.c_str(), path_.c_str());
  int link_errno = errno;
  ::unlink(temp_.c_str());
  if (linked != 0) {
    errno = link_errno;
    return Error{fmt::format("cannot create {}: {}", path_, errno_text())};
  }
  auto dir = std::filesystem::path(path_).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return digest;
}

// ---- reading ----

VerifiedBackup::~VerifiedBackup() {
  if (!copy_.empty()) ::unlink(copy_.c_str());
}

std::unique_ptr<BackupReader> VerifiedBackup::reader() const { return std::make_unique<BackupReader>(copy_); }

Result<std::unique_ptr<VerifiedBackup>> verify_backup(const std::string& path, std::string_view encryption_key) {
  OpenFile file;
  if (auto s = open_regular(path, file); !s) return s.error();
  auto copy = private_copy();
  if (!copy) return copy.error();
  std::unique_ptr<VerifiedBackup> out(new VerifiedBackup());
  out->copy_ = copy->first;  // removed with `out` on every way out
  OpenFile copy_file;
  copy_file.f = copy->second;
  Reader r(file.f, file.size, copy_file.f);
  auto header = read_head(r, path);
  if (!header) return header.error();
  auto& s = out->summary_;
  s.header = std::move(*header);
  BackupRecord rec;
  while (true) {
    auto next = read_record(r, rec);
    if (next == Next::End) break;
    if (next == Next::Broken) return Error{fmt::format("{}: record {} is cut short or malformed", path, s.keys + 1)};
    ++s.keys;
  }
  s.sha256 = r.digest();
  auto trailer = r.trailer();
  if (auto checked = check_trailer(path, trailer, s, encryption_key); !checked) return checked.error();
  if (r.copy_failed() || std::fflush(copy_file.f) != 0) return Error{"cannot write the private copy: disk full?"};
  s.bytes = file.size;
  return out;
}

Result<json::object> read_backup_header(const std::string& path) {
  OpenFile file;
  if (auto s = open_regular(path, file); !s) return s.error();
  Reader r(file.f, file.size);
  return read_head(r, path);
}

struct BackupReader::State {
  OpenFile file;
  std::unique_ptr<Reader> reader;
};

BackupReader::BackupReader(const std::string& path) : path_(path), state_(std::make_unique<State>()) {}
BackupReader::~BackupReader() = default;

Result<json::object> BackupReader::open() {
  if (auto s = open_regular(path_, state_->file); !s) return s.error();
  state_->reader = std::make_unique<Reader>(state_->file.f, state_->file.size);
  return read_head(*state_->reader, path_);
}

Result<bool> BackupReader::next(BackupRecord& record) {
  if (!state_->reader) return Error{"the backup is not open"};
  switch (read_record(*state_->reader, record)) {
    case Next::Record: return true;
    case Next::End: return false;
    case Next::Broken: break;
  }
  return Error{fmt::format("{}: a record is malformed", path_)};
}

}  // namespace crs::ops
