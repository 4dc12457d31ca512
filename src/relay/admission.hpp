#pragma once
// The steps of a relayed request before any upstream is involved, and metering at its end:
// who is asking (the relay key), whether the key allows it (rules, then counted limits), and
// what it is charged.
#include <optional>

#include "http/exchange.hpp"
#include "keys/api_key.hpp"
#include "relay/relayed_request.hpp"

namespace crs::relay {

using http_server::Response;

// The key the client presented (the cache's record, shared), from the cache or Redis; a
// refusal (401, 503) otherwise.
Task<std::optional<Response>> authenticate(RelayDeps& d, http_server::Exchange& ex, keys::KeyCache::Record& out);

// What the key's rules allow (key_rules.hpp) for a route of `family` ("claude", "openai"),
// refused in memory. An "activation" key starts its life on its first request here (`key` is
// then its activated record).
Task<std::optional<Response>> check_key(RelayDeps& d, http_server::Exchange& ex, keys::KeyCache::Record& key,
                                        std::string_view family, std::string_view model, bool any_client);

// The key's counted limits: one round trip, refused (the response to send) or admitted with
// `r.admission` filled in (a lease held and renewed, a reservation against budgets).
Task<std::optional<Response>> admit(RelayedRequest& r);

// The usage event of an answer. `model`: what the upstream served, else what was asked for
// (the upstream bills the model it served).
usage::UsageEvent usage_event(const RelayedRequest& r, const accounts::Account& account, const std::string& model,
                              const usage::Usage& used, unsigned status, bool stream, bool partial);

// Records a finished request: the event, the charge to the key's counters and the lease
// release, together (limits/limits.hpp completion script).
Task<void> meter(RelayedRequest& r, usage::UsageEvent e);

}  // namespace crs::relay
