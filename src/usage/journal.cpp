#include "usage/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace crs::usage {

void put_field(std::string& out, std::string_view s) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, s.size());
  out.append(digits, end);
  out += ':';
  out += s;
}

bool take_number(std::string_view& text, size_t& out, char end) {
  auto stop = text.find(end);
  if (stop == std::string_view::npos) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + stop, out);
  if (ec != std::errc() || p != text.data() + stop) return false;
  text.remove_prefix(stop + 1);
  return true;
}

bool take_field(std::string_view& text, std::string& out) {
  size_t n = 0;
  if (!take_number(text, n, ':') || text.size() < n) return false;
  out.assign(text.substr(0, n));
  text.remove_prefix(n);
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Journal::Journal(std::string dir, std::string prefix, std::string token, size_t segment_bytes)
    : dir_(std::move(dir)), prefix_(std::move(prefix)), token_(std::move(token)), segment_bytes_(segment_bytes) {
  open_segment();
}

Journal::~Journal() {
  write();
  // The current segment too, when everything in it reached Redis: a clean stop leaves no file.
  for (const auto& [n, segment] : segments_) {
    if (segment.unsettled == 0)
      for (const auto& p : segment.paths) ::unlink(p.c_str());
    for (int fd : segment.fds) ::close(fd);
  }
}

std::string Journal::current_path() const {
  return dir_ + "/" + prefix_ + token_ + "-" + std::to_string(current_) + ".log";
}

void Journal::open_segment() {
  ++current_;
  written_ = 0;
  std::string path = current_path();
  segments_[current_].paths.push_back(path);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    spdlog::error("usage journal {}: cannot open: {}", path, std::strerror(errno));
    return;
  }
  ::flock(fd_, LOCK_EX | LOCK_NB);  // a new file: nobody else holds it
  segments_[current_].fds.push_back(fd_);
}

// A write to the page cache, on the I/O thread: the record must be in the kernel before the
// client sees the end of its answer, and handing it to another thread would put a thread
// wake-up on every request's path instead.
void Journal::write() {
  if (buffer_.empty()) return;
  if (fd_ >= 0 && write_all(fd_, buffer_)) {
    written_ += buffer_.size();
    buffer_.clear();
    return;
  }
  if (write_failures_++ % 1000 == 0)
    spdlog::error("usage journal {}: write failed ({}); records go to Redis without their copy on disk",
                  current_path(), fd_ < 0 ? "not open" : std::strerror(errno));
  buffer_.clear();
  // What follows goes to a new segment: a cut record would hide every later one of this file.
  uint64_t old = current_;
  open_segment();
  delete_if_done(old);
}

uint64_t Journal::open_unit() {
  ++segments_[current_].unsettled;
  return current_;
}

void Journal::settle_unit(uint64_t n) {
  auto it = segments_.find(n);
  if (it == segments_.end() || it->second.unsettled == 0) return;
  --it->second.unsettled;
  delete_if_done(n);
}

void Journal::delete_if_done(uint64_t n) {
  auto it = segments_.find(n);
  if (it == segments_.end() || it->second.unsettled > 0 || n == current_) return;
  for (const auto& p : it->second.paths) ::unlink(p.c_str());
  for (int fd : it->second.fds) ::close(fd);
  segments_.erase(it);
}

void Journal::rotate_if_full() {
  if (written_ + buffer_.size() < segment_bytes_) return;
  write();
  uint64_t old = current_;
  open_segment();
  delete_if_done(old);
}

void Journal::adopt(std::vector<Leftover> files, size_t units) {
  auto& s = segments_[kAdopted];
  for (auto& f : files) {
    s.paths.push_back(std::move(f.path));
    if (f.fd >= 0) s.fds.push_back(f.fd);
  }
  s.unsettled += units;
  delete_if_done(kAdopted);
}

std::vector<Journal::Leftover> Journal::leftovers(const std::string& dir, const std::string& prefix) {
  std::vector<Leftover> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix) || !name.ends_with(".log") || !entry.is_regular_file(ec)) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a live process's (a takeover's predecessor)
      ::close(fd);
      continue;
    }
    std::string text;
    char chunk[65536];
    for (ssize_t n; (n = ::read(fd, chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<size_t>(n));
    out.push_back(Leftover{entry.path().string(), std::move(text), fd});
  }
  // Oldest first (by modification time), so batches are sent again in about their order.
  std::sort(out.begin(), out.end(), [](const Leftover& a, const Leftover& b) {
    std::error_code e;
    return std::filesystem::last_write_time(a.path, e) < std::filesystem::last_write_time(b.path, e);
  });
  return out;
}

}  // namespace crs::usage
