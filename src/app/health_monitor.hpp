#pragma once
// Classifies every account's health (health/classify.hpp) every loadBalancing.healthCheck.interval
// seconds, on one instance at a time (the one that takes load_balance:health:lock for the round):
// reads each account's recent attempts, writes load_balance:health:<account>, and announces a
// changed class on crs:lb:changed, so every instance's LoadBalancingSync reads it at once.
// Every change of class is a line in the load-balancing log. In the same round the accounts
// that are degraded or unhealthy, whose circuit is open, whose rest (rate limit) has passed, or
// that saw no attempt for 30 minutes are probed (relay/health_check: no tokens spent); the probe
// counts as one of their attempts and sets what its answer tells: that is how an account that
// gets no traffic shows it is well again, or banned.
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "accounts/account_registry.hpp"
#include "config/live_config.hpp"
#include "health/health_book.hpp"
#include "store/redis_client.hpp"

namespace crs::app {

class HealthMonitor {
 public:
  HealthMonitor(asio::any_io_executor ex, store::RedisClient& redis, const config::LiveConfig& live,
                accounts::AccountRegistry& accounts, health::HealthBook& book, asio::ssl::context& tls);
  void start();
  void stop();

 private:
  Task<void> run();
  Task<void> check_all();
  // Classifies the account; true when it should be probed.
  Task<bool> check(const accounts::Account& account, int64_t now_ms, const config::Config& cfg);
  Task<void> probe(const accounts::Account& account, const config::Config& cfg);

  asio::any_io_executor executor_;
  store::RedisClient& redis_;
  const config::LiveConfig& live_;  // read on the main context (worker 0), once per round
  accounts::AccountRegistry& accounts_;
  health::HealthBook& book_;
  asio::ssl::context& tls_;
  std::string instance_;  // who holds the lock
  asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace crs::app
