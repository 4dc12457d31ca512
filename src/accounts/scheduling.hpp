#pragma once
// What the load balancer needs to know of an account besides its credentials: its cap on
// requests in flight, its share, what its tokens cost, the subscription plan it stands for,
// whether it is in the shared pool, and the models it serves (with an optional mapping to
// the upstream's names). Set by `crs accounts add|update` and the admin API, validated here.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crs::accounts {

struct AccountScheduling {
  int max_concurrency = 0;             // requests in flight across all instances; 0 = no cap
  std::optional<double> weight;        // unset: from the plan, else 1
  std::optional<double> cost_factor;   // unset: 1.0 (Console) or 0.1 (OAuth, a flat-rate plan)
  std::string plan;                    // OAuth: pro | max5 | max20 | a positive number; "" = unknown
  bool schedulable = true;             // false: only keys bound to it (or its group) use it
  std::vector<std::string> models;     // allow-list ("claude-sonnet-4*" matches a prefix); empty = any
  std::map<std::string, std::string> model_map;  // requested -> upstream name

  // The share this account takes (weighted_random, balanced): the weight, else the plan's
  // capacity (pro 1, max5 5, max20 20, or the number), else 1.
  double effective_weight() const;
  double effective_cost_factor(std::string_view type) const;

  // Whether the account serves `model` (by the allow-list, or as a key of the mapping).
  bool serves(std::string_view model) const;
  // The upstream's name for `model`, or nullopt when it goes up unchanged.
  std::optional<std::string> upstream_model(std::string_view model) const;
};

// "" when valid, else what is wrong, naming the field.
std::string validate_plan(std::string_view plan);
std::string validate_models(const std::vector<std::string>& models);
std::string validate_model_map(const std::map<std::string, std::string>& map);
std::string validate(const AccountScheduling& s);

// Storage form (fields of the account's hash; JSON for the lists).
std::string models_to_json(const std::vector<std::string>& models);
std::string model_map_to_json(const std::map<std::string, std::string>& map);
std::vector<std::string> models_from_json(std::string_view text);
std::map<std::string, std::string> model_map_from_json(std::string_view text);

}  // namespace crs::accounts
