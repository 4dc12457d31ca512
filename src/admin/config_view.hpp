#pragma once
// The configuration as `crs config check --json` and the console's settings page show it: every
// key with its value, where the value came from, the variables that set it and whether SIGHUP
// changes it. Secrets are masked (core/secret.hpp): never shown, not even in part.
#include <map>
#include <string>

#include <boost/json.hpp>

#include "config/loader.hpp"

namespace crs::admin {

// A value as shown: secrets masked ("(not set)" when empty, or when `generated_later` is set
// "(not set: generated on first start)").
std::string shown_value(const config::KeySpec& spec, const config::Value& value, bool generated_later);

boost::json::array config_keys_json(const config::Config& cfg, const std::map<std::string, config::Origin>& origins);

}  // namespace crs::admin
