#include "app/usage_pipeline.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "limits/limits.hpp"

namespace crs::app {
namespace {

std::string hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

usage::AggregatorOptions aggregator_options(const config::Config& cfg) {
  usage::AggregatorOptions agg;
  agg.consumer = hostname() + ":" + std::to_string(cfg.server.port);
  agg.timezone_offset_hours = cfg.usage.timezoneOffset;
  agg.records_per_key = static_cast<size_t>(cfg.usage.recordsPerKey);
  agg.hourly_retention_days = cfg.usage.hourlyRetentionDays;
  return agg;
}

}  // namespace

// One spool file per instance, as several may share a data directory.
UsagePipeline::UsagePipeline(const config::Config& cfg, IoThreads& io, const std::vector<store::RedisClient*>& redis,
                             const store::RedisOptions& options)
    : spool_(cfg.server.dataDir + "/usage-spool-" + std::to_string(cfg.server.port) + ".log"),
      usage_guard_(asio::make_work_guard(usage_context_)),
      aggregator_(usage_context_.get_executor(), options, aggregator_options(cfg)) {
  asio::co_spawn(io.main(), spool_.replay_loop(*redis.front(), &limits::Limits::replay_form,
                                               std::chrono::milliseconds(250)),
                 asio::detached);
  for (size_t i = 0; i < io.size(); ++i) {
    writers_.push_back(std::make_unique<usage::UsageEventWriter>(io.executors()[i], *redis[i], &spool_));
    writer_ptrs_.push_back(writers_.back().get());
  }
  aggregator_.start();
  thread_ = std::thread([this] {
    // A lower priority than the I/O threads: the kernel lets a waking I/O thread preempt a
    // fold at once; the fold still gets its share under full load.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    usage_context_.run();
  });
}

UsagePipeline::~UsagePipeline() {
  usage_context_.stop();
  if (thread_.joinable()) thread_.join();
}

int UsagePipeline::in_flight() const {
  int n = 0;
  for (auto* w : writer_ptrs_) n += w->in_flight();
  return n;
}

void UsagePipeline::stop() {
  if (int left = in_flight()) spdlog::warn("{} usage record(s) not written before stopping", left);
  spool_.stop();
  if (size_t spooled = spool_.size())
    spdlog::warn("{} usage record(s) stay in {} until Redis takes them (next start)", spooled, spool_.path());
  aggregator_.stop();
  usage_guard_.reset();
}

}  // namespace crs::app
