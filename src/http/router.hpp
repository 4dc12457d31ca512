#pragma once
// Maps method + path to a handler. Paths match case-insensitively, ignore the query string and
// a trailing slash (the Node.js service's Express defaults, which clients rely on).
// A segment written ":name" matches any one segment and is passed to the handler as a param.
// Paths without params are found by one hash lookup; a path matching both kinds takes the
// route without params.
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/exchange.hpp"
#include "metrics/metrics.hpp"

namespace crs::http_server {

using Handler = std::function<Task<void>(Exchange&)>;

// How a route takes its request body. By default the router reads it (at most `limit` bytes;
// 0: server.maxBodyBytes) before the handler runs. A route that first decides from the
// headers (a key or an admin token) reads it itself with Exchange::read_body, so that nobody
// unauthenticated makes the relay hold a body.
struct BodyRule {
  uint64_t limit = 0;
  bool handler_reads = false;
};

// For routes whose bodies are a few small fields (logins, key holders' stats): a body larger
// than this is refused before a byte of it is parsed.
inline constexpr uint64_t kSmallBodyLimit = 8192;

struct Route {
  http::verb method;
  std::string pattern;
  Handler handler;
  std::vector<std::string> segments;  // the pattern split at '/', computed once
  BodyRule body;
  metrics::Family family;             // what /metrics counts it as
};

class Router {
 public:
  void add(http::verb method, std::string pattern, Handler handler, BodyRule body = {});

  struct Match {
    const Route* route = nullptr;                   // null: no route for this method
    std::map<std::string, std::string> params;
    std::vector<http::verb> allowed;                // methods the path has, when handler is null
  };
  Match match(http::verb method, std::string_view path) const;

  // Answers the exchange: the matched handler (after reading the body unless the route reads it
  // itself), 404 or 405 otherwise (JSON bodies; the body is never read for those).
  Task<void> dispatch(Exchange& exchange) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  std::unordered_map<std::string, std::vector<size_t>> fixed_;  // canonical path -> routes
  std::vector<size_t> with_params_;
};

}  // namespace crs::http_server
