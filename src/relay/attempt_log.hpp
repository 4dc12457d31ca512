#pragma once
// The attempts of a request that failed over, in Redis for reconciling what the upstreams saw
// with what was billed: usage:attempts:<request id>, a list of JSON records (kept 7 days), one
// per upstream attempt in order, each with its key, account, model, status, error class, time to
// first byte, the tokens the upstream reported and their cost, and whether it served the client.
// A failed attempt before the first byte was not billed by the upstream and costs the key
// nothing; the key is charged the served attempt only (its usage event). A request served at
// its first attempt has only its usage event. Written through the thread's usage writer,
// batched, never on the request's path.
#include <string>

#include "adapters/error_class.hpp"
#include "relay/relayed_request.hpp"

namespace crs::relay {

struct Picked;

inline constexpr int64_t kAttemptsKeptMs = 7LL * 24 * 3600 * 1000;

// An attempt that failed before any byte reached the client.
void log_failed_attempt(RelayedRequest& r, const Picked& p, unsigned status, const adapters::ErrorVerdict& v,
                        double ttfb_ms);
// The attempt that answered the client (its usage event), when attempts failed before it.
void log_served_attempt(RelayedRequest& r, const Picked& p, const usage::UsageEvent& e, double ttfb_ms);
// ... or that passed the request's own error (a 4xx) back to it.
void log_client_error_attempt(RelayedRequest& r, const Picked& p, unsigned status, double ttfb_ms);

}  // namespace crs::relay
