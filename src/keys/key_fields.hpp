#pragma once
// An ApiKey as the apikey:{id} hash stores it and as the admin API shows and changes it. The
// field names are the Node.js service's where the meaning is the same (spec/crs-compat.md
// §7.2); where ours differs they have names of their own, so an imported key is never read
// with the wrong meaning:
//   totalTokenLimit   all tokens ever (CRS's tokenLimit counts per rate window: not imported)
//   weeklyCostLimit   every model (CRS's weeklyOpusCostLimit covers Opus only: not imported)
//   allowedModels     an allow-list next to CRS's deny-list restrictedModels
#include <string>

#include <boost/json/fwd.hpp>

#include "core/result.hpp"
#include "keys/api_key.hpp"
#include "store/hash_record.hpp"

namespace crs::keys {

store::HashRecord to_hash(const ApiKey& key);
ApiKey from_hash(const store::HashRecord& record);

// Applies the members of `changes` (the names above, JSON types: numbers or decimal strings
// for USD, arrays of strings for lists, "" or null to clear a date or a binding) after
// checking every one of them and the result as a whole. On error `key` is unchanged and the
// message names the field.
Status apply_changes(ApiKey& key, const boost::json::object& changes);

// The admin view: every field, USD as numbers, never the digest.
boost::json::object to_json(const ApiKey& key);

// Client families a key can be restricted to, with the rule that recognises each.
struct ClientRule {
  const char* id;           // "claude_code"
  const char* description;  // shown to admins: what the rule matches
};
const std::vector<ClientRule>& client_rules();
// The family of a request's User-Agent, or "" if it matches none.
std::string client_family(std::string_view user_agent);

inline constexpr const char* kPermissionFamilies[] = {"claude", "openai", "gemini", "droid"};

}  // namespace crs::keys
