#pragma once
#include <string>
#include <string_view>

namespace crs {

// Shows enough of a secret to recognise it, never enough to use it:
// "cr_1a2b…9f0e" for long values, "***" for short ones, "" for empty.
std::string mask_secret(std::string_view secret);

// Rewrites, in place, anything in `text` that looks like a credential: relay keys (cr_…),
// Anthropic keys and tokens (sk-ant-…), bearer tokens, passwords in URLs (scheme://user:pass@)
// and `password=`/`token=`-style pairs. Every log line passes through this.
void redact_secrets(std::string& text);

// True for configuration/header names whose values are secrets (password, secret, token, key…).
bool is_secret_name(std::string_view name);

}  // namespace crs
