#include "export/service.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <future>

#include "core/crypto.hpp"
#include "core/logging.hpp"
#include "core/time.hpp"
#include "export/files.hpp"

namespace crs::key_export {
namespace json = boost::json;

namespace {

std::chrono::hours check_interval(const config::ApiExportConfig& c) {
  return std::chrono::hours(std::max(1, c.autoCleanup.checkInterval));
}

// The file reads of downloads, on the export thread.
Task<Result<std::string>> pread_chunk(int fd, uint64_t offset, size_t max) {
  std::string chunk(max, '\0');
  ssize_t n = 0;
  do {
    n = ::pread(fd, chunk.data(), max, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  if (n < 0) co_return Error{std::string("read failed: ") + std::strerror(errno)};
  chunk.resize(static_cast<size_t>(n));
  co_return chunk;
}

store::HashRecord stopped_fields() {
  return store::HashRecord{{"error", "the instance stopped before it ran this export"}, {"finishedAt", iso8601_utc()}};
}

}  // namespace

ExportService::ExportService(const config::ApiExportConfig& config, store::RedisOptions redis, std::string instance,
                             query::QuerySettings reads)
    : config_(config), instance_(std::move(instance)), reads_(std::move(reads)), guard_(asio::make_work_guard(context_)),
      redis_(context_.get_executor(), std::move(redis)), renew_timer_(context_), cleanup_timer_(context_) {
  if (!config_.enabled) {
    unavailable_ = "API key export is disabled (apiExport.enabled = false)";
    return;
  }
  auto dir = prepare_output_dir(config_.outputDir);
  if (!dir) {
    unavailable_ = dir.error().message;
    spdlog::error("export: not started: {}", unavailable_);
    api_export_log().error("export: not started: {}", unavailable_);
    return;
  }
  dir_ = *dir;
}

ExportService::~ExportService() { stop(); }

SpecPolicy ExportService::policy() const { return SpecPolicy{config_.supportedFormats, config_.sanitizeData}; }

void ExportService::start() {
  if (!unavailable_.empty() || thread_.joinable()) return;
  redis_.start();
  asio::co_spawn(context_, renew_leases(), asio::detached);
  if (config_.autoCleanup.enabled) asio::co_spawn(context_, cleanup_loop(), asio::detached);
  thread_ = std::thread([this] {
    // Below the I/O threads, like the usage aggregator: a waking I/O thread preempts an export.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    context_.run();
  });
}

void ExportService::stop() {
  if (!thread_.joinable()) return;
  auto finished = std::make_shared<std::promise<void>>();
  auto future = finished->get_future();
  asio::co_spawn(context_, [this, finished]() -> Task<void> {
    stopping_ = true;
    renew_timer_.cancel();
    cleanup_timer_.cancel();
    co_await fail_queued();
    // The running export stops at its next batch and fails its task; a batch takes
    // milliseconds (seconds with a long usage period).
    asio::steady_timer wait(context_);
    for (int i = 0; i < 200 && running_; ++i) {
      wait.expires_after(std::chrono::milliseconds(50));
      co_await wait.async_wait(use_nothrow);
    }
    redis_.stop();
    finished->set_value();
  }, asio::detached);
  future.wait_for(std::chrono::seconds(12));
  guard_.reset();
  context_.stop();
  thread_.join();
}

void ExportService::enqueue(ExportTask task, ExportSpec spec) {
  ++queued_;
  asio::post(context_, [this, job = Job{std::move(task), std::move(spec)}]() mutable {
    live_.push_back(job.task.id);
    queue_.push_back(std::move(job));
    if (!running_) asio::co_spawn(context_, run_queue(), asio::detached);
  });
}

Task<void> ExportService::run_queue() {
  running_ = true;
  while (!queue_.empty() && !stopping_) {
    Job job = std::move(queue_.front());
    queue_.pop_front();
    RunOptions options;
    options.dir = dir_;
    options.batch_size = static_cast<size_t>(std::max(1, config_.batchSize));
    options.stopping = &stopping_;
    options.reads = reads_;
    std::string id = job.task.id;
    co_await run_export(redis_, std::move(job.task), std::move(job.spec), std::move(options));
    std::erase(live_, id);
    --queued_;
  }
  running_ = false;
}

Task<void> ExportService::fail_queued() {
  TaskStore tasks(redis_);
  while (!queue_.empty()) {
    std::string id = queue_.front().task.id;
    queue_.pop_front();
    std::erase(live_, id);
    --queued_;
    auto failed = co_await tasks.transition(id, "|queued|", "failed", stopped_fields(), kEndedTaskKeepSeconds);
    if (failed && failed->applied) api_export_log().warn("export {} failed: the instance stopped before it ran", id);
  }
}

// The leases of the tasks this instance holds; a task's lease runs out only if this stops.
Task<void> ExportService::renew_leases() {
  TaskStore tasks(redis_);
  while (!stopping_) {
    renew_timer_.expires_after(std::chrono::milliseconds(kLeaseRenewMs));
    co_await renew_timer_.async_wait(use_nothrow);
    if (stopping_) break;
    std::vector<std::string> ids = live_;
    // A renewal lost to a Redis blip is made again at the next tick, well within the lease.
    for (const auto& id : ids) (void)co_await tasks.transition(id, "|queued|running|", "", store::HashRecord());
  }
}

Task<void> ExportService::cleanup_loop() {
  asio::steady_timer wait(context_);
  while (!stopping_ && !redis_.connected()) {
    wait.expires_after(std::chrono::milliseconds(100));
    co_await wait.async_wait(use_nothrow);
  }
  bool first = true;
  while (!stopping_) {
    auto due = std::chrono::steady_clock::now() + check_interval(config_);
    co_await clean_once(true);
    {
      std::lock_guard lock(status_mutex_);
      next_run_at_ = iso8601_utc(std::chrono::system_clock::now() + check_interval(config_));
    }
    if (std::exchange(first, false)) {
      // Once more when the leases of exports this instance ran before a crash have run out:
      // their temporary files go now, not a checkInterval later.
      cleanup_timer_.expires_after(std::chrono::milliseconds(kLeaseMs + 2000));
      co_await cleanup_timer_.async_wait(use_nothrow);
      if (stopping_) break;
      co_await clean_once(false);
    }
    cleanup_timer_.expires_at(due);
    co_await cleanup_timer_.async_wait(use_nothrow);
  }
}

// `scheduled`: a run of the schedule (shown in cleanup_status); the extra sweep after start
// shows only if it removed something.
Task<void> ExportService::clean_once(bool scheduled) {
  std::string holder = instance_ + ":" + crypto::random_hex(8);
  std::string error;
  int64_t removed = 0;
  auto locked = co_await take_cleanup_lock(redis_, holder);
  if (!locked) {
    error = locked.error().message;
  } else if (!*locked) {
    error = "another instance was cleaning";
  } else {
    auto report = co_await clean_exports(redis_, dir_, int64_t{config_.autoCleanup.maxAgeHours} * 3600 * 1000, false);
    co_await release_cleanup_lock(redis_, holder);
    if (report) {
      removed = static_cast<int64_t>(report->removed.size());
    } else {
      error = report.error().message;
    }
  }
  if (!error.empty()) api_export_log().warn("cleanup: {}", error);
  if (!scheduled && removed == 0) co_return;
  std::lock_guard lock(status_mutex_);
  last_run_at_ = iso8601_utc();
  last_removed_ = removed;
  last_error_ = error;
}

Task<Result<std::string>> ExportService::read(int fd, uint64_t offset, size_t max) {
  co_return co_await asio::co_spawn(context_, pread_chunk(fd, offset, max), asio::use_awaitable);
}

json::object ExportService::cleanup_status() const {
  std::lock_guard lock(status_mutex_);
  auto or_null = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
  json::object o;
  o["enabled"] = config_.autoCleanup.enabled;
  o["maxAgeHours"] = config_.autoCleanup.maxAgeHours;
  o["checkIntervalHours"] = config_.autoCleanup.checkInterval;
  o["lastRunAt"] = or_null(last_run_at_);
  o["nextRunAt"] = or_null(next_run_at_);
  o["lastRemoved"] = last_removed_ < 0 ? json::value(nullptr) : json::value(last_removed_);
  o["lastError"] = or_null(last_error_);
  return o;
}

}  // namespace crs::key_export
