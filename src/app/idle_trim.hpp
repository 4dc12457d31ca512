#pragma once
// Gives the I/O threads' allocator caches back while the relay serves nothing. jemalloc keeps
// freed blocks in a cache per thread (up to ~1 MB on a busy I/O thread) and returns them only
// as the thread allocates again, so a relay that went idle after a load kept them: 0.6 MB of
// its RSS 60 s after 5,000 streams ended (measured with /proc/PID/smaps_rollup). Every 10 s,
// when no request is in flight, each I/O thread flushes its cache (a few microseconds when it
// is empty); jemalloc's background thread then returns the pages. Without jemalloc (sanitizer
// and fuzz builds) it does nothing.
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "core/net.hpp"

namespace crs::app {

// This thread's allocator cache, given back to the allocator's arenas; false without jemalloc.
bool flush_thread_cache();
// Whether there is an allocator cache to flush (jemalloc is the process's allocator).
bool thread_cache_flushable();

class IdleTrim {
 public:
  // `flush` runs on each I/O thread in turn (flush_thread_cache, or a test's).
  IdleTrim(asio::any_io_executor timer_thread, std::vector<asio::any_io_executor> io_threads,
           std::function<size_t()> requests_in_flight, std::function<void()> flush = [] { flush_thread_cache(); },
           std::chrono::milliseconds every = std::chrono::seconds(10));
  void start();
  void stop();

 private:
  struct State;
  static void arm(std::shared_ptr<State> s);
  std::shared_ptr<State> state_;
};

}  // namespace crs::app
