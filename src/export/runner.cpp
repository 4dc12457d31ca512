#include "export/runner.hpp"

#include <boost/json.hpp>

#include "core/logging.hpp"
#include "core/time.hpp"
#include "export/files.hpp"
#include "export/key_cursor.hpp"
#include "export/rows.hpp"
#include "keys/key_fields.hpp"
#include "metrics/metrics.hpp"
#include "store/keyspace.hpp"

namespace crs::key_export {
namespace json = boost::json;
namespace ks = store::keyspace;

namespace {

// Commands per pipeline at most: a period of a year is 366 reads per key.
constexpr size_t kMaxPipeline = 4096;

Status reply_status(const store::RedisReply& r) {
  if (r.is_error()) return Error{"redis: " + r.str};
  return Ok{};
}

size_t reads_per_key(const ExportSpec& spec) {
  return 1 + (spec.needs_totals() ? 1 : 0) + (spec.needs_period() ? spec.usage.buckets.size() : 0);
}

// How many keys' reads go in one pipeline: at most kMaxPipeline commands.
size_t keys_per_pipeline(const ExportSpec& spec) { return std::max<size_t>(1, kMaxPipeline / reads_per_key(spec)); }

std::vector<store::RedisCommand> row_reads(const std::vector<std::string>& ids, size_t from, size_t to,
                                           const ExportSpec& spec) {
  auto g = spec.usage.period == Period::Month ? usage::Granularity::Month : usage::Granularity::Day;
  std::vector<store::RedisCommand> cmds;
  for (size_t i = from; i < to; ++i) {
    cmds.push_back(store::make_command("HGETALL", ks::api_key(ids[i])));
    if (spec.needs_totals())
      cmds.push_back(store::make_command("HGETALL", usage::all_time_key(usage::Subject::Key, ids[i])));
    if (spec.needs_period())
      for (const auto& p : spec.usage.buckets)
        cmds.push_back(store::make_command("HGETALL", usage::bucket_key(usage::Subject::Key, ids[i], g, p)));
  }
  return cmds;
}

// The rows of ids[from, to) that still exist, with the usage the spec needs. A Redis error on
// any read fails the export: a key or its usage must never be left out or read as zero.
Result<std::vector<KeyRow>> rows_of(const std::vector<store::RedisReply>& replies, const std::vector<std::string>& ids,
                                    size_t from, const ExportSpec& spec) {
  for (const auto& r : replies)
    if (auto s = reply_status(r); !s) return s.error();
  size_t per_key = reads_per_key(spec);
  std::vector<KeyRow> rows;
  for (size_t k = 0; k * per_key < replies.size(); ++k) {
    const auto* r = &replies[k * per_key];
    auto record = store::to_record(r[0]);
    if (record.empty()) continue;  // deleted meanwhile
    KeyRow row;
    row.key = keys::from_hash(record);
    if (row.key.id.empty()) row.key.id = ids[from + k];
    size_t next = 1;
    if (spec.needs_totals()) row.totals = usage::totals_of(store::to_record(r[next++]), true);
    if (spec.needs_period())
      for (size_t p = 0; p < spec.usage.buckets.size(); ++p) row.period.add(usage::totals_of(store::to_record(r[next++]), false));
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Run {
  Run(store::RedisClient& r, ExportTask& t, const ExportSpec& s, const RunOptions& o)
      : redis(r), task(t), spec(s), options(o), tasks(r), queries(o.reads) {}
  store::RedisClient& redis;
  ExportTask& task;
  const ExportSpec& spec;
  const RunOptions& options;
  TaskStore tasks;
  query::QueryRunner queries;
  ExportFile file;
  std::string now_iso = iso8601_utc();
};

store::HashRecord progress_fields(const ExportTask& t) {
  return store::HashRecord{{"total", std::to_string(t.total)},
                           {"scanned", std::to_string(t.scanned)},
                           {"rows", std::to_string(t.rows)},
                           {"batches", std::to_string(t.batches)}};
}

// Reads ids[from, to) in one pipeline and writes the rows that pass the filters.
Task<Status> write_chunk(Run& run, RowWriter& writer, const std::vector<std::string>& ids, size_t from, size_t to) {
  auto replies = co_await run.queries.run(run.redis, "export.rows", row_reads(ids, from, to, run.spec),
                                         reads_per_key(run.spec));
  if (!replies) co_return replies.error();
  auto rows = rows_of(*replies, ids, from, run.spec);
  if (!rows) co_return rows.error();
  for (const auto& row : *rows) {
    if (!matches(row, run.spec.filters, run.now_iso)) continue;
    if (auto s = run.file.write(writer.row(cells_of(row, run.spec, run.now_iso))); !s) co_return s.error();
    ++run.task.rows;
  }
  co_return Ok{};
}

std::string ended_state(const Transition& t) {
  if (t.state.empty()) return "removed";
  return t.state;
}

// Writes every row; returns "" when all were written, else why the export stopped (the task's
// new state when someone else ended it: "cancelled", "failed").
Task<Result<std::string>> write_rows(Run& run, RowWriter& writer) {
  auto bounds = co_await index_bounds(run.redis);
  if (!bounds) co_return bounds.error();
  run.task.total = bounds->total;
  Cursor cursor;
  size_t chunk = keys_per_pipeline(run.spec);
  while (!bounds->max_score.empty()) {
    if (run.options.stopping && run.options.stopping->load()) co_return Error{"the instance is shutting down"};
    auto ids = co_await next_ids(run.redis, cursor, *bounds, run.options.batch_size);
    if (!ids) co_return ids.error();
    if (ids->empty()) break;
    for (size_t from = 0; from < ids->size(); from += chunk) {
      auto written = co_await write_chunk(run, writer, *ids, from, std::min(ids->size(), from + chunk));
      if (!written) co_return written.error();
    }
    run.task.scanned += static_cast<int64_t>(ids->size());
    run.task.total = std::max(run.task.total, run.task.scanned);
    ++run.task.batches;
    auto kept = co_await run.tasks.transition(run.task.id, "|running|", "", progress_fields(run.task));
    if (!kept) co_return kept.error();
    if (!kept->applied) co_return ended_state(*kept);
    if (run.options.on_progress) run.options.on_progress(run.task);
  }
  co_return std::string();
}

Task<Status> finish(Run& run, RowWriter& writer) {
  if (auto s = run.file.write(writer.end(run.task.rows)); !s) co_return s.error();
  auto written = run.file.commit();
  if (!written) co_return written.error();
  run.task.file = written->name;
  run.task.size = written->size;
  run.task.sha256 = written->sha256;
  run.task.finished_at = iso8601_utc();
  auto fields = progress_fields(run.task);
  fields["file"] = run.task.file;
  fields["size"] = std::to_string(run.task.size);
  fields["sha256"] = run.task.sha256;
  fields["finishedAt"] = run.task.finished_at;
  auto done = co_await run.tasks.transition(run.task.id, "|running|", "done", fields);
  if (!done || !done->applied) {
    // Not recorded as done (Redis failed; cancelled or failed by a reader meanwhile): a file
    // without its task would never be served or expired, so it goes.
    remove_export_file(run.options.dir, run.task.file);
    run.task.file.clear();
    if (!done) co_return done.error();
    run.task.state = ended_state(*done);
    co_return Ok{};
  }
  run.task.state = "done";
  (void)co_await run.tasks.count(run.task.format, run.task.rows, run.task.size);  // statistics only
  co_return Ok{};
}

Task<void> fail(Run& run, std::string why) {
  run.file.discard();
  run.task.error = why;
  run.task.finished_at = iso8601_utc();
  store::HashRecord fields = progress_fields(run.task);
  fields["error"] = why;
  fields["finishedAt"] = run.task.finished_at;
  auto failed = co_await run.tasks.transition(run.task.id, "|queued|running|", "failed", fields, kEndedTaskKeepSeconds);
  run.task.state = "failed";
  if (failed && !failed->state.empty()) run.task.state = failed->state;
}

void log_export(const ExportTask& t) {
  std::string line = fmt::format("export {} {}: by {}, format {}, {}, rows {} of {} keys, request {}", t.id, t.state,
                                 t.requested_by, t.format, t.sanitized ? "sanitized" : "NOT sanitized", t.rows,
                                 t.scanned, t.spec);
  if (t.state == "done") line += fmt::format(", file {}, {} bytes, sha256 {}", t.file, t.size, t.sha256);
  if (!t.error.empty()) line += ", error: " + t.error;
  if (t.state == "done") api_export_log().info("{}", line);
  else api_export_log().warn("{}", line);
  metrics::export_ended(t.state);
}

// Built outside coroutines (GCC 12 and initializer lists in coroutine frames).
store::HashRecord started_fields() { return store::HashRecord{{"startedAt", iso8601_utc()}}; }
ExportHeader header_of(const Run& run) { return ExportHeader{run.task.id, run.now_iso, run.spec.sanitize}; }

Task<void> run_steps(Run& run) {
  auto started = co_await run.tasks.transition(run.task.id, "|queued|", "running", started_fields());
  if (!started) co_return co_await fail(run, started.error().message);
  if (!started->applied) {
    run.task.state = ended_state(*started);
    co_return;
  }
  run.task.state = "running";
  if (auto opened = run.file.open(run.options.dir, run.task.id, run.spec.format); !opened)
    co_return co_await fail(run, opened.error().message);
  auto writer = make_writer(run.spec, header_of(run));
  if (auto s = run.file.write(writer->begin()); !s) co_return co_await fail(run, s.error().message);
  auto stopped = co_await write_rows(run, *writer);
  if (!stopped) co_return co_await fail(run, stopped.error().message);
  if (!stopped->empty()) {
    run.file.discard();
    run.task.state = *stopped;
    co_return;
  }
  if (auto s = co_await finish(run, *writer); !s) co_return co_await fail(run, s.error().message);
}

// Renews the lease every kLeaseRenewMs while the export runs, beside the renewal after each
// batch: a batch slower than the lease (a year of daily usage, a large batch) must not let a
// reader fail a live export. Touches nothing once the export has ended.
Task<void> keep_lease(store::RedisClient& redis, std::string id, std::shared_ptr<asio::steady_timer> timer,
                      std::shared_ptr<bool> ended) {
  TaskStore tasks(redis);
  while (!*ended) {
    timer->expires_after(std::chrono::milliseconds(kLeaseRenewMs));
    co_await timer->async_wait(use_nothrow);
    if (*ended) co_return;
    // A renewal lost to a Redis blip is made again at the next tick, well within the lease.
    (void)co_await tasks.transition(id, "|running|", "", store::HashRecord());
  }
}

}  // namespace

Task<ExportTask> run_export(store::RedisClient& redis, ExportTask task, ExportSpec spec, RunOptions options) {
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  auto ended = std::make_shared<bool>(false);
  asio::co_spawn(executor, keep_lease(redis, task.id, timer, ended), asio::detached);
  Run run(redis, task, spec, options);
  co_await run_steps(run);
  *ended = true;
  timer->cancel();
  log_export(task);
  co_return task;
}

}  // namespace crs::key_export
