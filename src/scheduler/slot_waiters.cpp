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

namespace {

// The timer is touched only on its own thread; the waiter may have left by then.
void wake(const std::shared_ptr<SlotWaiters::Waiter>& w) {
  w->woken = true;
  asio::post(w->timer->get_executor(), [w] {
    if (w->timer) w->timer->cancel();
  });
}

}  // namespace

void SlotWaiters::leave(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  waiter->timer = nullptr;
  queue_.erase(std::remove(queue_.begin(), queue_.end(), waiter), queue_.end());
  if (!waiter->woken && waiter->again == 0) return;
  // It leaves with a wake-up it did not use (its client left): the next waiter gets it.
  for (auto& w : queue_) {
    bool shares = std::any_of(waiter->accounts.begin(), waiter->accounts.end(),
                              [&](const std::string& a) { return w->accounts.count(a) > 0; });
    if (shares && !w->woken && w->timer) {
      wake(w);
      return;
    }
  }
}

bool SlotWaiters::rewait(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  if (waiter->again > 0) {
    --waiter->again;
    return true;
  }
  waiter->woken = false;
  return false;
}

void SlotWaiters::freed(const std::string& account) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<Waiter> awake;
  for (auto& w : queue_) {
    if (!w->timer || !w->accounts.count(account)) continue;
    if (!w->woken) {
      wake(w);
      return;
    }
    if (!awake) awake = w;
  }
  if (awake) ++awake->again;  // every eligible waiter is awake: the first one tries again
}

void SlotWaiters::wake_all() {
  std::lock_guard lock(mutex_);
  for (auto& w : queue_)
    if (w->timer && !w->woken) wake(w);
}

size_t SlotWaiters::size() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void SlotWaiters::set_max(size_t max_waiting) {
  std::lock_guard lock(mutex_);
  max_ = max_waiting;
}

}  // namespace crs::scheduler
