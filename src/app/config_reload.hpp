#pragma once
// SIGHUP: the price table is read again, and so is the configuration (the same files and
// environment as at start). The live keys (config/reload.hpp) take effect at once: log levels,
// the relay's attempts and timeouts, every load-balancing setting, the alert channels and
// thresholds. A changed key that only a restart applies is named in the log, and keeps its
// value. A configuration with an error changes nothing.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alerts/monitor.hpp"
#include "config/live_config.hpp"
#include "config/loader.hpp"
#include "config/reload.hpp"
#include "core/blocking.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/slot_waiters.hpp"

namespace crs::app {

// The alerts in force. A reload replaces them whole; the replaced ones are stopped and kept
// until the relay ends, since their last round may still be finishing.
class AlertingSlot {
 public:
  AlertingSlot(std::unique_ptr<alerts::Alerting> first) : current_(std::move(first)) {}
  void start() { current_->start(); }
  void stop() { current_->stop(); }
  // Starts `next` (which reads `cfg`) and stops the one it replaces off the I/O threads.
  void replace(std::unique_ptr<alerts::Alerting> next, std::shared_ptr<const config::Config> cfg,
               asio::io_context& main, BlockingPool& blocking);

 private:
  std::unique_ptr<alerts::Alerting> current_;
  std::vector<std::unique_ptr<alerts::Alerting>> retired_;
  std::vector<std::shared_ptr<const config::Config>> configs_;  // what current_ and retired_ read
};

struct ReloadTargets {
  config::LiveConfig& live;
  scheduler::StrategyScheduler* strategies;  // null when loadBalancing.enabled is false
  scheduler::SlotWaiters& slot_waiters;
  AlertingSlot& alerting;
  store::RedisClient& redis;  // the main context's, for new alerts
  std::string instance;       // how alerts name this instance
  BlockingPool& blocking;
  std::function<void()> reload_pricing;
};

class ConfigReloader {
 public:
  ConfigReloader(asio::io_context& main, config::LoadOptions from, const config::Config& running, ReloadTargets targets);
  void start();  // waits for SIGHUP
  void stop();

 private:
  void wait();
  Task<void> reload();
  void apply(const config::Reload& merged, std::unique_ptr<alerts::Alerting> alerting,
             std::shared_ptr<const config::Config> view);

  asio::io_context& main_;
  asio::signal_set hangup_;
  config::LoadOptions from_;
  config::Config running_;
  ReloadTargets t_;
};

}  // namespace crs::app
