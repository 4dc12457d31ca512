#pragma once
// The CLI's HTTP calls to a running relay (`crs status`, `crs healthcheck`, `crs verify`):
// plain HTTP on the relay's own port, one request per connection, a timeout on each.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "core/net.hpp"
#include "core/result.hpp"

namespace crs::cli {

struct HttpTarget {
  std::string host;    // without brackets
  std::string port;
  std::string prefix;  // path before the relay's routes, without a trailing slash
  std::string base;    // as the user wrote it (for messages)
};

// The relay this configuration runs: a wildcard listen address becomes loopback.
std::string local_base_url(const config::Config& cfg);
// http://host:port[/prefix], or why not.
Result<HttpTarget> parse_http_target(const std::string& base);

struct HttpCall {
  std::string method = "GET";
  std::string path;  // appended to the target's prefix
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{3000};
};

struct HttpResult {
  unsigned status = 0;  // 0: no answer (see error)
  std::string body;
  std::string error;
};

Task<HttpResult> http_call(HttpTarget target, HttpCall call);

}  // namespace crs::cli
