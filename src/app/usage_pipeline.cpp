#include "app/usage_pipeline.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "core/crypto.hpp"
#include "limits/limits.hpp"
#include "usage/journal.hpp"

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

// Journal files of this instance (several may share a data directory).
std::string journal_prefix(const config::Config& cfg) {
  return "usage-journal-" + std::to_string(cfg.server.port) + "-";
}

// What an earlier run of this instance left in its journals (a kill -9, or Redis down when it
// stopped): read before this run's journals exist, for the first thread to send again.
struct Leftovers {
  std::vector<limits::JournaledBatch> batches;
  std::vector<usage::Journal::Leftover> files;
};

Leftovers read_leftovers(const config::Config& cfg) {
  Leftovers out;
  out.files = usage::Journal::leftovers(cfg.server.dataDir, journal_prefix(cfg));
  std::vector<std::string_view> texts;
  for (const auto& f : out.files) texts.push_back(f.text);
  out.batches = limits::unacknowledged(texts);
  for (auto& f : out.files) f.text = {};
  size_t records = 0;
  for (const auto& b : out.batches) records += b.records.size();
  if (records > 0)
    spdlog::warn("usage journal: {} record(s) in {} batch(es) an earlier run left unacknowledged; sending them again "
                 "(those Redis already has are skipped)", records, out.batches.size());
  return out;
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
  auto leftovers = read_leftovers(cfg);
  std::string run_token = crypto::random_hex(8);
  auto kept = limits::Metering::make_kept();
  for (size_t i = 0; i < io.size(); ++i) {
    writers_.push_back(std::make_unique<usage::UsageEventWriter>(io.executors()[i], *redis[i], &spool_));
    writer_ptrs_.push_back(writers_.back().get());
    limits::MeteringOptions m;
    m.journal_dir = cfg.server.dataDir;
    m.journal_prefix = journal_prefix(cfg);
    m.token = run_token + "." + std::to_string(i);
    m.linger = std::chrono::milliseconds(cfg.usage.batchMs);
    m.max_records = static_cast<size_t>(cfg.usage.batchRecords);
    metering_.push_back(std::make_unique<limits::Metering>(io.executors()[i], *redis[i], std::move(m), kept));
    metering_ptrs_.push_back(metering_.back().get());
  }
  metering_.front()->adopt(std::move(leftovers.batches), std::move(leftovers.files));
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
  for (auto* m : metering_ptrs_) n += m->in_flight();
  return n;
}

void UsagePipeline::send_all_now() {
  for (auto* m : metering_ptrs_) m->send_all_now();
}

void UsagePipeline::stop() {
  if (int left = in_flight()) spdlog::warn("{} usage record(s) not written before stopping", left);
  size_t kept = metering_ptrs_.empty() ? 0 : metering_ptrs_.front()->kept();
  if (kept)
    spdlog::warn("{} usage record(s) stay in the journals in {} until Redis takes them (next start)", kept,
                 spool_.path().substr(0, spool_.path().rfind('/')));
  if (!metering_ptrs_.empty()) metering_ptrs_.front()->forget_kept();
  spool_.stop();
  if (size_t spooled = spool_.size())
    spdlog::warn("{} usage record(s) stay in {} until Redis takes them (next start)", spooled, spool_.path());
  aggregator_.stop();
  usage_guard_.reset();
}

}  // namespace crs::app
