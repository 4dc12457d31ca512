#pragma once
// Redis key names shared by several subsystems. Names follow the Node.js service's schema
// (spec/crs-compat.md §8) wherever the data is the same, so imported data lands in place.
#include <string_view>

namespace crs::store::keyspace {

inline constexpr std::string_view kApiKeyHashMap = "apikey:hash_map";                  // digest -> key id
inline constexpr std::string_view kClaudeOauthAccounts = "claude:account:index";       // set of ids
inline constexpr std::string_view kClaudeConsoleAccounts = "claude_console_account:index";

}  // namespace crs::store::keyspace
