#pragma once
// Pick an account, forward through its kind's adapter, stream the answer back, meter it; on an
// account's failure before the first byte, the next account (failover).
#include "relay/account_choice.hpp"
#include "relay/relayed_request.hpp"

namespace crs::relay {

// Answers `r` (authenticated and admitted) from the upstream accounts, or with the relay's own
// error when none can. `s` may hold an account chosen ahead (beside the admission).
Task<void> forward_with_failover(RelayedRequest& r, AttemptState& s);

}  // namespace crs::relay
