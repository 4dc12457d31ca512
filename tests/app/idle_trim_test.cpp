// The idle trim asks each I/O thread to flush its allocator cache while no request is in
// flight, and none while one is.
#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "app/idle_trim.hpp"
#include "support/support.hpp"

namespace crs::app {
namespace {

using namespace std::chrono_literals;

TEST(IdleTrim, EachIoThreadFlushesOnlyWhileNothingIsInFlight) {
  asio::io_context main_thread, first, second;
  auto guard_a = asio::make_work_guard(first);
  auto guard_b = asio::make_work_guard(second);
  std::atomic<size_t> in_flight{1};
  std::atomic<int> flushed_first{0}, flushed_second{0};
  std::atomic<std::thread::id> first_id;
  std::thread a([&] { first_id = std::this_thread::get_id(); first.run(); });
  std::thread b([&] { second.run(); });
  IdleTrim trim(main_thread.get_executor(), {first.get_executor(), second.get_executor()},
                [&] { return in_flight.load(); },
                [&] { (std::this_thread::get_id() == first_id ? flushed_first : flushed_second)++; }, 20ms);
  trim.start();
  main_thread.run_for(200ms);  // about ten rounds with a request in flight
  EXPECT_EQ(flushed_first + flushed_second, 0);
  in_flight = 0;
  main_thread.restart();
  for (int i = 0; i < 100 && (flushed_first == 0 || flushed_second == 0); ++i) main_thread.run_for(20ms);
  EXPECT_GT(flushed_first, 0);
  EXPECT_GT(flushed_second, 0);
  trim.stop();
  main_thread.restart();
  main_thread.run_for(50ms);  // the stop is taken, the timer cancelled
  for (auto* thread : {&first, &second}) {  // flushes asked before the stop are done
    std::promise<void> done;
    asio::post(*thread, [&done] { done.set_value(); });
    done.get_future().wait();
  }
  int after_stop = flushed_first + flushed_second;
  main_thread.restart();
  main_thread.run_for(100ms);
  EXPECT_EQ(flushed_first + flushed_second, after_stop);
  guard_a.reset();
  guard_b.reset();
  first.stop();
  second.stop();
  a.join();
  b.join();
}

}  // namespace
}  // namespace crs::app
