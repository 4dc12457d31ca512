#pragma once
// The answers the relay itself gives a Messages client, in the Anthropic shape
// (spec/anthropic-messages.md §9.4).
#include <string>
#include <string_view>

#include "adapters/adapter.hpp"
#include "http/exchange.hpp"

namespace crs::relay {

inline constexpr std::string_view kShuttingDown = "The relay is shutting down; retry the request";

// A JSON error; a 503 carries Retry-After (Redis cannot answer, or the relay is starting).
http_server::Response error(http::status status, std::string_view message);
http_server::Response shutting_down();

// An upstream's error answer as the client gets it: its allowed headers, its body if it is in
// the Anthropic shape, else wrapped in it (an edge proxy's HTML page).
http_server::Response to_client(const adapters::Adapter& adapter, const adapters::UpstreamError& e);

// An SSE `error` event, for a stream that cannot go on.
std::string error_event(std::string_view type, std::string_view message);

}  // namespace crs::relay
