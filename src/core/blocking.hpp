#pragma once
// Work that would stall an I/O thread (password hashing, file writes) runs here instead:
// `co_await pool.run(f)` resumes the caller on its own thread with f's result.
#include <atomic>
#include <type_traits>

#include "core/net.hpp"

namespace crs {

class BlockingPool {
 public:
  explicit BlockingPool(size_t threads = 1) : pool_(threads) {}
  ~BlockingPool() { pool_.join(); }

  // Call sites pass a named function object, never a temporary: GCC 12 can destroy a
  // temporary with a destructor twice when it sits in a co_await expression.
  template <class F>
  Task<std::invoke_result_t<std::decay_t<F>&>> run(F&& f) {
    auto work = call(std::decay_t<F>(std::forward<F>(f)));
    Queued counted(queued_);
    co_return co_await asio::co_spawn(pool_.get_executor(), std::move(work), asio::use_awaitable);
  }

  // Jobs waiting or running: callers refuse new work beyond what they can afford to queue.
  size_t queued() const { return queued_.load(); }

  void stop() { pool_.stop(); }

 private:
  struct Queued {
    std::atomic<size_t>& n;
    explicit Queued(std::atomic<size_t>& count) : n(count) { ++n; }
    ~Queued() { --n; }
  };

  template <class F>
  static Task<std::invoke_result_t<F&>> call(F f) {
    co_return f();
  }

  asio::thread_pool pool_;
  std::atomic<size_t> queued_{0};
};

}  // namespace crs
