#pragma once
// The error answers of the Anthropic API (spec/anthropic-messages.md §9, spec/claude-oauth.md
// §6.4 and §8), shared by every kind that speaks it.
#include <string>
#include <string_view>

#include "adapters/error_class.hpp"

namespace crs::adapters {

struct ErrorFacts {
  std::string type;     // error.type, "" when the body is not the Anthropic error shape
  std::string message;  // error.message
};

ErrorFacts parse_error_body(std::string_view body);

// When a rate-limited account may be used again, from the answer's headers, first found of:
// the latest reset of the unified windows whose status is "rejected", the unified reset,
// retry-after, the latest standard `anthropic-ratelimit-*-reset`. Resets are Unix seconds or
// RFC 3339; a time not after `now_ms` is ignored; capped at 7 days. 0 if none says.
int64_t rate_limit_reset_ms(const http::response_header<>& headers, int64_t now_ms);

ErrorVerdict classify_anthropic_error(const UpstreamError& error, int64_t now_ms);

}  // namespace crs::adapters
