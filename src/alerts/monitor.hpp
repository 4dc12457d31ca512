#pragma once
// Watches for what operators must be told, every monitoring.alerts.checkInterval seconds on
// the instance's main thread, and hands alerts to the sender:
//   - an account unauthorized or blocked, its circuit open, its 5h or 7d utilisation at or over
//     monitoring.alerts.utilizationThreshold (read from the load balancer's view in Redis);
//   - memory use over monitoring.metrics.memoryAlertThreshold of the limit
//     (monitoring.alerts.memoryLimit, else the cgroup's memory.max, else the machine's memory);
//   - Redis unreachable from this instance;
//   - this instance's relayed requests failing (5xx) more often than
//     loadBalancing.healthCheck.errorRateThreshold over the last interval (5 requests at least);
//   - export tasks that failed here (one alert each, no recovery).
// An alert is raised once while its condition holds and followed by a recovery notice when it
// clears. Conditions every instance sees (the accounts) are claimed in Redis
// (alerts:active:<id>, SET NX), so one instance tells each; the others are this instance's own.
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "alerts/sender.hpp"
#include "config/config.hpp"
#include "core/net.hpp"
#include "store/redis_client.hpp"

namespace crs::alerts {

struct MonitorSettings {
  std::chrono::milliseconds interval{30000};
  double utilization_threshold = 0.9;
  double memory_threshold = 0.8;
  uint64_t memory_limit = 0;  // bytes; 0: the cgroup's, else the machine's
  double error_rate_threshold = 0.3;
  std::string instance;
};

MonitorSettings monitor_settings(const config::Config& cfg, std::string instance);

// The memory limit alerts measure against: configured, else the cgroup's, else the machine's.
uint64_t memory_limit(uint64_t configured);

class AlertMonitor {
 public:
  AlertMonitor(asio::any_io_executor executor, store::RedisClient& redis, const config::Config& cfg,
               MonitorSettings settings, AlertSender& sender);
  ~AlertMonitor();
  void start();
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace crs::alerts

namespace crs::alerts {

// The alerts of one instance: the sender's thread and the monitor's checks, running when
// monitoring.enabled and monitoring.alerts.enabled and at least one channel is configured.
class Alerting {
 public:
  // A channel the configuration gets wrong (a URL that is not http(s), email without a server)
  // is an error: the relay does not start with alerts that could never arrive.
  static Result<std::unique_ptr<Alerting>> make(asio::any_io_executor executor, store::RedisClient& redis,
                                                const config::Config& cfg, std::string instance);
  void start();
  void stop();
  // Replaced by a reload: no more checks (on the monitor's thread); then, on another thread,
  // what is queued is delivered until `deadline` or `cut`, and the sender stops.
  void stop_checking();
  void finish_sending(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& cut);

 private:
  Alerting(SenderSettings settings, asio::any_io_executor executor, store::RedisClient& redis,
           const config::Config& cfg, MonitorSettings monitor, bool on);
  AlertSender sender_;
  AlertMonitor monitor_;
  bool on_;
};

}  // namespace crs::alerts
