#include "scheduler/scheduler.hpp"

#include <algorithm>

namespace crs::scheduler {

std::vector<Ranked> PriorityLruScheduler::order(const std::vector<Candidate>& cs, const OrderInput&) {
  std::vector<Ranked> out(cs.size());
  for (size_t i = 0; i < cs.size(); ++i) out[i].index = i;
  std::stable_sort(out.begin(), out.end(), [&](const Ranked& a, const Ranked& b) {
    const auto &x = cs[a.index], &y = cs[b.index];
    if (x.account->priority != y.account->priority) return x.account->priority < y.account->priority;
    return x.load.last_used_ms < y.load.last_used_ms;
  });
  return out;
}

Strategy StrategyScheduler::current(const std::string& group) const {
  std::lock_guard lock(mutex_);
  return current_locked(group);
}

Strategy StrategyScheduler::current_locked(const std::string& group) const {
  if (!group.empty())
    if (auto it = runtime_.find("group:" + group); it != runtime_.end()) return it->second;
  if (auto it = runtime_.find("global"); it != runtime_.end()) return it->second;
  return settings_.fallback;
}

std::vector<Ranked> StrategyScheduler::order(const std::vector<Candidate>& cs, const OrderInput& input) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  RankOptions o;
  {
    std::lock_guard lock(mutex_);
    o.strategy = current_locked(input.group);
    o.weights = settings_.weights;
    o.pause_at = settings_.pause_at;
    o.ttfb_threshold_ms = settings_.ttfb_threshold_ms;
  }
  o.random = &random;
  return rank(cs, o);
}

std::string StrategyScheduler::strategy_for(const std::string& group) const {
  return std::string(strategy_name(current(group)));
}

bool StrategyScheduler::orders_in_redis(const std::string& group) const {
  return current(group) == Strategy::LeastRecent;
}

void StrategyScheduler::set_settings(const StrategySettings& settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
}

StrategySettings StrategyScheduler::settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

void StrategyScheduler::set_runtime(const std::map<std::string, std::string>& set) {
  std::map<std::string, Strategy> next;
  for (const auto& [scope, name] : set)
    if (auto s = parse_strategy(name)) next[scope] = *s;
  std::lock_guard lock(mutex_);
  runtime_ = std::move(next);
}

}  // namespace crs::scheduler
