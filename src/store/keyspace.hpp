#pragma once
// Redis key names shared by several subsystems. Names follow the Node.js service's schema
// (spec/crs-compat.md §8) wherever the data is the same, so imported data lands in place.
#include <string>
#include <string_view>

namespace crs::store::keyspace {

// Relay keys
inline constexpr std::string_view kApiKeyHashMap = "apikey:hash_map";          // digest -> key id
inline constexpr std::string_view kApiKeysByCreation = "apikey:idx:createdAt"; // zset id -> created ms
inline std::string api_key(std::string_view id) { return "apikey:" + std::string(id); }

// Upstream accounts (our own record format; the CRS importer converts theirs)
inline constexpr std::string_view kAccountIndex = "crs:account:index";         // set of ids
inline std::string account(std::string_view id) { return "crs:account:" + std::string(id); }

// Account groups: a key bound to "group:<id>" uses only the group's accounts.
inline constexpr std::string_view kAccountGroupIndex = "crs:account_group:index";  // set of ids
inline std::string account_group(std::string_view id) { return "crs:account_group:" + std::string(id); }
inline std::string account_group_members(std::string_view id) {
  return "crs:account_group:" + std::string(id) + ":members";
}

// Cache invalidation across relay instances: messages "key:<id>", "account:<id>",
// "account:group:<id>", kPricingReload and kReloadAll.
inline constexpr std::string_view kInvalidationChannel = "crs:invalidate";
inline constexpr std::string_view kPricingReload = "pricing:reload";
inline constexpr std::string_view kReloadAll = "all";  // after a restore or an import: reload everything
// Generations of the data behind cached query results (query/query_cache.hpp): a hash whose
// fields are bumped in the same transaction as the change. "keys": any key created, edited,
// renewed, activated or deleted; "usage": any batch of usage folded.
inline constexpr std::string_view kDataGeneration = "crs:data_generation";

// The layout version of the data (ops/schema.hpp): a string holding an integer.
inline constexpr std::string_view kSchemaVersionKey = "crs:schema_version";

// The attempts of a request that failed over (relay/attempt_log.hpp): a list of JSON records.
inline std::string usage_attempts(std::string_view request_id) { return "usage:attempts:" + std::string(request_id); }

// Events for the operators' alerts (a stream, newest last, capped): fields `type`, `account`,
// `reason`, `at`. Types so far: account.blocked.
inline constexpr std::string_view kEventsStream = "crs:events";
inline constexpr int kEventsKept = 10000;

}  // namespace crs::store::keyspace
