#pragma once
// An append-only journal of one I/O thread: what its requests leave to write to Redis, on disk
// before their clients see the end of their answers, so a kill -9 or a Redis outage loses
// nothing (limits/metering.hpp). Records are buffered and written with one write() per turn of
// the event loop (a group commit into the page cache: it survives the process, not a power
// loss; see docs/architecture.md).
//
// Files are segments, <dir>/<prefix><token>-<n>.log. A unit (a batch of records) belongs to
// the segment it was opened in; a segment is deleted once it is no longer written to and all
// its units are settled (Redis has them). Segments a crashed run left behind are read at the
// next start (leftovers()) and adopted: deleted once what they held is settled. Each segment is
// held under an exclusive flock while its process may still need it, so a process that starts
// beside a live one (a takeover) never adopts that one's files.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace crs::usage {

// Fields of a record: "<length>:<bytes>", so any byte is safe (event lines hold tabs).
void put_field(std::string& out, std::string_view field);
// Takes one field from the front of `text`; false when it is cut or damaged.
bool take_field(std::string_view& text, std::string& out);
bool take_number(std::string_view& text, size_t& out, char end);
// Writes all of `data` to `fd`; false on an error (errno tells which).
bool write_all(int fd, std::string_view data);

class Journal {
 public:
  // `prefix` names this instance's files apart from other instances sharing `dir` (it holds the
  // port); `token` this run's and this I/O thread's files apart from any other.
  Journal(std::string dir, std::string prefix, std::string token, size_t segment_bytes = size_t{4} << 20);
  ~Journal();  // writes what is buffered; deletes the current segment if nothing in it is unsettled
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Buffers bytes for the next write().
  std::string& buffer() { return buffer_; }
  bool has_buffered() const { return !buffer_.empty(); }
  // One write() of the buffer to the current segment (a failure is logged; the records still
  // go to Redis, only their copy on disk is missing).
  void write();

  // A unit opens in the current segment (its number is returned) and is settled later.
  uint64_t open_unit();
  void settle_unit(uint64_t segment);
  // At a unit boundary: a full segment is closed and the next one begun.
  void rotate_if_full();

  // Files a run left behind (those of `prefix` in `dir` that no live process holds), their text,
  // and the descriptor holding their lock.
  struct Leftover {
    std::string path;
    std::string text;
    int fd = -1;
  };
  static std::vector<Leftover> leftovers(const std::string& dir, const std::string& prefix);
  // Takes over files read by leftovers(), with `units` unsettled units in them: deleted when
  // those are settled (settle_unit(kAdopted)).
  static constexpr uint64_t kAdopted = 0;
  void adopt(std::vector<Leftover> files, size_t units);

  std::string current_path() const;

 private:
  struct Segment {
    std::vector<std::string> paths;
    std::vector<int> fds;  // open (and locked) until the segment is deleted
    size_t unsettled = 0;
  };
  void open_segment();
  void delete_if_done(uint64_t n);

  std::string dir_, prefix_, token_;
  size_t segment_bytes_;
  std::string buffer_;
  int fd_ = -1;
  uint64_t current_ = 0;
  size_t written_ = 0;   // bytes in the current segment
  std::map<uint64_t, Segment> segments_;
  uint64_t write_failures_ = 0;
};

}  // namespace crs::usage
