#pragma once
#include <string>
#include <string_view>

#include "http/exchange.hpp"

namespace crs::http_server {

Response json_response(http::status status, std::string body);

// {"type":"error","error":{"type":...,"message":...}}: the Anthropic error shape that the SDKs
// and Claude Code parse, used for every error the relay itself produces on API routes.
std::string anthropic_error_body(std::string_view type, std::string_view message);
Response anthropic_error(http::status status, std::string_view type, std::string_view message);

// The Anthropic error type that matches an HTTP status.
std::string_view anthropic_error_type(http::status status);

}  // namespace crs::http_server
