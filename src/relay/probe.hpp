#pragma once
// A probe of one account that spends no tokens: its kind's model list (GET /v1/models for the
// Anthropic kinds), with the account's credential, through its proxy. An OAuth token near
// expiry is refreshed first, as for a relayed request. What the answer means is decided by the
// kind's classifier, as for any relayed answer.
#include <chrono>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "adapters/adapter.hpp"
#include "health/outcome.hpp"

namespace crs::relay {

struct ProbeResult {
  bool ok = false;
  health::Outcome outcome = health::Outcome::Network;
  unsigned status = 0;            // 0: no answer
  double ms = 0;                  // until the whole answer was in
  adapters::ErrorVerdict verdict; // when not ok
};

Task<ProbeResult> probe_account(adapters::AdapterContext& context, accounts::Account account,
                                std::chrono::milliseconds timeout);

}  // namespace crs::relay
