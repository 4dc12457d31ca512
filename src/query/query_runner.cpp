#include "query/query_runner.hpp"

#include <fmt/format.h>

#include "core/logging.hpp"

namespace crs::query {

QuerySettings settings_of(const config::Config& cfg) {
  const auto& q = cfg.queryOptimizer;
  QuerySettings s;
  s.pipelining.optimize = q.enabled;
  s.pipelining.pipeline_size = static_cast<size_t>(q.pipelineSize);
  s.pipelining.max_concurrency = static_cast<size_t>(q.maxConcurrency);
  s.pipelining.timeout = std::chrono::milliseconds(q.performance.queryTimeout);
  s.batch_size = static_cast<size_t>(q.batchSize);
  s.profiling = q.performance.enableProfiling && cfg.monitoring.enabled;
  s.profile_level = spdlog::level::from_str(cfg.monitoring.logLevel);
  s.slow_threshold = std::chrono::milliseconds(cfg.monitoring.metrics.slowQueryThreshold);
  return s;
}

namespace {

// Logs a finished query as the settings ask.
void report_profile(const QuerySettings& settings, std::string_view name, const store::QueryProfile& p) {
  auto line = [&] {
    return fmt::format("query {}: {} commands in {} round trips, at most {} batches in flight, {} reply bytes, "
                       "{:.1f} ms{}",
                       name, p.commands, p.round_trips, p.peak_batches, p.reply_bytes,
                       static_cast<double>(p.took.count()) / 1000.0, p.timed_out ? " (timed out)" : "");
  };
  if (settings.profiling) spdlog::log(settings.profile_level, "{}", line());
  if (p.took >= settings.slow_threshold) slow_query_log().warn("{}", line());
}

}  // namespace

Task<Result<std::vector<store::RedisReply>>> QueryRunner::run(store::RedisClient& redis, std::string name,
                                                              std::vector<store::RedisCommand> commands,
                                                              size_t per_record) const {
  store::QueryOptions options = settings_.pipelining;
  options.batch_size = settings_.batch_size * std::max<size_t>(1, per_record);
  store::QueryProfile profile;
  auto replies = co_await store::run_query(redis, std::move(commands), options, &profile);
  report_profile(settings_, name, profile);
  co_return replies;
}

}  // namespace crs::query
