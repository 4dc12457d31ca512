#pragma once
// A relay key as stored: never the plaintext, only its digest (spec/crs-compat.md §2.3), with
// the limits and restrictions the relay enforces for it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crs::keys {

// Zero means "no limit" everywhere. Money is integer micro-USD, never floating point.
struct KeyLimits {
  int64_t concurrency = 0;          // requests in flight at once
  int64_t rate_window_minutes = 0;  // fixed window; the two limits below count within it
  int64_t rate_requests = 0;
  int64_t rate_cost_micro = 0;
  int64_t total_tokens = 0;         // all tokens ever (input + output + cache)
  int64_t daily_cost_micro = 0;     // the day of usage.timezoneOffset
  int64_t weekly_cost_micro = 0;    // the week starting at weekly_reset_day/hour
  int64_t total_cost_micro = 0;
  int weekly_reset_day = 1;         // 1 = Monday ... 7 = Sunday
  int weekly_reset_hour = 0;        // 0-23

  bool any() const {
    return concurrency || rate_window_minutes || total_tokens || daily_cost_micro || weekly_cost_micro ||
           total_cost_micro;
  }
};

struct ApiKey {
  std::string id;            // UUID
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  std::string digest;        // lowercase hex SHA-256 of plaintext + ENCRYPTION_KEY
  bool enabled = true;
  std::string created_at;    // ISO 8601
  std::string last_used_at;  // ISO 8601 or empty

  // Expiry: "fixed" (expires_at, empty = never) or "activation" (activation_days after the
  // first request; expires_at is set then).
  std::string expiration_mode = "fixed";
  std::string expires_at;
  int64_t activation_days = 0;
  std::string activated_at;

  KeyLimits limits;
  std::vector<std::string> permissions;      // route families: claude, openai, ...; empty = all
  std::vector<std::string> allowed_models;   // empty = all; "prefix*" matches a prefix
  std::vector<std::string> denied_models;    // checked after the allow-list
  std::vector<std::string> allowed_clients;  // client families (client_rules.hpp); empty = all
  std::string bound_account;                 // account id, "group:<id>", or empty (the pool)
};

// "<prefix>" + 64 lowercase hex characters (32 random bytes), as the Node.js service.
std::string generate_plaintext(std::string_view prefix);

// The stored form; identical to the Node.js service's, so imported keys keep working.
std::string digest_of(std::string_view plaintext, std::string_view encryption_key);

// Masked form for listings: prefix, first and last characters only.
std::string masked(std::string_view plaintext);

// True when `model` is allowed by the key's allow- and deny-lists.
bool model_allowed(const ApiKey& key, std::string_view model);

// USD amounts as text <-> micro-USD, exactly: "12.5" <-> 12500000. At most 6 decimals.
bool parse_usd(std::string_view text, int64_t& micro);
std::string format_usd(int64_t micro);

}  // namespace crs::keys
