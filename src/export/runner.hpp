#pragma once
// Runs one export task: the keys in creation order, `batch_size` at a time (each batch one
// pipelined read of the keys and of the usage asked for), filtered, written to the file as
// they come, with progress and the lease in Redis after every batch. Memory holds one batch.
// A task cancelled or failed by someone else meanwhile stops at the next batch and leaves no
// file.
#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

#include "export/spec.hpp"
#include "export/task_store.hpp"
#include "query/query_runner.hpp"
#include "store/redis_client.hpp"

namespace crs::key_export {

struct RunOptions {
  std::string dir;          // the prepared output directory
  size_t batch_size = 100;  // apiExport.batchSize
  query::QuerySettings reads;  // how a batch's reads go to Redis (queryOptimizer.*)
  std::function<void(const ExportTask&)> on_progress;  // after each batch
  const std::atomic<bool>* stopping = nullptr;         // the instance shuts down: fail the task
};

// Runs a queued task to its end (done, failed or cancelled) and returns it as it ended. Every
// export, whatever its end, is one line in the api-export log.
Task<ExportTask> run_export(store::RedisClient& redis, ExportTask task, ExportSpec spec, RunOptions options);

}  // namespace crs::key_export
