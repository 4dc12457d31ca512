#pragma once
// Keeps Claude OAuth access tokens fresh. A token is refreshed `refreshBeforeExpiry` seconds
// before it expires (or when the API answers 401), by one instance at a time: the refresher
// holds a Redis lock; the others wait for the new token to appear in the account record.
// Two refreshes with the same refresh token would invalidate each other (spec/claude-oauth.md §4.2).
#include "accounts/account.hpp"
#include "core/result.hpp"
#include "relay/relay.hpp"

namespace crs::relay {

Task<Result<accounts::Account>> fresh_oauth_account(RelayDeps& deps, size_t worker, accounts::Account account,
                                                    bool force);

}  // namespace crs::relay
