#pragma once
// An Account as admins see and change it, the same through the CLI and the admin API.
// Members: name, type (on creation only), baseUrl, proxy, priority, apiKey, accessToken,
// refreshToken, expiresAt, maxConcurrency, weight, costFactor, plan, schedulable, models,
// modelMapping. Values may be JSON-typed or text (the CLI passes text): numbers as numbers
// or decimal strings, booleans as true/false, models as an array or "a,b*", modelMapping as
// an object or "requested=upstream,...". "" or null resets weight and costFactor to their
// defaults.
#include <string>

#include <boost/json/fwd.hpp>

#include "accounts/account.hpp"
#include "core/result.hpp"

namespace crs::accounts {

// Applies every member of `changes` to `account` after checking each, and the whole. On error
// `account` is unchanged and the message names the field. `creating`: `type` may be set, and
// the credentials the type needs are required. `credentials_changed` tells whether any was set.
Status apply_account_changes(Account& account, const boost::json::object& changes, bool creating,
                             bool* credentials_changed = nullptr);

// The admin view: every field, credentials and the proxy's password masked.
boost::json::object account_json(const Account& account);
// An account group as admins see it: id, name, createdAt, accounts (ids).
boost::json::object group_json(const AccountGroup& group);

}  // namespace crs::accounts
