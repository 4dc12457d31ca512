#pragma once
// One-off HTTPS (or HTTP) requests, for calls that are not relayed: the OAuth token
// endpoint, the accounts' model lists. Fresh connection, TLS verified, proxy honoured.
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "core/net.hpp"
#include "core/result.hpp"
#include "upstream/endpoint.hpp"

namespace crs::upstream {

// A TLS client context verifying against the system CAs and, if given, `ca_file` too.
Result<std::unique_ptr<asio::ssl::context>> client_tls(const std::string& ca_file);

struct CallResult {
  unsigned status = 0;   // 0: no answer (see error)
  http::response_header<> headers;
  std::string body;
  std::string error;
};

// Sends `request` (with `body`) on a fresh connection to `base` and reads the whole answer
// (at most 4 MiB).
Task<CallResult> send_request(asio::any_io_executor executor, asio::ssl::context& tls, const BaseUrl& base,
                              const Proxy& proxy, http::request<http::empty_body> request, std::string body,
                              std::chrono::milliseconds timeout);

Task<CallResult> post_json(asio::any_io_executor executor, asio::ssl::context& tls, const std::string& url,
                           const std::string& body, const Proxy& proxy, std::chrono::milliseconds timeout);

}  // namespace crs::upstream
