#pragma once
// Keeps this instance's load-balancing view current: every second (and at once when another
// instance announces a change) it reads what all instances recorded in Redis — tokens in each
// account's window, requests in flight on capped accounts, last selections, the upstream's
// utilisation, the strategy set at runtime, each account's circuit and health class — in one
// pipeline, off the request path, after writing what this instance saw (tokens, utilisation,
// the attempts for the passive stats). It also hears freed account slots and wakes the
// requests waiting for one.
#include "accounts/account_registry.hpp"
#include "health/health_book.hpp"
#include "scheduler/load_book.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/slot_waiters.hpp"
#include "store/redis_client.hpp"
#include "store/redis_subscriber.hpp"

namespace crs::app {

class LoadBalancingSync {
 public:
  LoadBalancingSync(asio::any_io_executor ex, store::RedisClient& redis, const store::RedisOptions& options,
                    const accounts::AccountRegistry& accounts, scheduler::LoadBook& book, health::HealthBook& health,
                    scheduler::SlotWaiters& waiters, scheduler::StrategyScheduler* strategies);
  void start();
  void stop();

 private:
  Task<void> run();
  Task<void> refresh();

  asio::any_io_executor executor_;
  store::RedisClient& redis_;
  const accounts::AccountRegistry& accounts_;
  scheduler::LoadBook& book_;
  health::HealthBook& health_;
  scheduler::StrategyScheduler* strategies_;
  asio::steady_timer timer_;
  store::RedisSubscriber subscriber_;
  bool stopped_ = false;
  bool read_again_ = false;  // a change was announced during a read
};

}  // namespace crs::app
