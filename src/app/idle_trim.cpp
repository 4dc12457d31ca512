#include "app/idle_trim.hpp"

#include <dlfcn.h>

namespace crs::app {

using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);

// jemalloc is the crs binary's allocator, not this library's: found at run time if present.
static Mallctl mallctl_function() {
  static const Mallctl found = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  return found;
}

bool flush_thread_cache() {
  Mallctl mallctl = mallctl_function();
  return mallctl && mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0) == 0;
}

struct IdleTrim::State {
  State(asio::any_io_executor t, std::vector<asio::any_io_executor> io, std::function<size_t()> in_flight,
        std::function<void()> f, std::chrono::milliseconds e)
      : timer(t), threads(std::move(io)), requests_in_flight(std::move(in_flight)),
        flush(std::make_shared<const std::function<void()>>(std::move(f))), every(e) {}
  asio::steady_timer timer;  // of the main thread's context
  std::vector<asio::any_io_executor> threads;
  std::function<size_t()> requests_in_flight;
  // Held by the flushes posted to the I/O threads, not the State: a flush left queued when the
  // contexts stop is destroyed with its context, after the main one, and must not hold the timer.
  std::shared_ptr<const std::function<void()>> flush;
  std::chrono::milliseconds every;
  bool stopped = false;
};

IdleTrim::IdleTrim(asio::any_io_executor timer_thread, std::vector<asio::any_io_executor> io_threads,
                   std::function<size_t()> requests_in_flight, std::function<void()> flush,
                   std::chrono::milliseconds every)
    : state_(std::make_shared<State>(std::move(timer_thread), std::move(io_threads), std::move(requests_in_flight),
                                     std::move(flush), every)) {}

void IdleTrim::start() { arm(state_); }

void IdleTrim::stop() {
  asio::post(state_->timer.get_executor(), [s = state_] {
    s->stopped = true;
    s->timer.cancel();
  });
}

void IdleTrim::arm(std::shared_ptr<State> s) {
  s->timer.expires_after(s->every);
  s->timer.async_wait([s](const boost::system::error_code& ec) {
    if (ec || s->stopped) return;
    if (s->requests_in_flight() == 0)
      for (const auto& thread : s->threads) asio::post(thread, [flush = s->flush] { (*flush)(); });
    arm(s);
  });
}

}  // namespace crs::app
