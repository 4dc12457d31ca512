#include "ops/backup_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace crs::ops {
namespace json = boost::json;
namespace {

constexpr std::string_view kMagic = "CRS-BACKUP ";
constexpr size_t kMaxName = 1 << 16;
constexpr size_t kMaxPayload = 512u << 20;  // Redis's own limit on a string

std::string errno_text() { return std::strerror(errno); }

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void put_i64(std::string& out, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((u >> shift) & 0xff));
}

// A backup file read in order, every byte before the trailer going into the checksum.
class Reader {
 public:
  explicit Reader(const std::string& path) : in_(path, std::ios::binary) {}
  bool is_open() const { return in_.is_open(); }
  bool read(char* to, size_t n, bool hashed = true) {
    if (!in_.read(to, static_cast<std::streamsize>(n))) return false;
    if (hashed) sha_.update(std::string_view(to, n));
    bytes_ += n;
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
  std::string digest() { return sha_.hex(); }
  std::string rest() {  // the trailer, not hashed
    std::string out((std::istreambuf_iterator<char>(in_)), std::istreambuf_iterator<char>());
    bytes_ += out.size();
    return out;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::ifstream in_;
  crypto::Sha256 sha_;
  uint64_t bytes_ = 0;
};

Result<json::object> read_head(Reader& r, const std::string& path) {
  if (!r.is_open()) return Error{fmt::format("cannot open {}: {}", path, errno_text())};
  std::string line;
  if (!r.read_line(line, 64) || !line.starts_with(kMagic))
    return Error{fmt::format("{} is not a crs backup (no CRS-BACKUP line)", path)};
  int format = std::atoi(line.c_str() + kMagic.size());
  if (format < 1 || format > kBackupFormat)
    return Error{fmt::format("{} is backup format {}; this crs reads format {} and older (upgrade crs to restore it)",
                             path, line.substr(kMagic.size()), kBackupFormat)};
  if (!r.read_line(line, 1 << 20)) return Error{fmt::format("{}: the header is cut short", path)};
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
  if (!r.u32(name_len) || name_len == 0 || name_len > kMaxName) return Next::Broken;
  rec.name.resize(name_len);
  if (!r.read(rec.name.data(), name_len) || !r.i64(rec.expire_at_ms)) return Next::Broken;
  if (!r.u32(payload_len) || payload_len > kMaxPayload) return Next::Broken;
  rec.payload.resize(payload_len);
  if (!r.read(rec.payload.data(), payload_len)) return Next::Broken;
  return Next::Record;
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

BackupWriter::~BackupWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

Status BackupWriter::open(const std::string& path, const json::object& header) {
  path_ = path;
  if (std::filesystem::exists(path)) return Error{fmt::format("{} exists: choose another --out", path)};
  temp_ = fmt::format("{}.tmp-{}", path, ::getpid());
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
  std::string trailer = json::serialize(json::object{{"keys", static_cast<int64_t>(records_)}, {"sha256", digest}});
  buffer_.push_back('\n');
  buffer_.append(trailer);
  buffer_.push_back('\n');
  if (auto s = flush(); !s) return s.error();
  if (::fsync(fd_) != 0) return Error{fmt::format("cannot sync {}: {}", temp_, errno_text())};
  ::close(fd_);
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    ::unlink(temp_.c_str());
    return Error{fmt::format("cannot rename {} to {}: {}", temp_, path_, errno_text())};
  }
  auto dir = std::filesystem::path(path_).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return digest;
}

Result<BackupSummary> verify_backup(const std::string& path) {
  Reader r(path);
  auto header = read_head(r, path);
  if (!header) return header.error();
  BackupSummary out;
  out.header = std::move(*header);
  BackupRecord rec;
  while (true) {
    auto next = read_record(r, rec);
    if (next == Next::End) break;
    if (next == Next::Broken) return Error{fmt::format("{}: record {} is cut short or malformed", path, out.keys + 1)};
    ++out.keys;
  }
  out.sha256 = r.digest();
  std::string trailer = r.rest();
  boost::system::error_code ec;
  auto parsed = json::parse(trailer, ec);
  if (ec || !parsed.is_object() || trailer.empty() || trailer.front() != '\n')
    return Error{fmt::format("{}: the trailer (count and checksum) is missing: the file is incomplete", path)};
  auto& t = parsed.as_object();
  auto* sha = t.if_contains("sha256");
  auto* keys = t.if_contains("keys");
  if (!sha || !sha->is_string() || !crypto::equal_constant_time(sha->get_string(), out.sha256))
    return Error{fmt::format("{}: checksum mismatch: the file was changed or damaged", path)};
  if (!keys || !keys->is_int64() || static_cast<uint64_t>(keys->get_int64()) != out.keys)
    return Error{fmt::format("{}: the record count does not match its trailer", path)};
  out.bytes = r.bytes();
  return out;
}

struct BackupReader::State {
  explicit State(const std::string& path) : reader(path) {}
  Reader reader;
};

BackupReader::BackupReader(const std::string& path) : path_(path), state_(std::make_unique<State>(path)) {}
BackupReader::~BackupReader() = default;

Result<json::object> BackupReader::open() { return read_head(state_->reader, path_); }

Result<bool> BackupReader::next(BackupRecord& record) {
  switch (read_record(state_->reader, record)) {
    case Next::Record: return true;
    case Next::End: return false;
    case Next::Broken: break;
  }
  return Error{fmt::format("{}: a record is malformed", path_)};
}

}  // namespace crs::ops
