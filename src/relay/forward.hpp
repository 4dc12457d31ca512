#pragma once
// Pick an account, forward through its kind's adapter, stream the answer back, meter it; on an
// account's failure before the first byte, the next account (failover).
#include "relay/relayed_request.hpp"

namespace crs::relay {

// Answers `r` (authenticated and admitted) from the upstream accounts, or with the relay's own
// error when none can.
Task<void> forward_with_failover(RelayedRequest& r);

}  // namespace crs::relay
