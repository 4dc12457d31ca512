#include "app/account_sync.hpp"

#include <spdlog/spdlog.h>

#include "accounts/account_store.hpp"
#include "store/keyspace.hpp"

namespace crs::app {

Task<void> AccountReloader::run() {
  while (!stopped_) {
    pending_ = false;
    if (redis_.connected()) {
      accounts::AccountStore store(redis_, key_);
      auto all = co_await store.list();
      if (all) registry_.replace(std::move(*all));
      else spdlog::warn("cannot load accounts: {}", all.error().message);
    }
    if (pending_) continue;
    timer_.expires_after(redis_.connected() ? std::chrono::seconds(30) : std::chrono::milliseconds(200));
    co_await timer_.async_wait(use_nothrow);
  }
}

SharedStateSync::SharedStateSync(asio::any_io_executor ex, store::RedisClient& redis,
                                 const store::RedisOptions& options, std::string encryption_key,
                                 accounts::AccountRegistry& accounts, keys::KeyCache& keys,
                                 std::function<void()> reload_pricing)
    : reloader_(ex, redis, std::move(encryption_key), accounts),
      invalidations_(
          ex, options, {std::string(store::keyspace::kInvalidationChannel)},
          [this, &keys, reload_pricing](std::string_view, std::string_view message) {
            if (message.starts_with("key:")) keys.invalidate(std::string(message.substr(4)));
            if (message.starts_with("account:")) reloader_.request();
            if (message == store::keyspace::kPricingReload && reload_pricing) reload_pricing();
            if (message == store::keyspace::kReloadAll) {  // a restore or an import rewrote the data
              keys.clear();
              reloader_.request();
            }
          },
          [this, &keys] {
            keys.clear();  // announcements may have been missed while disconnected
            reloader_.request();
          }),
      executor_(ex) {}

void SharedStateSync::start() {
  asio::co_spawn(executor_, reloader_.run(), asio::detached);
  invalidations_.start();
}

void SharedStateSync::stop() {
  reloader_.stop();
  invalidations_.stop();
}

}  // namespace crs::app
