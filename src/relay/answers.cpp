#include "relay/answers.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "http/responses.hpp"

namespace crs::relay {
namespace {

// When trying again makes sense after a 503 of the relay's own.
constexpr std::string_view kRetryAfterUnavailable = "5";

std::string client_error_body(unsigned status, const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (!ec && v.is_object() && v.get_object().contains("error")) return body;
  auto s = static_cast<http::status>(status);
  std::string snippet = body.substr(0, 200);
  return http_server::anthropic_error_body(http_server::anthropic_error_type(s),
                                           fmt::format("Upstream returned HTTP {}: {}", status, snippet));
}

}  // namespace

http_server::Response error(http::status status, std::string_view message) {
  auto res = http_server::anthropic_error(status, http_server::anthropic_error_type(status), message);
  if (status == http::status::service_unavailable) res.set(http::field::retry_after, kRetryAfterUnavailable);
  return res;
}

http_server::Response shutting_down() { return error(http::status::service_unavailable, kShuttingDown); }

http_server::Response to_client(const adapters::Adapter& adapter, const adapters::UpstreamError& upstream) {
  adapters::UpstreamError e = adapter.client_error(upstream);
  http_server::Response res{static_cast<http::status>(e.status), 11};
  adapter.copy_answer_headers(e.headers, res);
  res.set(http::field::content_type, "application/json");
  res.body() = client_error_body(e.status, e.body);
  return res;
}

std::string error_event(std::string_view type, std::string_view message) {
  return "event: error\ndata: " + http_server::anthropic_error_body(type, message) + "\n\n";
}

}  // namespace crs::relay
