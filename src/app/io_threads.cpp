#include "app/io_threads.hpp"

#include <algorithm>

namespace crs::app {

IoThreads::IoThreads(size_t count) {
  for (size_t i = 0; i < count; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*contexts_.back()));
    executors_.push_back(contexts_.back()->get_executor());
  }
}

size_t IoThreads::count_for(const config::Config& cfg) {
  return cfg.server.workers > 0 ? static_cast<size_t>(cfg.server.workers)
                                : std::max(1u, std::thread::hardware_concurrency());
}

void IoThreads::run() {
  std::vector<std::thread> others;
  for (size_t i = 1; i < contexts_.size(); ++i) others.emplace_back([&ctx = *contexts_[i]] { ctx.run(); });
  contexts_.front()->run();
  for (auto& t : others) t.join();
}

void IoThreads::stop() {
  for (auto& g : guards_) g.reset();
  for (auto& c : contexts_) c->stop();
}

}  // namespace crs::app
