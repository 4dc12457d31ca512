#pragma once
// The configuration as `crs config check --json` and the console's settings page show it: every
// key with its value, where the value came from, the variables that set it and whether SIGHUP
// changes it. Secrets are masked: the CLI shows their ends, the console only whether they are set.
#include <map>
#include <string>

#include <boost/json.hpp>

#include "config/loader.hpp"

namespace crs::admin {

// How much of a secret is shown: its ends (core/secret.hpp's mask, for `crs config check` on the
// relay's own machine), or only whether it is set (over HTTP, to the console).
enum class SecretView { kMasked, kSetOrNot };

// A value as shown: secrets masked or "(set)", "(not set)" when empty, or when
// `generated_later` is set "(not set: generated on first start)".
std::string shown_value(const config::KeySpec& spec, const config::Value& value, bool generated_later,
                        SecretView view = SecretView::kMasked);

boost::json::array config_keys_json(const config::Config& cfg, const std::map<std::string, config::Origin>& origins,
                                    SecretView view);

}  // namespace crs::admin
