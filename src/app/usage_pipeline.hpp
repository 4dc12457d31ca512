#pragma once
// Where usage goes after a request: each I/O thread's metering (its completions in batches,
// journaled) and event writer (other records), the spool of what Redis could not take (on
// disk, sent again), and the aggregator that folds events, on a thread of its own at a lower
// priority (a fold takes milliseconds of CPU; on an I/O thread it would delay every request of
// that thread). At start, what an earlier run left in its journals is sent again.
#include <memory>
#include <thread>
#include <vector>

#include "app/io_threads.hpp"
#include "config/config.hpp"
#include "limits/metering.hpp"
#include "store/redis_client.hpp"
#include "usage/aggregator.hpp"
#include "usage/event_writer.hpp"
#include "usage/spool.hpp"

namespace crs::app {

class UsagePipeline {
 public:
  UsagePipeline(const config::Config& cfg, IoThreads& io, const std::vector<store::RedisClient*>& redis,
                const store::RedisOptions& options);
  // Stops and joins the aggregator's thread; a fold still waiting for Redis is abandoned, and
  // its events stay pending until the next start folds them.
  ~UsagePipeline();

  usage::UsageSpool& spool() { return spool_; }
  const std::vector<usage::UsageEventWriter*>& writers() const { return writer_ptrs_; }
  const std::vector<limits::Metering*>& metering() const { return metering_ptrs_; }
  // Records handed to the writers and the metering and not yet acknowledged by Redis.
  int in_flight() const;
  // From now on usage goes to Redis at once (shutdown). Any thread.
  void send_all_now();
  // At shutdown: what is still in flight or spooled is reported; the spool and the aggregator stop.
  void stop();

 private:
  usage::UsageSpool spool_;
  std::vector<std::unique_ptr<usage::UsageEventWriter>> writers_;
  std::vector<usage::UsageEventWriter*> writer_ptrs_;
  std::vector<std::unique_ptr<limits::Metering>> metering_;
  std::vector<limits::Metering*> metering_ptrs_;
  asio::io_context usage_context_{1};
  asio::executor_work_guard<asio::io_context::executor_type> usage_guard_;
  usage::UsageAggregator aggregator_;
  std::thread thread_;
};

}  // namespace crs::app
