#include "config/live_config.hpp"

namespace crs::config {

LiveConfig::LiveConfig(const Config& initial, std::vector<asio::any_io_executor> workers)
    : workers_(std::move(workers)) {
  // A copy each: the reference counts of one view are touched by one thread only.
  for (size_t i = 0; i < workers_.size(); ++i) views_.push_back(std::make_shared<const Config>(initial));
}

void LiveConfig::publish(const Config& next) {
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto view = std::make_shared<const Config>(next);
    asio::post(workers_[i], [this, i, view = std::move(view)]() mutable { views_[i] = std::move(view); });
  }
}

}  // namespace crs::config
