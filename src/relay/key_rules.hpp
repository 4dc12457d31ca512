#pragma once
// What a key may do, checked in memory before anything goes upstream: expiry, permissions
// (route families), the client allow-list and the model rules. Limits that need counting
// across instances are admission's (Redis).
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "http/exchange.hpp"
#include "keys/api_key.hpp"
#include "limits/limits.hpp"

namespace crs::relay {

struct Refusal {
  http::status status;
  std::string message;
  boost::json::object extra;  // numeric and list fields the Node.js service adds at top level
  std::string code;           // error.code, for 402s ("daily_cost_limit_exceeded", ...)
  int64_t retry_after_s = 0;  // Retry-After header when > 0
};

struct RequestFacts {
  std::string_view family;      // "claude", "openai", ...
  std::string_view user_agent;
  std::string_view model;       // empty when the route has none
  bool any_client = false;      // GET /v1/models: no client rule (no upstream call)
  std::string_view now_iso;     // iso8601_utc() of this request
};

std::optional<Refusal> check_key_rules(const keys::ApiKey& key, const RequestFacts& facts);

// A counted limit that refused the request (limits/limits.hpp), as the client sees it: 429
// with Retry-After for a full window or concurrency, 402 for a spent budget (so clients stop
// retrying); the message names the limit and when it resets.
Refusal limit_refusal(const limits::Decision& decision, const keys::ApiKey& key, int64_t now_ms);

// The Anthropic error envelope with the refusal's extra members beside it.
http_server::Response refusal_response(const Refusal& refusal);

}  // namespace crs::relay
