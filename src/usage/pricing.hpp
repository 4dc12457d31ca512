#pragma once
// Prices per model from config/pricing.json (built into the binary as a fallback). Unknown
// models are priced by family (opus/sonnet/haiku), then by the default, never at zero.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "usage/usage.hpp"

namespace crs::usage {

struct Price {  // USD per million tokens
  double input = 0, output = 0, cache_write_5m = 0, cache_write_1h = 0, cache_read = 0;
};

struct PriceMatch {
  Price price;
  std::string source;  // "model", "alias", "family:opus", "default"
};

class PricingTable {
 public:
  static Result<PricingTable> parse(const std::string& json_text);
  // The file if it exists and parses; else the built-in table (an unreadable file is an error).
  static Result<PricingTable> load(const std::string& path);
  static const std::string& builtin_json();

  PriceMatch lookup(const std::string& model) const;
  // The priced model ids, newest release date first (for GET /v1/models).
  std::vector<std::string> model_ids() const;
  // Cost in micro-USD (integer, so sums are exact).
  int64_t cost_micro_usd(const std::string& model, const Usage& usage) const;

 private:
  std::map<std::string, Price> models_;
  std::map<std::string, std::string> aliases_;
  std::map<std::string, Price> families_;
  Price default_;
};

}  // namespace crs::usage
