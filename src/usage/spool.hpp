#pragma once
// What a request leaves in Redis when Redis could not take it: the completion (usage event and
// charge) or the release of a lease. Kept in memory and in an append-only file under the data
// directory (0600, fsync'd in batches by a thread of its own, so no I/O thread waits on the
// disk), and sent again once Redis answers: nothing billable is lost to an outage or a blip,
// and no slot stays held past it.
//
// A completion is replayed through a script that marks its request id first (applied once,
// however often it is replayed); one whose first attempt may have reached Redis (the reply was
// lost, not the request) is applied only if its lease is still held. Releases are idempotent.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/net.hpp"
#include "store/redis_client.hpp"
#include "store/redis_codec.hpp"

namespace crs::usage {

struct SpoolEntry {
  bool completion = false;   // a completion script call; else an idempotent command (ZREM)
  bool ambiguous = false;    // it may have reached Redis (the connection dropped after sending)
  std::string request_id;    // completions: the marker that makes a replay apply once
  store::RedisCommand command;
  uint64_t seq = 0;          // set by the spool (not stored): which entries a replay settled

  std::string encode() const;  // one record of the file
  // Parses one record at the start of `text`; consumes it. nullopt: incomplete or damaged.
  static std::optional<SpoolEntry> decode(std::string_view& text);
};

// True when a Redis call failed before its command could have been applied (not sent, or
// refused by a replica).
bool failed_before_sending(const std::string& error_message);

class UsageSpool {
 public:
  // `path`: the file; entries already in it (left by an earlier run) are loaded.
  UsageSpool(std::string path, size_t max_entries = 1'000'000);
  ~UsageSpool();
  UsageSpool(const UsageSpool&) = delete;
  UsageSpool& operator=(const UsageSpool&) = delete;

  // Thread-safe; returns at once (the file is written by the spool's thread).
  void add(SpoolEntry entry);
  size_t size() const;

  // How a spooled entry is sent again (limits/ builds the replay form of a completion).
  using ReplayForm = std::function<store::RedisCommand(const SpoolEntry&)>;
  // Sends what is spooled, oldest first, one batch; nothing if Redis cannot be reached (it
  // waits for the next call). Returns how many were settled. Replays may overlap (any thread
  // may call it): every record is safe to send twice, and each is removed once.
  Task<size_t> replay(store::RedisClient& redis, const ReplayForm& form);
  // Calls replay() whenever there is something to send and `redis` is connected, until stop().
  Task<void> replay_loop(store::RedisClient& redis, ReplayForm form, std::chrono::milliseconds every);
  void stop();

  const std::string& path() const { return path_; }

 private:
  void run();              // the file thread
  void rewrite_locked();   // the file from the entries in memory (after replays)

  std::string path_;
  size_t max_entries_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<SpoolEntry> entries_;   // oldest first
  std::vector<std::string> to_append_;
  bool rewrite_ = false;
  bool stopping_ = false;
  uint64_t dropped_ = 0;
  uint64_t next_seq_ = 1;
  std::unique_ptr<asio::steady_timer> loop_timer_;
  std::thread thread_;
};

}  // namespace crs::usage
