#pragma once
// The export subsystem of one `crs serve`: a thread of its own (file writes and reads block,
// so they never run on an I/O thread) with its own Redis connection, a queue of the tasks this
// instance accepted (run one at a time), the lease renewal of those tasks, and the cleanup
// every apiExport.autoCleanup.checkInterval hours (one instance at a time).
//
// It refuses to run, with the reason, when apiExport.enabled is false or the output directory
// is not the process user's alone: the admin routes then answer 404 or 503 with that reason.
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/json/object.hpp>

#include "config/config.hpp"
#include "export/cleanup.hpp"
#include "export/runner.hpp"
#include "export/spec.hpp"
#include "export/task_store.hpp"
#include "store/redis_client.hpp"

namespace crs::key_export {

inline constexpr size_t kMaxQueuedExports = 16;  // per instance, running one included

class ExportService {
 public:
  ExportService(const config::ApiExportConfig& config, store::RedisOptions redis, std::string instance,
                query::QuerySettings reads = {});
  ~ExportService();
  ExportService(const ExportService&) = delete;
  ExportService& operator=(const ExportService&) = delete;

  void start();
  // Queued tasks are failed (this instance will not run them), the running one stops at its
  // next batch and is failed; then the thread ends.
  void stop();

  bool enabled() const { return config_.enabled; }
  // Why exports cannot run here, "" when they can.
  const std::string& unavailable() const { return unavailable_; }
  const std::string& dir() const { return dir_; }
  const std::string& instance() const { return instance_; }
  SpecPolicy policy() const;

  // Thread-safe. False when the queue is full (kMaxQueuedExports).
  bool has_room() const { return queued_.load() < kMaxQueuedExports; }
  size_t queued() const { return queued_.load(); }  // queued or running here
  void enqueue(ExportTask task, ExportSpec spec);

  // Reads up to `max` bytes of an open export file at `offset`, on the export thread.
  Task<Result<std::string>> read(int fd, uint64_t offset, size_t max);

  // {enabled, maxAgeHours, checkIntervalHours, lastRunAt, nextRunAt, lastRemoved, lastError}
  boost::json::object cleanup_status() const;

 private:
  struct Job {
    ExportTask task;
    ExportSpec spec;
  };
  Task<void> run_queue();
  Task<void> renew_leases();
  Task<void> cleanup_loop();
  Task<void> clean_once(bool scheduled);
  Task<void> fail_queued();

  const config::ApiExportConfig& config_;
  std::string instance_;
  query::QuerySettings reads_;
  std::string dir_;
  std::string unavailable_;
  asio::io_context context_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  store::RedisClient redis_;
  std::thread thread_;

  std::deque<Job> queue_;            // on the export thread only
  std::vector<std::string> live_;    // ids queued or running here (export thread only)
  bool running_ = false;
  std::atomic<size_t> queued_{0};
  std::atomic<bool> stopping_{false};
  asio::steady_timer renew_timer_;
  asio::steady_timer cleanup_timer_;

  mutable std::mutex status_mutex_;
  std::string last_run_at_, next_run_at_, last_error_;
  int64_t last_removed_ = -1;
};

}  // namespace crs::key_export
