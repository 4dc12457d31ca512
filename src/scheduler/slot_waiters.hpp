#pragma once
// Requests waiting for a slot because every account they may use is at its cap
// (loadBalancing.selectionTimeout). First come, first served: when a slot of an account is
// freed (announced on kSlotFreedChannel by the instance that released it), the longest-waiting
// request that may use that account is woken to try again; a request that loses the race
// keeps its place. No waiter polls Redis. The queue is bounded (loadBalancing.maxWaiting).
// Any thread may call it; a waiter is woken on its own thread.
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/net.hpp"

namespace crs::scheduler {

class SlotWaiters {
 public:
  struct Waiter {
    std::set<std::string> accounts;   // the accounts it may use
    asio::steady_timer* timer = nullptr;  // cancelled to wake it; null once it has left
    bool woken = false;   // a wake-up is on its way or being acted on
    int again = 0;        // slots freed for it while it was already awake
  };

  explicit SlotWaiters(size_t max_waiting) : max_(max_waiting) {}

  // Joins the end of the queue; null when the queue is full. `timer` belongs to the waiter's
  // coroutine and is cancelled, on its own executor, to wake it.
  std::shared_ptr<Waiter> join(std::set<std::string> accounts, asio::steady_timer& timer);
  void leave(const std::shared_ptr<Waiter>& waiter);
  // Woken but without a slot: true to try again at once (another slot was freed for it
  // meanwhile), false to wait again, keeping its place.
  bool rewait(const std::shared_ptr<Waiter>& waiter);
  // A slot of `account` was freed: the longest waiter that may use it is woken (or told to
  // try again if it is already awake).
  void freed(const std::string& account);
  // Every waiter tries again (announcements may have been missed: the subscription reconnected).
  void wake_all();
  size_t size() const;
  // loadBalancing.maxWaiting changed (SIGHUP): those already waiting keep their place.
  void set_max(size_t max_waiting);

 private:
  size_t max_;
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<Waiter>> queue_;
};

}  // namespace crs::scheduler
