#pragma once
// Prices per model from config/pricing.json (built into the binary as a fallback). Unknown
// models are priced by family (opus/sonnet/haiku/...), then by the default, never at zero,
// and flagged as priced by fallback. Long-context tiers and server tools (web search) are priced.
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "usage/usage.hpp"

namespace crs::usage {

struct Rates {  // USD per million tokens
  double input = 0, output = 0, cache_write_5m = 0, cache_write_1h = 0, cache_read = 0;
};

struct Price : Rates {
  // Long context: a prompt (input + cache reads + cache writes) over this many tokens has every
  // token of the request priced at `long_context` (0: the model has no such tier).
  int64_t long_context_above = 0;
  Rates long_context;
};

struct PriceMatch {
  Price price;
  std::string source;  // "model", "alias", "family:opus", "default"
  bool fallback() const { return source != "model" && source != "alias"; }
};

struct Cost {
  int64_t micro = 0;          // micro-USD (integer, so sums are exact)
  bool long_context = false;  // priced at the long-context tier
  bool fallback = false;      // the model has no exact entry: priced by family or default
};

class PricingTable {
 public:
  static Result<PricingTable> parse(const std::string& json_text);
  // The file if it exists and parses; else the built-in table (an unreadable file is an error).
  static Result<PricingTable> load(const std::string& path);
  static const std::string& builtin_json();

  PriceMatch lookup(const std::string& model) const;  // warns once per model priced by fallback
  PriceMatch find(const std::string& model) const;    // the same, silently
  // The priced model ids, newest release date first (for GET /v1/models).
  std::vector<std::string> model_ids() const;
  Cost cost(const std::string& model, const Usage& usage) const;
  int64_t cost_micro_usd(const std::string& model, const Usage& usage) const { return cost(model, usage).micro; }
  // Whether `model` has an exact entry (by id or alias).
  bool has_entry(const std::string& model) const { return !find(model).fallback(); }

 private:
  std::map<std::string, Price, std::less<>> models_;  // std::less<>: looked up by a view
  std::map<std::string, std::string, std::less<>> aliases_;
  std::map<std::string, Price, std::less<>> families_;
  Price default_;
  double web_search_per_thousand_ = 10;  // USD per 1,000 web searches (server_tool_use)
};

// The price table in force, replaced whole when the file is reloaded (`crs pricing reload`,
// SIGHUP): a request prices with the table it found, never half of two.
class Pricing {
 public:
  Pricing(PricingTable table, std::string path)
      : table_(std::make_shared<const PricingTable>(std::move(table))), path_(std::move(path)) {}

  std::shared_ptr<const PricingTable> table() const {
    std::lock_guard lock(mutex_);
    return table_;
  }
  Cost cost(const std::string& model, const Usage& usage) const { return table()->cost(model, usage); }
  std::vector<std::string> model_ids() const { return table()->model_ids(); }
  // Reads the file again; on an error the table in force stays and the error is returned.
  Status reload();

 private:
  // A mutex, not std::atomic<shared_ptr>: libstdc++ 12's load() releases its internal lock with
  // relaxed order, a data race with the next store() (ThreadSanitizer found it, make test-tsan).
  mutable std::mutex mutex_;
  std::shared_ptr<const PricingTable> table_;
  std::string path_;
};

}  // namespace crs::usage
