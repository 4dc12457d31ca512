#include "accounts/scheduling.hpp"

#include <charconv>
#include <cmath>

#include <boost/json.hpp>

#include "accounts/account.hpp"

namespace crs::accounts {
namespace json = boost::json;
namespace {

constexpr size_t kMaxModels = 200;
constexpr size_t kMaxModelName = 200;

// A plan's capacity relative to Pro; nullopt when the text is not a plan.
std::optional<double> plan_capacity(std::string_view plan) {
  if (plan == "pro") return 1.0;
  if (plan == "max5") return 5.0;
  if (plan == "max20") return 20.0;
  double n = 0;
  auto [end, ec] = std::from_chars(plan.data(), plan.data() + plan.size(), n);
  if (ec != std::errc() || end != plan.data() + plan.size() || !std::isfinite(n) || n <= 0 || n > 1000)
    return std::nullopt;
  return n;
}

// A model name as stored: printable ASCII without quotes or backslashes, so it can be put in
// a JSON body as is.
bool plain_model_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxModelName) return false;
  for (char c : name)
    if (c <= ' ' || c > '~' || c == '"' || c == '\\') return false;
  return true;
}

bool matches(std::string_view pattern, std::string_view model) {
  if (pattern.ends_with('*')) return model.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == model;
}

}  // namespace

double AccountScheduling::effective_weight() const {
  if (weight) return *weight;
  if (auto capacity = plan_capacity(plan)) return *capacity;
  return 1.0;
}

double AccountScheduling::effective_cost_factor(std::string_view type) const {
  if (cost_factor) return *cost_factor;
  return type == kClaudeOauth ? 0.1 : 1.0;
}

bool AccountScheduling::serves(std::string_view model) const {
  if (models.empty()) return true;
  if (model_map.count(std::string(model))) return true;
  for (const auto& pattern : models)
    if (matches(pattern, model)) return true;
  return false;
}

std::optional<std::string> AccountScheduling::upstream_model(std::string_view model) const {
  auto it = model_map.find(std::string(model));
  if (it == model_map.end() || it->second == model) return std::nullopt;
  return it->second;
}

std::string validate_plan(std::string_view plan) {
  if (plan.empty() || plan_capacity(plan)) return {};
  return "plan: must be pro, max5, max20 or a number between 0 and 1000 (its capacity relative to pro)";
}

std::string validate_models(const std::vector<std::string>& models) {
  if (models.size() > kMaxModels) return "models: at most " + std::to_string(kMaxModels) + " entries";
  for (const auto& m : models) {
    if (!plain_model_name(m)) return "models: \"" + m + "\" is not a model name (printable, no quotes, at most 200)";
    if (m.find('*') != std::string::npos && (m.find('*') != m.size() - 1 || m.size() == 1))
      return "models: \"" + m + "\": '*' may only end a prefix (e.g. claude-sonnet-4*)";
  }
  return {};
}

std::string validate_model_map(const std::map<std::string, std::string>& map) {
  if (map.size() > kMaxModels) return "modelMapping: at most " + std::to_string(kMaxModels) + " entries";
  for (const auto& [from, to] : map) {
    if (!plain_model_name(from) || from.find('*') != std::string::npos)
      return "modelMapping: \"" + from + "\" is not a model name";
    if (!plain_model_name(to) || to.find('*') != std::string::npos)
      return "modelMapping: \"" + to + "\" (for " + from + ") is not a model name";
  }
  return {};
}

std::string validate(const AccountScheduling& s) {
  if (s.max_concurrency < 0 || s.max_concurrency > 100000) return "maxConcurrency: must be between 0 and 100000";
  if (s.weight && !(std::isfinite(*s.weight) && *s.weight > 0 && *s.weight <= 1000))
    return "weight: must be a number above 0 and at most 1000";
  if (s.cost_factor && !(std::isfinite(*s.cost_factor) && *s.cost_factor >= 0 && *s.cost_factor <= 100))
    return "costFactor: must be a number between 0 and 100";
  if (auto p = validate_plan(s.plan); !p.empty()) return p;
  if (auto m = validate_models(s.models); !m.empty()) return m;
  return validate_model_map(s.model_map);
}

std::string models_to_json(const std::vector<std::string>& models) {
  json::array a;
  for (const auto& m : models) a.emplace_back(m);
  return json::serialize(a);
}

std::string model_map_to_json(const std::map<std::string, std::string>& map) {
  json::object o;
  for (const auto& [from, to] : map) o[from] = to;
  return json::serialize(o);
}

std::vector<std::string> models_from_json(std::string_view text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& m : v.get_array())
    if (m.is_string()) out.emplace_back(m.get_string());
  return out;
}

std::map<std::string, std::string> model_map_from_json(std::string_view text) {
  std::map<std::string, std::string> out;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [from, to] : v.get_object())
    if (to.is_string()) out[std::string(from)] = std::string(to.get_string());
  return out;
}

}  // namespace crs::accounts
