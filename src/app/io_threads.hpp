#pragma once
// The I/O threads of `crs serve`: one io_context per thread, each kept alive by a work guard
// until stop(). The first context also runs signals, timers of the whole process and the
// embedded redis-server's watchdog.
#include <memory>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/net.hpp"

namespace crs::app {

class IoThreads {
 public:
  explicit IoThreads(size_t count);

  // server.workers, or one per core.
  static size_t count_for(const config::Config& cfg);

  asio::io_context& main() { return *contexts_.front(); }
  const std::vector<asio::any_io_executor>& executors() const { return executors_; }
  size_t size() const { return contexts_.size(); }

  // Runs every context (the first on the calling thread) until stop(); joins the others.
  void run();
  // Lets the contexts run out of work and stops them.
  void stop();

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<asio::any_io_executor> executors_;
};

}  // namespace crs::app
