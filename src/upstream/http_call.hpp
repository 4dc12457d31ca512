#pragma once
// A one-off HTTPS (or HTTP) request with a JSON body, for calls that are not relayed:
// the OAuth token endpoint. Fresh connection, TLS verified, proxy honoured.
#include <chrono>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "core/net.hpp"
#include "upstream/endpoint.hpp"

namespace crs::upstream {

struct CallResult {
  unsigned status = 0;   // 0: no answer (see error)
  std::string body;
  std::string error;
};

Task<CallResult> post_json(asio::any_io_executor executor, asio::ssl::context& tls, const std::string& url,
                           const std::string& body, const Proxy& proxy, std::chrono::milliseconds timeout);

}  // namespace crs::upstream
