#include "app/config_reload.hpp"

#include <csignal>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app/serve.hpp"
#include "scheduler/status.hpp"

namespace crs::app {

void AlertingSlot::replace(std::unique_ptr<alerts::Alerting> next, std::shared_ptr<const config::Config> cfg,
                           asio::io_context& main, BlockingPool& blocking) {
  alerts::Alerting* old = current_.get();
  retired_.push_back(std::move(current_));
  current_ = std::move(next);
  configs_.push_back(std::move(cfg));
  current_->start();
  // Its sender joins threads that may be delivering: not on an I/O thread.
  auto stop_old = [old] {
    old->stop();
    return 0;
  };
  asio::co_spawn(main, blocking.run(stop_old), asio::detached);
}

ConfigReloader::ConfigReloader(asio::io_context& main, config::LoadOptions from, const config::Config& running,
                               ReloadTargets targets)
    : main_(main), hangup_(main, SIGHUP), from_(std::move(from)), running_(running), t_(std::move(targets)) {}

void ConfigReloader::start() { wait(); }

void ConfigReloader::stop() { hangup_.cancel(); }

void ConfigReloader::wait() {
  hangup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    asio::co_spawn(main_, reload(), asio::detached);
    wait();
  });
}

Task<void> ConfigReloader::reload() {
  t_.reload_pricing();
  auto read = [this] { return config::load(from_); };
  config::Loaded loaded = co_await t_.blocking.run(read);  // files: off the I/O thread
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) spdlog::error("configuration not reloaded: {}", e);
    co_return;
  }
  config::Reload merged = config::merge_live(running_, loaded.config);
  if (!merged.needs_restart.empty())
    spdlog::warn("configuration: changed, but in force only after a restart (kept as they were): {}",
                 fmt::join(merged.needs_restart, ", "));
  if (merged.applied.empty()) {
    spdlog::info("configuration reloaded: no key that changes live has changed");
    co_return;
  }
  // The alerts are made before anything changes: channels that could never deliver refuse the
  // whole reload, as they refuse a start.
  auto view = std::make_shared<const config::Config>(merged.next);
  auto alerting = alerts::Alerting::make(main_.get_executor(), t_.redis, *view, t_.instance);
  if (!alerting) {
    spdlog::error("configuration not reloaded: {}", alerting.error().message);
    co_return;
  }
  apply(merged, std::move(*alerting), std::move(view));
}

void ConfigReloader::apply(const config::Reload& merged, std::unique_ptr<alerts::Alerting> alerting,
                           std::shared_ptr<const config::Config> view) {
  const config::Config& next = merged.next;
  set_log_levels(log_settings(next));
  t_.live.publish(next);
  if (t_.strategies) t_.strategies->set_settings(scheduler::strategy_settings(next.loadBalancing));
  t_.slot_waiters.set_max(static_cast<size_t>(next.loadBalancing.maxWaiting));
  t_.alerting.replace(std::move(alerting), std::move(view), main_, t_.blocking);
  running_ = next;
  spdlog::info("configuration reloaded: now in force: {}", fmt::join(merged.applied, ", "));
}

}  // namespace crs::app
