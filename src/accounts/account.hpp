#pragma once
// An upstream account. Credentials are decrypted only in memory; at rest they are sealed
// with AES-256-GCM (core/crypto.hpp) under a key derived from ENCRYPTION_KEY.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/scheduling.hpp"

namespace crs::accounts {

inline constexpr std::string_view kClaudeConsole = "claude-console";
inline constexpr std::string_view kClaudeOauth = "claude-oauth";
inline constexpr std::string_view kBedrock = "bedrock";
inline constexpr std::string_view kOpenaiCompatible = "openai-compatible";

// Why an account is not being used right now.
inline constexpr std::string_view kStatusActive = "active";
inline constexpr std::string_view kStatusRateLimited = "rate_limited";   // until unavailable_until_ms
inline constexpr std::string_view kStatusOverloaded = "overloaded";      // until unavailable_until_ms
inline constexpr std::string_view kStatusUnauthorized = "unauthorized";  // needs an admin
inline constexpr std::string_view kStatusBlocked = "blocked";            // banned upstream: needs an admin
inline constexpr std::string_view kStatusError = "error";                // until unavailable_until_ms

struct Credentials {
  std::string api_key;        // claude-console, openai-compatible; bedrock: a Bedrock API key (bearer)
  std::string access_token;   // claude-oauth
  std::string refresh_token;
  int64_t expires_at_ms = 0;  // access token expiry
  std::string aws_access_key_id;  // bedrock: SigV4 signing (instead of an API key)
  std::string aws_secret_access_key;
  std::string aws_session_token;  // temporary credentials only

  // Tokens that pass an OAuth account's checks, to check its other fields before a sign-in's
  // single-use code is spent.
  static Credentials oauth_placeholder() {
    Credentials c;
    c.access_token = c.refresh_token = "placeholder";
    c.expires_at_ms = 1;
    return c;
  }
};

struct Account {
  std::string id;
  std::string name;
  std::string type;           // kClaudeConsole | kClaudeOauth | kBedrock | kOpenaiCompatible
  std::string base_url;       // e.g. https://api.anthropic.com
  std::string region;         // bedrock: the AWS region, e.g. us-east-1
  std::string proxy;          // http://user:pass@host:port or socks5://...; secret at rest
  int priority = 50;          // lower is preferred
  bool enabled = true;
  std::string status{kStatusActive};
  std::string status_reason;
  bool credentials_unreadable = false;  // sealed with another ENCRYPTION_KEY, or damaged
  int64_t unavailable_until_ms = 0;
  std::string created_at;
  std::string last_used_at;
  Credentials credentials;
  AccountScheduling scheduling;
  std::vector<std::string> groups;  // ids of the account groups it belongs to

  // Refused for good by the upstream (credential or organisation): back only when an admin acts.
  bool needs_admin() const { return status == kStatusUnauthorized || status == kStatusBlocked; }

  // Usable now: enabled, and either active or its cool-down has passed.
  bool usable(int64_t now_ms) const {
    if (!enabled || needs_admin()) return false;
    return status == kStatusActive || now_ms >= unavailable_until_ms;
  }
};

// A named set of accounts; keys bound to "group:<id>" use only its members.
struct AccountGroup {
  std::string id;
  std::string name;
  std::string created_at;
  std::vector<std::string> members;  // account ids
};

int64_t now_ms();

}  // namespace crs::accounts
