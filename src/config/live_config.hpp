#pragma once
// The configuration a running relay reads for its live keys (config/reload.hpp). Each I/O thread
// has its own view, replaced on that thread when SIGHUP publishes a new one: a request reads its
// thread's view without a lock, and keeps the one it started with until it ends.
// Only the thread of worker N may call at(N); the main context is worker 0.
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "core/net.hpp"

namespace crs::config {

class LiveConfig {
 public:
  LiveConfig(const Config& initial, std::vector<asio::any_io_executor> workers);

  const std::shared_ptr<const Config>& at(size_t worker) const { return views_.at(worker); }
  // Hands `next` to every I/O thread; each takes it when it next runs.
  void publish(const Config& next);

 private:
  std::vector<asio::any_io_executor> workers_;
  std::vector<std::shared_ptr<const Config>> views_;
};

}  // namespace crs::config
