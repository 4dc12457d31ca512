#pragma once
// The list of configuration keys: path in config.toml, type, environment variables, limits.
// Defaults are not repeated here: they are the member initialisers of Config (config.hpp).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace crs::config {

enum class ValueType { Bool, Int, Double, String, StringList };
using Value = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;

std::string_view type_name(ValueType type);

struct KeySpec {
  std::string path;                       // "loadBalancing.healthCheck.interval"
  ValueType type = ValueType::String;
  std::vector<std::string> env;           // environment variables that set it, strongest last
  bool secret = false;                    // masked in every output
  bool live = false;                      // SIGHUP changes it in a running relay (config/reload.hpp)
  bool has_range = false;
  double min = 0, max = 0;                // inclusive, for Int and Double
  std::vector<std::string> choices;       // allowed values for String (and StringList items)
  std::function<Value(const Config&)> get;
  std::function<void(Config&, const Value&)> set;

  KeySpec& from_env(std::vector<std::string> names) { env = std::move(names); return *this; }
  KeySpec& range(double lo, double hi) { has_range = true; min = lo; max = hi; return *this; }
  KeySpec& one_of(std::vector<std::string> values) { choices = std::move(values); return *this; }
  KeySpec& is_secret() { secret = true; return *this; }
};

const std::vector<KeySpec>& schema();
const KeySpec* find_key(std::string_view path);
// True when `path` names a table that contains keys ("loadBalancing.healthCheck").
bool is_table(std::string_view path);

// Checks a value against the key's type-independent limits; returns an error text or "".
std::string check_limits(const KeySpec& spec, const Value& value);

std::string format_value(const Value& value);

}  // namespace crs::config
