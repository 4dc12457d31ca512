#pragma once
// Export tasks in Redis: export:task:<id> (a hash: state, progress, spec, file, checksum, who,
// times, error, lease), the index export:tasks (a sorted set by creation time), and
// export:stats:<day> / export:stats:total (exports, rows and bytes per format).
//
// A queued or running task carries a lease (leaseUntil, ms) that the instance running it
// renews; whoever reads a task whose lease has run out marks it failed (one script, so two
// readers cannot disagree), and the instance that died cannot finish it afterwards: every
// change is a transition allowed only from the states it names.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.hpp"
#include "export/spec.hpp"
#include "store/hash_record.hpp"
#include "store/redis_client.hpp"

namespace crs::key_export {

inline constexpr int64_t kLeaseMs = 20000;           // a live task's lease ...
inline constexpr int64_t kLeaseRenewMs = 5000;       // ... renewed this often
inline constexpr int64_t kEndedTaskKeepSeconds = 7 * 86400;  // failed, cancelled, expired tasks

std::string task_key(const std::string& id);
inline constexpr const char* kTaskIndex = "export:tasks";
inline constexpr const char* kCleanupLock = "export:cleanup:lock";

struct ExportTask {
  std::string id;
  std::string state;  // queued, running, done, failed, cancelled, expired
  std::string format;
  std::string spec;   // spec_json, serialized
  bool sanitized = true;
  std::string requested_by;
  std::string instance;  // host:port (or "cli@host") that runs it
  std::string created_at, started_at, finished_at;
  int64_t created_ms = 0;
  int64_t total = 0, scanned = 0, rows = 0, batches = 0;
  std::string file;      // name in apiExport.outputDir once done
  uint64_t size = 0;
  std::string sha256;
  std::string error;
  int64_t lease_until_ms = 0;

  bool live() const { return state == "queued" || state == "running"; }
};

// A queued task for `spec`, asked by `who`, to run on `instance`.
ExportTask new_task(const ExportSpec& spec, const std::string& who, const std::string& instance);

store::HashRecord to_hash(const ExportTask& t);
ExportTask task_of(const store::HashRecord& r);
// The admin view: every field with progress as {scanned, total, rows, percent}; never a path.
boost::json::object task_json(const ExportTask& t);

struct Transition {
  bool applied = false;
  std::string state;  // after the call; "" if the task does not exist
};

class TaskStore {
 public:
  explicit TaskStore(store::RedisClient& redis) : redis_(redis) {}

  Task<Status> create(ExportTask task);
  // The task, after failing it if its lease ran out (`failed_now` says so; the caller removes
  // its temporary file). `fail_abandoned` false: only reads (a dry run).
  struct Found {
    ExportTask task;
    bool failed_now = false;
  };
  Task<Result<std::optional<Found>>> get(std::string id, bool fail_abandoned = true);
  // The newest `limit` tasks, each checked as get() does; ids whose task has expired leave the index.
  Task<Result<std::vector<Found>>> list(size_t limit);

  // Moves the task from one of `from` ("|queued|running|") to `to` ("" keeps the state) and
  // sets `fields`; with `expire_seconds` > 0 the task expires that long after. Staying live
  // (`to` running or "") renews the lease.
  Task<Result<Transition>> transition(std::string id, std::string from, std::string to, store::HashRecord fields,
                                      int64_t expire_seconds = 0);
  // queued/running -> failed when its lease has run out (by Redis' clock).
  Task<Result<Transition>> fail_if_abandoned(std::string id);
  Task<Status> remove(std::string id);

  Task<Status> count(std::string format, int64_t rows, uint64_t bytes);
  // {total: {format: {exports, rows, bytes}}, days: {date: {...}}} for the last `days` days.
  Task<Result<boost::json::object>> stats(int days);

 private:
  store::RedisClient& redis_;
};

std::string abandoned_reason();

}  // namespace crs::key_export
