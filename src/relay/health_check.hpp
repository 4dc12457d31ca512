#pragma once
// Probing accounts and acting on what the probe says (relay/probe.hpp): the health monitor's
// rounds, `crs accounts health-check` and POST /admin/accounts/:id/health-check. A probe is an
// attempt like any other: it goes into the account's stats, and an answer that tells the
// account's state (banned, credential refused, rate-limited until a reset) sets it for every
// instance; a good answer ends a rate limit or error state whose time has passed.
#include <boost/json/object.hpp>

#include "adapters/adapter.hpp"
#include "relay/probe.hpp"

namespace crs::relay {

// Probes the account and applies the result.
Task<ProbeResult> probe_and_apply(adapters::AdapterContext& context, accounts::Account account);

// The account's health after a probe, for the admin: {id, name, type, status, statusReason,
// class, reasons, circuit, nextTryAt, ttfbP95Ms, successRate, utilization5h, utilization7d,
// lastError, probe: {ok, outcome, status, ms, reason}, failing}. `failing` is true when it is
// unhealthy, blocked or unauthorized.
Task<Result<boost::json::object>> health_check(adapters::AdapterContext& context, accounts::Account account);

}  // namespace crs::relay
