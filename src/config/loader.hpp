#pragma once
// Builds the effective configuration from, weakest first: defaults, secrets generated on a
// first start (<dataDir>/secrets.env), config/config.toml, .env, the process environment.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/schema.hpp"
#include "core/result.hpp"

namespace crs::config {

enum class Source { Default, Generated, File, DotEnv, Env };
std::string_view source_name(Source source);

struct LoadOptions {
  std::string config_path;        // empty: default_config_path if it exists
  std::string default_config_path = "config/config.toml";
  std::string env_file = ".env";  // read if it exists
  std::map<std::string, std::string> environment;  // usually the process environment
};

// Where one key's effective value came from.
struct Origin {
  Source source = Source::Default;
  std::string where;  // "config/config.toml:12", ".env:3", "PORT", ...
};

struct Loaded {
  Config config;
  std::map<std::string, Origin> origins;  // by key path; every schema key is present
  std::string config_path;                // the file that was read, or "" if none
  std::vector<std::string> errors;        // each names its file/line or variable and the key

  bool ok() const { return errors.empty(); }
};

LoadOptions default_load_options(const std::string& config_path);
std::map<std::string, std::string> process_environment();

Loaded load(const LoadOptions& options);

// On a first start without JWT_SECRET/ENCRYPTION_KEY: generates strong values, persists them in
// <dataDir>/secrets.env (0600, directory 0700). Returns the names generated (empty if none).
Result<std::vector<std::string>> ensure_secrets(Loaded& loaded);

}  // namespace crs::config
