#pragma once
// Orders the candidate accounts of one request, best first. Two implementations:
//   PriorityLruScheduler  loadBalancing.enabled = false: lowest priority number first, then the
//                         one this instance selected longest ago (the relay core's scheduler);
//   StrategyScheduler     the five strategies of strategy.hpp; the strategy is
//                         loadBalancing.defaultStrategy until one is set at runtime (globally or
//                         for a group), which then wins, on every instance, until cleared.
// The relay takes the first candidate not at its cap (selection.hpp, in Redis when the choice
// depends on other instances).
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "scheduler/load_book.hpp"
#include "scheduler/strategy.hpp"

namespace crs::scheduler {

struct OrderInput {
  std::string group;  // the key's account group ("" = the shared pool)
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::vector<Ranked> order(const std::vector<Candidate>& candidates, const OrderInput& input) = 0;
  // The strategy in force for a group ("" = global), by name.
  virtual std::string strategy_for(const std::string& group) const = 0;
  // Whether the order must be decided in Redis (least_recent across instances).
  virtual bool orders_in_redis(const std::string& group) const = 0;
};

class PriorityLruScheduler final : public Scheduler {
 public:
  std::vector<Ranked> order(const std::vector<Candidate>& candidates, const OrderInput& input) override;
  std::string strategy_for(const std::string&) const override { return "priority"; }
  bool orders_in_redis(const std::string&) const override { return false; }
};

struct StrategySettings {
  Strategy fallback = Strategy::LeastUsed;  // loadBalancing.defaultStrategy
  AlgorithmWeights weights;
  double pause_at = 0.95;
  double ttfb_threshold_ms = 5000;
};

class StrategyScheduler final : public Scheduler {
 public:
  explicit StrategyScheduler(StrategySettings settings) : settings_(settings) {}

  std::vector<Ranked> order(const std::vector<Candidate>& candidates, const OrderInput& input) override;
  std::string strategy_for(const std::string& group) const override;
  bool orders_in_redis(const std::string& group) const override;

  // What is set at runtime (from Redis): "global" and "group:<id>" -> strategy name.
  void set_runtime(const std::map<std::string, std::string>& set);
  // The configuration's part (SIGHUP replaces it).
  void set_settings(const StrategySettings& settings);
  StrategySettings settings() const;

 private:
  Strategy current_locked(const std::string& group) const;
  Strategy current(const std::string& group) const;

  StrategySettings settings_;
  mutable std::mutex mutex_;
  std::map<std::string, Strategy> runtime_;
};

}  // namespace crs::scheduler
