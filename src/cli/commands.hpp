#pragma once
#include <string>

#include "config/loader.hpp"

namespace crs::cli {

struct GlobalOptions {
  std::string config_path;
  bool json = false;
};

config::Loaded load_config(const GlobalOptions& options);

// Each returns the process exit code.
int config_check(const GlobalOptions& options);
int status(const GlobalOptions& options, const std::string& server_url);

}  // namespace crs::cli
