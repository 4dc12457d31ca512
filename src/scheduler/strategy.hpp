#pragma once
// The load-balancing strategies as pure functions: given the candidate accounts of one request
// and what is known of their load, the order in which to try them (best first). The first one
// not at its cap is used (scheduler/selection.hpp decides that in Redis, across instances).
//
//   least_used       fewest tokens in the account's window, per unit of weight (capacity-
//                    relative utilisation when every candidate reports one); ties: fewest in
//                    flight, then priority, then selected longest ago
//   least_recent     selected longest ago (across instances: the selection script re-sorts by
//                    the time Redis holds)
//   lowest_cost      lowest expected cost of this request (its list price on the account x
//                    costFactor); ties:
//                    least_recent
//   balanced         highest weighted score of four parts, each in [0,1] over the candidates
//   weighted_random  drawn with probability proportional to weight, without replacement
//
// Priority first, in every strategy: the strategy orders the accounts of one priority (the
// default is 50 for all); a lower number is a tier the others back up.
// Headroom before even that: an account whose 5h or 7d utilisation is over pauseAt goes
// behind every account that is not, so it is used only when nothing else is left; and a
// degraded account (health/classify.hpp) goes behind every healthy one, paused or not.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/account.hpp"

namespace crs::scheduler {

enum class Strategy { LeastUsed, LeastRecent, LowestCost, Balanced, WeightedRandom };

std::optional<Strategy> parse_strategy(std::string_view name);
std::string_view strategy_name(Strategy s);

// What is known of one account's load. Unknown values keep their defaults.
struct AccountLoad {
  int in_flight = 0;               // requests in flight (all instances for capped accounts)
  int64_t window_tokens = 0;       // tokens in its window (OAuth 5 h, Console 24 h)
  double utilization_5h = -1;      // from the upstream's unified rate-limit headers, 0..1; -1 unknown
  double utilization_7d = -1;
  int64_t last_used_ms = 0;        // when it was last selected
  double ttfb_ms = 0;              // recent time to first byte; 0 unknown
  double success_rate = 1;         // recent share of calls that did not fail on the account's side
  bool degraded = false;           // its health class: used only when no healthy candidate is left
};

struct Candidate {
  const accounts::Account* account = nullptr;
  AccountLoad load;
  double request_cost = 1;  // list price of this request on this account (its model, mapped)
};

struct AlgorithmWeights {
  double cost = 0.4, performance = 0.3, load = 0.2, reliability = 0.1;
};

struct RankOptions {
  Strategy strategy = Strategy::LeastUsed;
  AlgorithmWeights weights;
  double pause_at = 0.95;               // headroom: utilisation above which an account waits
  double ttfb_threshold_ms = 5000;      // balanced: a time to first byte this slow scores 0
  std::mt19937_64* random = nullptr;    // weighted_random (required for it)
};

// One candidate's place and why: its score parts (balanced), its metric for the others.
struct Ranked {
  size_t index = 0;   // into the candidates
  bool paused = false;  // over the headroom threshold
  bool degraded = false;  // its health class is degraded
  double cost = 0, performance = 0, load = 0, reliability = 0, score = 0;
  double metric = 0;  // least_used: usage per weight; lowest_cost: expected cost; else 0
};

bool over_headroom(const AccountLoad& load, double pause_at);

// Candidates, best first.
std::vector<Ranked> rank(const std::vector<Candidate>& candidates, const RankOptions& options);

}  // namespace crs::scheduler
