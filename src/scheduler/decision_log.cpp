#include "scheduler/decision_log.hpp"

namespace crs::scheduler {

void DecisionLog::record(const Decision& d) {
  std::lock_guard lock(mutex_);
  ring_[next_] = d;
  next_ = (next_ + 1) % kKept;
  count_ = std::min(count_ + 1, kKept);
}

std::vector<Decision> DecisionLog::recent(size_t max) const {
  std::vector<Decision> out;
  out.reserve(std::min(max, kKept));  // outside the lock the request path takes
  std::lock_guard lock(mutex_);
  size_t n = std::min(max, count_);
  for (size_t i = 1; i <= n; ++i) out.push_back(ring_[(next_ + kKept - i) % kKept]);
  return out;
}

DecisionLog& decision_log() {
  static DecisionLog log;
  return log;
}

}  // namespace crs::scheduler
