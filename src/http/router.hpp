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

namespace crs::http_server {

using Handler = std::function<Task<void>(Exchange&)>;

struct Route {
  http::verb method;
  std::string pattern;
  Handler handler;
  std::vector<std::string> segments;  // the pattern split at '/', computed once
};

class Router {
 public:
  void add(http::verb method, std::string pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;               // null: no route for this method
    std::map<std::string, std::string> params;
    std::vector<http::verb> allowed;                // methods the path has, when handler is null
  };
  Match match(http::verb method, std::string_view path) const;

  // Answers the exchange: the matched handler, 404 or 405 otherwise (JSON bodies).
  Task<void> dispatch(Exchange& exchange) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  std::unordered_map<std::string, std::vector<size_t>> fixed_;  // canonical path -> routes
  std::vector<size_t> with_params_;
};

}  // namespace crs::http_server
