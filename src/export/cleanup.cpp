#include "export/cleanup.hpp"

#include <chrono>

#include "core/logging.hpp"
#include "core/time.hpp"
#include "export/files.hpp"
#include "export/task_store.hpp"
#include "store/redis_script.hpp"

namespace crs::key_export {

namespace {

constexpr int64_t kLockMs = 10 * 60 * 1000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const store::Script& release_script() {
  static const store::Script s(R"LUA(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)LUA");
  return s;
}

std::vector<std::string> one(std::string s) {
  std::vector<std::string> v;
  v.push_back(std::move(s));
  return v;
}

store::HashRecord expired_fields() { return store::HashRecord{{"expiredAt", iso8601_utc()}}; }

// A finished file whose task is gone or ended without it (failed, cancelled, expired): no one
// can download or expire it any more, so it goes whatever its age.
Task<Result<bool>> orphaned(TaskStore& tasks, const DirEntry& e) {
  auto found = co_await tasks.get(e.parsed.task_id, false);
  if (!found) co_return found.error();
  if (!*found) co_return true;
  const auto& state = (*found)->task.state;
  co_return state != "done" && state != "running";
}

Task<Status> remove_orphan(const std::string& dir, const DirEntry& e, bool dry_run, CleanupReport& report) {
  report.removed.push_back(e.name);
  if (dry_run) co_return Ok{};
  remove_export_file(dir, e.name);
  api_export_log().info("cleanup: removed {} (its task is gone or did not finish)", e.name);
  co_return Ok{};
}

// A finished file past its age: removed, and its task expired.
Task<Status> expire_file(TaskStore& tasks, const std::string& dir, const DirEntry& e, bool dry_run,
                         CleanupReport& report) {
  report.removed.push_back(e.name);
  if (dry_run) co_return Ok{};
  remove_export_file(dir, e.name);
  api_export_log().info("cleanup: removed {} (older than the maximum age)", e.name);
  auto expired = co_await tasks.transition(e.parsed.task_id, "|done|", "expired", expired_fields(), kEndedTaskKeepSeconds);
  if (!expired) co_return expired.error();
  if (expired->applied) report.expired.push_back(e.parsed.task_id);
  co_return Ok{};
}

// Whether the task of a file still runs: live with a lease that has not run out. A dry run only
// reads; otherwise an abandoned task is failed on the way.
bool still_running(const std::optional<TaskStore::Found>& found, bool dry_run, int64_t now) {
  if (!found || !found->task.live()) return false;
  return !dry_run || found->task.lease_until_ms >= now;
}

// A temporary file whose export is not running (any more): removed.
Task<Status> clean_temporary(TaskStore& tasks, const std::string& dir, const DirEntry& e, bool dry_run,
                             CleanupReport& report) {
  auto found = co_await tasks.get(e.parsed.task_id, !dry_run);
  if (!found) co_return found.error();
  if (still_running(*found, dry_run, now_ms())) {
    ++report.kept;
    co_return Ok{};
  }
  report.removed.push_back(e.name);
  if (dry_run) co_return Ok{};
  remove_export_file(dir, e.name);
  api_export_log().info("cleanup: removed {} (the export is not running)", e.name);
  co_return Ok{};
}

}  // namespace

Task<Result<CleanupReport>> clean_exports(store::RedisClient& redis, std::string dir, int64_t max_age_ms,
                                          bool dry_run) {
  CleanupReport report;
  TaskStore tasks(redis);
  int64_t oldest = now_ms() - max_age_ms;
  for (const auto& e : list_export_files(dir)) {
    Status s = Ok{};
    if (e.parsed.temporary) {
      s = co_await clean_temporary(tasks, dir, e, dry_run, report);
    } else if (e.mtime_ms < oldest) {
      s = co_await expire_file(tasks, dir, e, dry_run, report);
    } else {
      auto orphan = co_await orphaned(tasks, e);
      if (!orphan) co_return orphan.error();
      if (*orphan) s = co_await remove_orphan(dir, e, dry_run, report);
      else ++report.kept;
    }
    if (!s) co_return s.error();
  }
  co_return report;
}

Task<Result<bool>> take_cleanup_lock(store::RedisClient& redis, std::string holder) {
  auto reply = co_await redis.command(
      store::make_command("SET", std::string(kCleanupLock), holder, "NX", "PX", std::to_string(kLockMs)));
  if (!reply) co_return reply.error();
  co_return !reply->is_nil() && !reply->is_error();
}

Task<void> release_cleanup_lock(store::RedisClient& redis, std::string holder) {
  // Best effort: a lock left behind expires after kLockMs.
  (void)co_await store::run_script(redis, release_script(),
                                   release_script().call(one(std::string(kCleanupLock)), one(holder)));
}

}  // namespace crs::key_export
