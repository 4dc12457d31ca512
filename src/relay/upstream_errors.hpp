#pragma once
// What an upstream error answer says about the account that gave it. Decided from structured
// facts only: the status, the parsed `error.type`, exact known messages and headers. Never from
// substrings of the body: validation errors quote the client's input, and a key holder must not
// be able to get accounts disabled by sending the right words (spec/claude-oauth.md §6.4).
#include <string>
#include <string_view>

#include "core/net.hpp"

namespace crs::relay {

enum class UpstreamVerdict {
  ClientFault,    // the request's own fault (or not an account problem): the client gets it as is
  RefreshOauth,   // 401 on an OAuth account: refresh its token once and try again
  Unauthorized,   // the credential is dead or the organisation banned: off until an admin acts
  RateLimited,    // cool down until the rate-limit reset
  Overloaded,     // Anthropic-wide overload: a short cool-down, fail over
  Failing,        // 403, 402 billing, 5xx: cool down, fail over
};

struct ErrorFacts {
  std::string type;     // error.type, "" when the body is not the Anthropic error shape
  std::string message;  // error.message
};

ErrorFacts parse_error_body(std::string_view body);

// `oauth_refreshed`: this OAuth account has already been refreshed for this request.
UpstreamVerdict classify_upstream_error(unsigned status, const ErrorFacts& facts, bool oauth, bool oauth_refreshed);

}  // namespace crs::relay
