#include "http/responses.hpp"

#include <boost/json.hpp>

namespace crs::http_server {

Response json_response(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

std::string anthropic_error_body(std::string_view type, std::string_view message) {
  boost::json::object error{{"type", type}, {"message", message}};
  return boost::json::serialize(boost::json::object{{"type", "error"}, {"error", std::move(error)}});
}

Response anthropic_error(http::status status, std::string_view type, std::string_view message) {
  return json_response(status, anthropic_error_body(type, message));
}

std::string_view anthropic_error_type(http::status status) {
  switch (status) {
    case http::status::unauthorized: return "authentication_error";
    case http::status::payment_required: return "billing_error";
    case http::status::forbidden: return "permission_error";
    case http::status::not_found: return "not_found_error";
    case http::status::payload_too_large: return "request_too_large";
    case http::status::too_many_requests: return "rate_limit_error";
    case http::status::gateway_timeout: return "timeout_error";
    default: break;
  }
  auto code = static_cast<unsigned>(status);
  if (code == 529) return "overloaded_error";
  if (code >= 500) return "api_error";
  return "invalid_request_error";
}

}  // namespace crs::http_server
