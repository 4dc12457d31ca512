#include "usage/pricing.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

namespace crs::usage {
namespace json = boost::json;
namespace {

Result<Rates> read_rates(const json::value& v, const std::string& name) {
  if (!v.is_object()) return Error{"pricing: " + name + " must be an object"};
  const auto& o = v.get_object();
  Rates p;
  auto num = [&](const char* field, double& out) -> bool {
    auto* f = o.if_contains(field);
    if (!f || !f->is_number()) return false;
    out = f->to_number<double>();
    return out >= 0;
  };
  if (!num("input", p.input) || !num("output", p.output) || !num("cacheWrite5m", p.cache_write_5m) ||
      !num("cacheWrite1h", p.cache_write_1h) || !num("cacheRead", p.cache_read))
    return Error{"pricing: " + name + " needs non-negative input, output, cacheWrite5m, cacheWrite1h, cacheRead"};
  if (p.input == 0 && p.output == 0) return Error{"pricing: " + name + " would make requests free"};
  return p;
}

Result<Price> read_price(const json::value& v, const std::string& name) {
  auto rates = read_rates(v, name);
  if (!rates) return rates.error();
  Price p;
  static_cast<Rates&>(p) = *rates;
  auto* tier = v.get_object().if_contains("longContext");
  if (!tier) return p;
  auto long_rates = read_rates(*tier, name + ".longContext");
  if (!long_rates) return long_rates.error();
  auto* above = tier->get_object().if_contains("above");
  if (!above || !above->is_int64() || above->get_int64() <= 0)
    return Error{"pricing: " + name + ".longContext needs \"above\", a positive number of prompt tokens"};
  p.long_context_above = above->get_int64();
  p.long_context = *long_rates;
  return p;
}

// "claude-sonnet-4-5-20250929[1m]" -> "claude-sonnet-4-5-20250929"; Bedrock ids lose region and version.
// Each step cuts the name: a view of the requested name, nothing copied.
std::string_view normalise(std::string_view model) {
  if (auto b = model.find('['); b != std::string_view::npos) model = model.substr(0, b);
  if (auto p = model.find("anthropic."); p != std::string_view::npos) model.remove_prefix(p + 10);
  if (auto v = model.rfind("-v"); v != std::string_view::npos && model.find(':', v) != std::string_view::npos)
    model = model.substr(0, v);
  return model;
}

std::mutex g_warned_mutex;
std::set<std::string> g_warned;

void warn_once(const std::string& model, const std::string& source) {
  std::lock_guard lock(g_warned_mutex);
  if (g_warned.insert(model).second)
    spdlog::warn("pricing: model '{}' is not in the pricing table; priced as {}. Add it to config/pricing.json.",
                 model, source);
}

}  // namespace

Result<PricingTable> PricingTable::parse(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return Error{"pricing: not a JSON object"};
  const auto& root = v.get_object();
  PricingTable t;
  for (const char* section : {"models", "families"}) {
    auto* s = root.if_contains(section);
    if (!s || !s->is_object()) return Error{std::string("pricing: missing \"") + section + "\""};
    for (const auto& [name, price] : s->get_object()) {
      auto p = read_price(price, std::string(name));
      if (!p) return p.error();
      (std::string_view(section) == "models" ? t.models_ : t.families_)[std::string(name)] = *p;
    }
  }
  if (auto* a = root.if_contains("aliases"); a && a->is_object())
    for (const auto& [alias, target] : a->get_object())
      if (target.is_string()) t.aliases_[std::string(alias)] = std::string(target.get_string());
  auto* d = root.if_contains("default");
  if (!d) return Error{"pricing: missing \"default\""};
  auto dp = read_price(*d, "default");
  if (!dp) return dp.error();
  t.default_ = *dp;
  if (auto* tools = root.if_contains("serverTools"); tools && tools->is_object()) {
    auto* search = tools->get_object().if_contains("webSearchPerThousand");
    if (!search || !search->is_number() || search->to_number<double>() < 0)
      return Error{"pricing: serverTools.webSearchPerThousand must be a non-negative number"};
    t.web_search_per_thousand_ = search->to_number<double>();
  }
  return t;
}

Result<PricingTable> PricingTable::load(const std::string& path) {
  if (path.empty() || !std::filesystem::exists(path)) return parse(builtin_json());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto t = parse(ss.str());
  if (!t) return Error{path + ": " + t.error().message};
  return t;
}

PriceMatch PricingTable::find(const std::string& requested) const {
  std::string_view model = normalise(requested);
  if (auto it = models_.find(model); it != models_.end()) return {it->second, "model"};
  if (auto a = aliases_.find(model); a != aliases_.end())
    if (auto it = models_.find(a->second); it != models_.end()) return {it->second, "alias"};
  for (const auto& [family, price] : families_)
    if (model.find(family) != std::string_view::npos) return {price, "family:" + family};
  return {default_, "default"};
}

PriceMatch PricingTable::lookup(const std::string& requested) const {
  auto match = find(requested);
  if (match.fallback())
    warn_once(requested, match.source == "default" ? "the default price" : "family " + match.source.substr(7));
  return match;
}

std::vector<std::string> PricingTable::model_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, price] : models_) ids.push_back(id);
  auto date = [](const std::string& id) { return id.size() > 8 ? id.substr(id.size() - 8) : std::string(); };
  std::stable_sort(ids.begin(), ids.end(), [&](const auto& a, const auto& b) { return date(a) > date(b); });
  return ids;
}

Cost PricingTable::cost(const std::string& model, const Usage& u) const {
  auto match = lookup(model);
  const Price& p = match.price;
  Cost cost;
  cost.fallback = match.fallback();
  cost.long_context = p.long_context_above > 0 && u.prompt_tokens() > p.long_context_above;
  const Rates& r = cost.long_context ? p.long_context : p;
  // The one-hour part is what the upstream said it was (never more than the total); the rest of
  // the cache writes are five-minute writes.
  int64_t create_1h = std::min(u.cache_creation_1h, u.cache_creation_input_tokens);
  int64_t create_5m = u.cache_creation_input_tokens - create_1h;
  // tokens x USD per million tokens = micro-USD; a search costs USD per thousand x 1,000.
  double micro = static_cast<double>(u.input_tokens) * r.input + static_cast<double>(u.output_tokens) * r.output +
                 static_cast<double>(create_5m) * r.cache_write_5m + static_cast<double>(create_1h) * r.cache_write_1h +
                 static_cast<double>(u.cache_read_input_tokens) * r.cache_read +
                 static_cast<double>(u.web_search_requests) * web_search_per_thousand_ * 1000;
  cost.micro = static_cast<int64_t>(std::llround(micro));
  return cost;
}

Status Pricing::reload() {
  auto next = PricingTable::load(path_);
  if (!next) return next.error();
  auto fresh = std::make_shared<const PricingTable>(std::move(*next));
  std::lock_guard lock(mutex_);
  table_.swap(fresh);  // the old table is freed outside the lock
  return Ok{};
}

}  // namespace crs::usage
