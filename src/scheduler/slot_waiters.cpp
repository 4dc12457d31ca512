#include "scheduler/slot_waiters.hpp"

#include <algorithm>

namespace crs::scheduler {

std::shared_ptr<SlotWaiters::Waiter> SlotWaiters::join(std::set<std::string> accounts, asio::steady_timer& timer) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= max_) return nullptr;
  auto w = std::make_shared<Waiter>();
  w->accounts = std::move(accounts);
  w->timer = &timer;
  queue_.push_back(w);
  return w;
}

void SlotWaiters::leave(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  waiter->timer = nullptr;
  queue_.erase(std::remove(queue_.begin(), queue_.end(), waiter), queue_.end());
}

void SlotWaiters::rewait(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  waiter->woken = false;
}

void SlotWaiters::freed(const std::string& account) {
  std::lock_guard lock(mutex_);
  for (auto& w : queue_) {
    if (w->woken || !w->timer || !w->accounts.count(account)) continue;
    w->woken = true;
    // The timer is touched only on its own thread; the waiter may have left by then.
    asio::post(w->timer->get_executor(), [w] {
      if (w->timer) w->timer->cancel();
    });
    return;
  }
}

size_t SlotWaiters::size() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace crs::scheduler
