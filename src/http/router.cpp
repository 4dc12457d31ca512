#include "http/router.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "http/responses.hpp"

namespace crs::http_server {
namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// Lower-case segments joined by single slashes: "/V1//Messages/" -> "v1/messages".
std::string canonical(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (auto part : segments(path)) {
    if (!out.empty()) out += '/';
    for (char c : part) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Matches without allocating: the request path is walked segment by segment.
bool match_pattern(const std::vector<std::string>& want, std::string_view path,
                   std::map<std::string, std::string>* params) {
  size_t i = 0, index = 0;
  while (true) {
    while (i < path.size() && path[i] == '/') ++i;
    if (i >= path.size()) return index == want.size();
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view have = path.substr(i, j - i);
    if (index >= want.size()) return false;
    const std::string& w = want[index++];
    if (w.front() == ':') {
      if (params) params->emplace(w.substr(1), std::string(have));
    } else if (!iequals(w, have)) {
      return false;
    }
    i = j;
  }
}

}  // namespace

void Router::add(http::verb method, std::string pattern, Handler handler, BodyRule body) {
  std::vector<std::string> parts;
  for (auto part : segments(pattern)) parts.emplace_back(part);
  bool fixed = std::none_of(parts.begin(), parts.end(), [](const std::string& p) { return p.front() == ':'; });
  size_t index = routes_.size();
  if (fixed) fixed_[canonical(pattern)].push_back(index);
  else with_params_.push_back(index);
  auto family = metrics::family_of_route(pattern);
  routes_.push_back(Route{method, std::move(pattern), std::move(handler), std::move(parts), body, family});
}

Router::Match Router::match(http::verb method, std::string_view path) const {
  Match m;
  const Route* get_route = nullptr;
  std::map<std::string, std::string> get_params;
  auto consider = [&](const Route& route, std::map<std::string, std::string>&& params) {
    if (route.method == method) {
      m.route = &route;
      m.params = std::move(params);
      return true;
    }
    if (route.method == http::verb::get && !get_route) {
      get_route = &route;
      get_params = std::move(params);
    }
    m.allowed.push_back(route.method);
    return false;
  };
  if (auto it = fixed_.find(canonical(path)); it != fixed_.end())
    for (size_t i : it->second)
      if (consider(routes_[i], {})) return m;
  for (size_t i : with_params_) {
    const Route& route = routes_[i];
    if (!match_pattern(route.segments, path, nullptr)) continue;
    std::map<std::string, std::string> params;
    match_pattern(route.segments, path, &params);
    if (consider(route, std::move(params))) return m;
  }
  // HEAD is GET without a body (the exchange drops the body when writing).
  if (method == http::verb::head && get_route) {
    m.route = get_route;
    m.params = std::move(get_params);
    m.allowed.clear();
  }
  return m;
}

namespace {

// For a route the router reads the body of: the body, then the handler.
Task<void> read_then_handle(Exchange& exchange, const Route& route) {
  if (auto refusal = co_await exchange.read_body(route.body.limit)) {
    co_await exchange.send(std::move(*refusal));
    co_return;
  }
  co_await route.handler(exchange);
}

// No route for the method and path: 405 with the methods the path has, or 404.
Task<void> no_route(Exchange& exchange, std::vector<http::verb> allowed) {
  std::string method(exchange.request().method_string());
  if (!allowed.empty()) {
    auto res = anthropic_error(http::status::method_not_allowed, "invalid_request_error",
                               fmt::format("Method {} not allowed on {}", method, exchange.path()));
    std::vector<std::string> names;
    for (auto v : allowed) names.emplace_back(http::to_string(v));
    res.set(http::field::allow, fmt::format("{}", fmt::join(names, ", ")));
    co_await exchange.send(std::move(res));
    co_return;
  }
  co_await exchange.send(anthropic_error(http::status::not_found, "not_found_error",
                                         fmt::format("Route {} {} not found", method, exchange.path())));
}

}  // namespace

// Not a coroutine itself: it hands on the handler's awaitable, so a relayed stream (minutes of
// life) does not hold a router frame (1 KB) beneath its own.
Task<void> Router::dispatch(Exchange& exchange) const {
  auto m = match(exchange.request().method(), exchange.path());
  if (!m.route) return no_route(exchange, std::move(m.allowed));
  exchange.set_params(std::move(m.params));
  exchange.set_family(m.route->family);
  if (!m.route->body.handler_reads) return read_then_handle(exchange, *m.route);
  return m.route->handler(exchange);
}

}  // namespace crs::http_server
