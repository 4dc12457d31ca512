#pragma once
// SIGHUP: the price table is read again, and so is the configuration (the same files and
// environment as at start). The live keys (config/reload.hpp) take effect at once: log levels,
// the relay's attempts and timeouts, every load-balancing setting, the alert channels and
// thresholds. A changed key that only a restart applies is named in the log, and keeps its
// value. A configuration with an error changes nothing.
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "alerts/monitor.hpp"
#include "config/in_force.hpp"
#include "config/live_config.hpp"
#include "config/loader.hpp"
#include "config/reload.hpp"
#include "core/blocking.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/slot_waiters.hpp"

namespace crs::app {

// The alerts in force. A reload that changes them replaces them whole: the replaced monitor
// stops checking at once, and its sender, on a thread of its own, delivers what it still has
// queued (up to kDrain) before it stops. Replaced ones are kept until the relay ends, since a
// round of checks in progress may still hand them an alert.
class AlertingSlot {
 public:
  explicit AlertingSlot(std::unique_ptr<alerts::Alerting> first) : current_(std::move(first)) {}
  ~AlertingSlot() { stop(); }
  void start() { current_->start(); }
  void stop();  // idempotent: the current one, and the replaced ones' sending cut short
  // Starts `next` (which reads `cfg`) in place of the current one. Call on the main context.
  void replace(std::unique_ptr<alerts::Alerting> next, std::shared_ptr<const config::Config> cfg);

 private:
  static constexpr auto kDrain = std::chrono::seconds(30);
  std::shared_ptr<alerts::Alerting> current_;
  std::vector<std::shared_ptr<alerts::Alerting>> retired_;
  std::vector<std::shared_ptr<const config::Config>> configs_;  // what current_ and retired_ read
  std::vector<std::thread> finishing_;                          // the replaced senders' last deliveries
  std::atomic<bool> cut_{false};
  bool stopped_ = false;
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
  config::InForce& in_force;  // what the console's settings page shows
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
  config::Config running_;
  ReloadTargets t_;
  std::shared_ptr<const config::LoadOptions> from_;  // shared with a read still in progress at exit
};

}  // namespace crs::app
