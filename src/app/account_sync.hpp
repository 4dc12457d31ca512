#pragma once
// Keeps this instance's view of shared state current: the account snapshot (reloaded on an
// announcement, debounced, and every 30 s), the key cache (entries dropped on an
// announcement; everything after a reconnect, as announcements may have been missed), and
// the price table (reloaded when announced).
#include <functional>
#include <string>

#include "accounts/account_registry.hpp"
#include "keys/key_cache.hpp"
#include "store/redis_client.hpp"
#include "store/redis_subscriber.hpp"

namespace crs::app {

class AccountReloader {
 public:
  AccountReloader(asio::any_io_executor ex, store::RedisClient& redis, std::string encryption_key,
                  accounts::AccountRegistry& registry)
      : redis_(redis), key_(std::move(encryption_key)), registry_(registry), timer_(ex) {}

  void request() {
    pending_ = true;  // a reload already running re-runs; a waiting loop wakes up
    timer_.cancel();
  }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }
  Task<void> run();

 private:
  store::RedisClient& redis_;
  std::string key_;
  accounts::AccountRegistry& registry_;
  asio::steady_timer timer_;
  bool stopped_ = false;
  bool pending_ = false;
};

class SharedStateSync {
 public:
  // `reload_pricing`: called when an instance announces a new price file (`crs pricing reload`).
  SharedStateSync(asio::any_io_executor ex, store::RedisClient& redis, const store::RedisOptions& options,
                  std::string encryption_key, accounts::AccountRegistry& accounts, keys::KeyCache& keys,
                  std::function<void()> reload_pricing);
  void start();
  void stop();

 private:
  AccountReloader reloader_;
  store::RedisSubscriber invalidations_;
  asio::any_io_executor executor_;
};

}  // namespace crs::app
