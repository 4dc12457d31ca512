#include "app/config_reload.hpp"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app/serve.hpp"
#include "scheduler/status.hpp"

namespace crs::app {

namespace {

// Whether the alerts read the key: their channels and thresholds, and the error rate they
// compare this instance's answers with.
bool read_by_alerts(const std::string& key) {
  return key.starts_with("monitoring.") || key == "loadBalancing.healthCheck.errorRateThreshold";
}

}  // namespace

void AlertingSlot::replace(std::unique_ptr<alerts::Alerting> next, std::shared_ptr<const config::Config> cfg) {
  std::shared_ptr<alerts::Alerting> old = std::move(current_);
  old->stop_checking();
  retired_.push_back(old);
  current_ = std::move(next);
  configs_.push_back(std::move(cfg));
  current_->start();
  // The old sender may take up to kDrain: on a thread of its own, never an I/O thread.
  auto deadline = std::chrono::steady_clock::now() + kDrain;
  finishing_.emplace_back([old, deadline, this] { old->finish_sending(deadline, cut_); });
}

void AlertingSlot::stop() {
  if (std::exchange(stopped_, true)) return;
  cut_ = true;
  current_->stop();
  for (auto& t : finishing_)
    if (t.joinable()) t.join();
}

ConfigReloader::ConfigReloader(asio::io_context& main, config::LoadOptions from, const config::Config& running,
                               ReloadTargets targets)
    : main_(main), hangup_(main, SIGHUP), running_(running), t_(std::move(targets)),
      from_(std::make_shared<const config::LoadOptions>(std::move(from))) {}

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
  auto read = [from = from_] { return config::load(*from); };
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
  // New alerts are made before anything changes: channels that could never deliver refuse the
  // whole reload, as they refuse a start.
  auto view = std::make_shared<const config::Config>(merged.next);
  std::unique_ptr<alerts::Alerting> alerting;
  if (std::any_of(merged.applied.begin(), merged.applied.end(), read_by_alerts)) {
    auto made = alerts::Alerting::make(main_.get_executor(), t_.redis, *view, t_.instance);
    if (!made) {
      spdlog::error("configuration not reloaded: {}", made.error().message);
      co_return;
    }
    alerting = std::move(*made);
  }
  apply(merged, std::move(alerting), std::move(view));
  t_.in_force.reloaded(merged.next, loaded, merged.applied);
}

void ConfigReloader::apply(const config::Reload& merged, std::unique_ptr<alerts::Alerting> alerting,
                           std::shared_ptr<const config::Config> view) {
  const config::Config& next = merged.next;
  set_log_levels(log_settings(next));
  t_.live.publish(next);
  if (t_.strategies) t_.strategies->set_settings(scheduler::strategy_settings(next.loadBalancing));
  t_.slot_waiters.set_max(static_cast<size_t>(next.loadBalancing.maxWaiting));
  if (alerting) t_.alerting.replace(std::move(alerting), std::move(view));
  running_ = next;
  spdlog::info("configuration reloaded: now in force: {}", fmt::join(merged.applied, ", "));
}

}  // namespace crs::app
