#pragma once
// What a failed upstream call says about the account that made it, in classes the relay (and
// the scheduler and account health) act on. Decided from structured facts only: the status,
// the parsed `error.type`, exact known messages and headers. Never from substrings of the body:
// validation errors quote the client's input, and a key holder must not be able to get accounts
// disabled by sending the right words (spec/claude-oauth.md §6.4).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/net.hpp"

namespace crs::adapters {

enum class ErrorClass {
  ClientError,       // the request's own fault, never the account's: the client gets it as is
  Unauthorized,      // the credential was refused: a refresh may help (OAuth), else off until an admin acts
  Blocked,           // the organisation is banned or may not use this route: off until an admin acts
  RateLimited,       // a usage window is exhausted: off until `until_ms` (from the reset headers)
  BurstRateLimited,  // a rate limit without a window reset: a short cool-down
  Overloaded,        // Anthropic-wide overload, not the account's: a short cool-down, fail over
  Refused,           // 403 (other), 402 billing: the account is paused for a while, fail over
  ServerError,       // 5xx: cool down, fail over
  Network,           // no answer: connection refused, reset, TLS or proxy failure
  Timeout,           // no answer in time
};

std::string_view error_class_name(ErrorClass c);

struct ErrorVerdict {
  ErrorClass what = ErrorClass::ServerError;
  int64_t until_ms = 0;  // RateLimited/BurstRateLimited: when the account may be used again (0: unknown)
  std::string reason;    // for the account's status and the logs; never contains the body
};

// A non-2xx upstream answer, read whole (up to a limit).
struct UpstreamError {
  unsigned status = 0;
  http::response_header<> headers;
  std::string body;
};

// The class of a call that got no answer (connect, write or first-byte failure).
ErrorVerdict transport_failure(bool timed_out, std::string reason);

}  // namespace crs::adapters
