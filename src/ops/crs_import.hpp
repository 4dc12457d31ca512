#pragma once
// `crs import crs`: a Node.js Claude Relay Service's Redis (layout: spec/crs-compat.md §8) read
// into ours. Relay keys keep their ids and digests (SHA-256(key + ENCRYPTION_KEY) in both
// services, so this relay must run with the Node.js service's ENCRYPTION_KEY: then every `cr_`
// key keeps working unchanged); Claude OAuth and Console accounts keep their ids, their secrets
// decrypted (AES-256-CBC under scrypt(ENCRYPTION_KEY, the type's salt)) and sealed again with
// ours; Claude account groups and their members; keys' bindings to those accounts and groups;
// the imported keys' usage (totals, per-model all-time, per day/month/hour and per model, cost)
// in our form, and their limit counters started from it; with `admin`, its admin login (its
// bcrypt hash, accepted until the first login replaces it with ours).
// Nothing of ours is overwritten: what exists is skipped, so a second run changes nothing.
// Every record that is not imported is reported with the reason.
#include <chrono>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::ops {

struct ImportOptions {
  std::string crs_encryption_key;
  std::string encryption_key;  // ours (must be the same, for the key digests)
  std::string api_key_prefix;  // ours
  std::string crs_api_key_prefix = "cr_";
  std::string oauth_base_url;  // where imported OAuth accounts send requests
  int timezone_offset = 8;     // ours (usage.timezoneOffset): the days limit counters read
  int crs_timezone_offset = 8;  // its TIMEZONE_OFFSET (the days its buckets are named by)
  std::chrono::seconds lease_ttl{60};
  bool admin = false;    // replace this relay's admin login with the Node.js service's
  std::string data_dir;  // ours: init.json follows the admin login
  bool dry_run = false;
};

struct ImportItem {
  std::string kind;  // "key", "account", "group"
  std::string id;
  std::string name;
  std::string outcome;  // "imported", "exists", "skipped", "failed"
  std::string note;     // why, or what was not carried over
};

struct ImportReport {
  std::vector<ImportItem> items;
  int count(std::string_view kind, std::string_view outcome) const;
};

// Decrypts a secret of the Node.js service ("hex(iv):hex(ciphertext)"); an Error on anything
// that does not decrypt cleanly (never the stored text used as the secret, as it does).
Result<std::string> crs_decrypt(std::string_view encryption_key, std::string_view salt, std::string_view stored);

// `source`: the Node.js service's Redis; `target`: ours.
Task<Result<ImportReport>> import_crs(store::RedisClient& source, store::RedisClient& target, ImportOptions options);

}  // namespace crs::ops
