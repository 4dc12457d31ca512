#pragma once
// Gives back what the I/O threads keep for their next requests while the relay serves nothing:
// the buffers kept for request bodies (up to 8 of up to 4 MB per thread after a burst of large
// bodies) and jemalloc's cache of freed blocks per thread (up to ~1 MB on a busy I/O thread,
// returned only as the thread allocates again: 0.4-0.6 MB of the RSS 60 s after 5,000 streams,
// measured with /proc/PID/smaps_rollup). Every 10 s, when no request is in flight, each I/O
// thread does it (a few microseconds when there is nothing to give); jemalloc's background
// thread then returns the pages. Without jemalloc (sanitizer and fuzz builds) only the bodies'
// buffers go.
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "core/net.hpp"

namespace crs::app {

// This thread's allocator cache, given back to the allocator's arenas; false without jemalloc.
bool flush_thread_cache();

class IdleTrim {
 public:
  // `flush` runs on each I/O thread in turn.
  IdleTrim(asio::any_io_executor timer_thread, std::vector<asio::any_io_executor> io_threads,
           std::function<size_t()> requests_in_flight, std::function<void()> flush,
           std::chrono::milliseconds every = std::chrono::seconds(10));
  void start();
  void stop();

 private:
  struct State;
  static void arm(std::shared_ptr<State> s);
  std::shared_ptr<State> state_;
};

}  // namespace crs::app
