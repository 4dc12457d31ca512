#include "scheduler/strategy.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace crs::scheduler {
namespace {

constexpr std::pair<Strategy, std::string_view> kNames[] = {{Strategy::LeastUsed, "least_used"},
                                                            {Strategy::LeastRecent, "least_recent"},
                                                            {Strategy::LowestCost, "lowest_cost"},
                                                            {Strategy::Balanced, "balanced"},
                                                            {Strategy::WeightedRandom, "weighted_random"}};

double weight_of(const Candidate& c) { return std::max(c.account->scheduling.effective_weight(), 1e-9); }

// What this request is expected to cost on the account.
double expected_cost(const Candidate& c) {
  return c.request_cost * c.account->scheduling.effective_cost_factor(c.account->type);
}

// x over the candidates mapped to [0,1]: (x - min) / (max - min); 0 for all when they are equal.
std::vector<double> spread(const std::vector<double>& xs) {
  auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  std::vector<double> out(xs.size(), 0.0);
  if (xs.empty() || *hi - *lo < 1e-12) return out;
  for (size_t i = 0; i < xs.size(); ++i) out[i] = (xs[i] - *lo) / (*hi - *lo);
  return out;
}

// least_used's measure: capacity-relative utilisation when every candidate reports one (the
// upstream's own view of the window), else metered tokens per unit of weight.
std::vector<double> usage_per_weight(const std::vector<Candidate>& cs) {
  bool all_report = std::all_of(cs.begin(), cs.end(), [](const Candidate& c) { return c.load.utilization_5h >= 0; });
  std::vector<double> out;
  for (const auto& c : cs)
    out.push_back(all_report ? c.load.utilization_5h : static_cast<double>(c.load.window_tokens) / weight_of(c));
  return out;
}

// In flight relative to what the account can take: its cap, else its weight.
double busy(const Candidate& c) {
  int cap = c.account->scheduling.max_concurrency;
  return cap > 0 ? static_cast<double>(c.load.in_flight) / cap : c.load.in_flight / weight_of(c);
}

void score_balanced(const std::vector<Candidate>& cs, const RankOptions& o, std::vector<Ranked>& out) {
  std::vector<double> costs, busyness;
  for (const auto& c : cs) {
    costs.push_back(expected_cost(c));
    busyness.push_back(busy(c));
  }
  auto cost_spread = spread(costs);
  auto busy_spread = spread(busyness);
  auto usage_spread = spread(usage_per_weight(cs));
  const auto& w = o.weights;
  for (size_t i = 0; i < cs.size(); ++i) {
    auto& r = out[i];
    const auto& load = cs[i].load;
    r.cost = 1 - cost_spread[i];
    r.performance = load.ttfb_ms <= 0 ? 1 : std::clamp(1 - load.ttfb_ms / o.ttfb_threshold_ms, 0.0, 1.0);
    r.load = 1 - (busy_spread[i] + usage_spread[i]) / 2;
    r.reliability = std::clamp(load.success_rate, 0.0, 1.0);
    r.score = w.cost * r.cost + w.performance * r.performance + w.load * r.load + w.reliability * r.reliability;
  }
}

// weighted_random: repeated draws proportional to weight, each without the ones drawn before.
std::vector<size_t> weighted_order(const std::vector<Candidate>& cs, std::mt19937_64& random) {
  std::vector<size_t> left(cs.size());
  for (size_t i = 0; i < cs.size(); ++i) left[i] = i;
  std::vector<size_t> order;
  while (!left.empty()) {
    double total = 0;
    for (size_t i : left) total += weight_of(cs[i]);
    double point = std::uniform_real_distribution<double>(0, total)(random);
    size_t at = left.size() - 1;
    for (size_t k = 0; k < left.size(); ++k) {
      point -= weight_of(cs[left[k]]);
      if (point < 0) {
        at = k;
        break;
      }
    }
    order.push_back(left[at]);
    left.erase(left.begin() + static_cast<std::ptrdiff_t>(at));
  }
  return order;
}

}  // namespace

std::optional<Strategy> parse_strategy(std::string_view name) {
  for (auto [s, n] : kNames)
    if (n == name) return s;
  return std::nullopt;
}

std::string_view strategy_name(Strategy s) {
  for (auto [k, n] : kNames)
    if (k == s) return n;
  return "least_used";
}

bool over_headroom(const AccountLoad& load, double pause_at) {
  return load.utilization_5h > pause_at || load.utilization_7d > pause_at;
}

std::vector<Ranked> rank(const std::vector<Candidate>& cs, const RankOptions& o) {
  std::vector<Ranked> out(cs.size());
  for (size_t i = 0; i < cs.size(); ++i) {
    out[i].index = i;
    out[i].paused = over_headroom(cs[i].load, o.pause_at);
    out[i].degraded = cs[i].load.degraded;
  }
  auto recent = [&](const Ranked& a, const Ranked& b) {
    const auto &x = cs[a.index], &y = cs[b.index];
    if (x.load.last_used_ms != y.load.last_used_ms) return x.load.last_used_ms < y.load.last_used_ms;
    if (x.account->priority != y.account->priority) return x.account->priority < y.account->priority;
    return a.index < b.index;
  };
  std::function<bool(const Ranked&, const Ranked&)> better = recent;
  switch (o.strategy) {
    case Strategy::LeastUsed: {
      auto usage = usage_per_weight(cs);
      for (auto& r : out) r.metric = usage[r.index];
      better = [&](const Ranked& a, const Ranked& b) {
        if (std::fabs(a.metric - b.metric) > 1e-12) return a.metric < b.metric;
        if (cs[a.index].load.in_flight != cs[b.index].load.in_flight)
          return cs[a.index].load.in_flight < cs[b.index].load.in_flight;
        return recent(a, b);
      };
      break;
    }
    case Strategy::LeastRecent:
      break;
    case Strategy::LowestCost:
      for (auto& r : out) r.metric = expected_cost(cs[r.index]);
      better = [&](const Ranked& a, const Ranked& b) {
        if (std::fabs(a.metric - b.metric) > 1e-12) return a.metric < b.metric;
        return recent(a, b);
      };
      break;
    case Strategy::Balanced:
      score_balanced(cs, o, out);
      better = [&](const Ranked& a, const Ranked& b) {
        if (std::fabs(a.score - b.score) > 1e-12) return a.score > b.score;
        return recent(a, b);
      };
      break;
    case Strategy::WeightedRandom: {
      std::mt19937_64 fallback(0);
      auto order = weighted_order(cs, o.random ? *o.random : fallback);
      std::vector<size_t> place(cs.size());
      for (size_t k = 0; k < order.size(); ++k) place[order[k]] = k;
      better = [place](const Ranked& a, const Ranked& b) { return place[a.index] < place[b.index]; };
      break;
    }
  }
  std::stable_sort(out.begin(), out.end(), [&](const Ranked& a, const Ranked& b) {
    if (a.degraded != b.degraded) return !a.degraded;
    if (a.paused != b.paused) return !a.paused;
    int pa = cs[a.index].account->priority, pb = cs[b.index].account->priority;
    if (pa != pb) return pa < pb;
    return better(a, b);
  });
  return out;
}

}  // namespace crs::scheduler
