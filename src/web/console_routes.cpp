#include "web/console_routes.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include <boost/json.hpp>

#include "http/responses.hpp"

namespace crs::web {
using http_server::Exchange;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Calls `each(item)` for every comma-separated item of a header value, trimmed.
template <class F>
void for_each_item(std::string_view list, F each) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (!item.empty()) each(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// The q-value of one Accept-Encoding item ("gzip;q=0.5" gives 0.5; no q gives 1).
double quality(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = trim(params.substr(0, semi));
    if (p.size() > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      double q = 0;
      std::string_view v = p.substr(2);
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), q);
      return ec == std::errc() && ptr == v.data() + v.size() ? std::clamp(q, 0.0, 1.0) : 0.0;
    }
    if (semi == std::string_view::npos) break;
    params.remove_prefix(semi + 1);
  }
  return 1.0;
}

// The q-value the header gives `coding`: its own item, else "*", else 0 (not acceptable).
double quality_of(std::string_view accept_encoding, std::string_view coding) {
  std::optional<double> named, any;
  for_each_item(accept_encoding, [&](std::string_view item) {
    size_t semi = item.find(';');
    std::string_view name = trim(item.substr(0, semi));
    double q = semi == std::string_view::npos ? 1.0 : quality(item.substr(semi + 1));
    if (iequals(name, coding)) named = q;
    if (name == "*") any = q;
  });
  return named.value_or(any.value_or(0.0));
}

void set_security_headers(http::fields& f) {
  f.set("Content-Security-Policy", kConsolePolicy);
  f.set(http::field::x_frame_options, "DENY");
  f.set("X-Content-Type-Options", "nosniff");
  f.set("Referrer-Policy", "no-referrer");  // a shared ?apiKey= link must not leak onwards
  f.set("Cross-Origin-Opener-Policy", "same-origin");
  f.set("Cross-Origin-Resource-Policy", "same-origin");
}

// Each stored form is its own representation: its own validator (`"<hash>-br"`, `"<hash>-gz"`).
std::string etag_of(const Asset& asset, Encoding e) {
  if (e == Encoding::kIdentity) return std::string(asset.etag);
  std::string tag(asset.etag.substr(0, asset.etag.size() - 1));
  return tag + (e == Encoding::kBrotli ? "-br\"" : "-gz\"");
}

void set_caching_headers(http::fields& f, const Asset& asset, const std::string& etag) {
  f.set(http::field::etag, etag);
  f.set(http::field::cache_control, asset.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (!asset.gzip.empty() || !asset.brotli.empty()) f.set(http::field::vary, "Accept-Encoding");
}

Task<void> serve_asset(Exchange& ex, const Asset& asset) {
  const auto& req = ex.request();
  Encoding encoding = pick_encoding(req[http::field::accept_encoding], asset);
  std::string etag = etag_of(asset, encoding);
  if (etag_matches(req[http::field::if_none_match], etag)) {
    http_server::Response not_modified{http::status::not_modified, req.version()};
    set_security_headers(not_modified.base());
    set_caching_headers(not_modified.base(), asset, etag);
    co_await ex.send(std::move(not_modified));
    co_return;
  }
  http::response<http::empty_body> res{http::status::ok, req.version()};
  set_security_headers(res.base());
  set_caching_headers(res.base(), asset, etag);
  res.set(http::field::content_type, asset.content_type);
  std::string_view body = asset.identity;
  switch (encoding) {
    case Encoding::kBrotli:
      res.set(http::field::content_encoding, "br");
      body = asset.brotli;
      break;
    case Encoding::kGzip:
      res.set(http::field::content_encoding, "gzip");
      body = asset.gzip;
      break;
    case Encoding::kIdentity:
      break;
  }
  auto ec = co_await ex.start_sized(std::move(res), body.size());
  if (!ec) ec = co_await ex.write_chunk(body);
  if (ec) {
    ex.abandon();
    co_return;
  }
  co_await ex.end_stream();
}

http_server::Response redirect(const http_server::Request& req, std::string_view location) {
  http_server::Response r{http::status::found, req.version()};
  r.set(http::field::location, location);
  r.set(http::field::cache_control, "no-cache");
  return r;
}

bool browser_navigation(const http_server::Request& req) {
  return req[http::field::accept].find("text/html") != std::string_view::npos;
}

// GET /: the service's name for API clients and monitors (Claude Code probes its base URL);
// a browser is sent to the key holders' page, as the Node.js service does.
void register_root_route(http_server::Router& router) {
  std::string body = boost::json::serialize(
      boost::json::object{{"service", "claude-relay-service"}, {"version", CRS_VERSION}, {"health", "/health"}});
  router.add(http::verb::get, "/", [body](Exchange& ex) {
    if (browser_navigation(ex.request())) return ex.send(redirect(ex.request(), "/admin-next/api-stats"));
    return ex.send(http_server::json_response(http::status::ok, body));
  });
}

}  // namespace

Encoding pick_encoding(std::string_view accept_encoding, const Asset& asset) {
  double br = asset.brotli.empty() ? 0 : quality_of(accept_encoding, "br");
  double gzip = asset.gzip.empty() ? 0 : quality_of(accept_encoding, "gzip");
  if (br > 0 && br >= gzip) return Encoding::kBrotli;  // the smaller one, unless gzip is preferred
  if (gzip > 0) return Encoding::kGzip;
  return Encoding::kIdentity;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  bool found = false;
  for_each_item(if_none_match, [&](std::string_view item) {
    if (item == "*") found = true;
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == etag) found = true;
  });
  return found;
}

void register_console_routes(http_server::Router& router, std::span<const Asset> assets) {
  register_root_route(router);
  const Asset* index = nullptr;
  for (const Asset& asset : assets) {
    if (asset.path == "index.html") index = &asset;
    router.add(http::verb::get, "/admin-next/" + std::string(asset.path),
               [&asset](Exchange& ex) { return serve_asset(ex, asset); });
  }
  if (index) {
    // The console's pages are client-side routes: each answers index.html.
    auto page = [index](Exchange& ex) { return serve_asset(ex, *index); };
    router.add(http::verb::get, "/admin-next", page);
    router.add(http::verb::get, "/admin-next/:page", page);
  }
  // The Node.js service's first console lived at /web/ (its /web/auth/* API stays where it is).
  router.add(http::verb::get, "/web", [](Exchange& ex) { return ex.send(redirect(ex.request(), "/admin-next/")); });
}

}  // namespace crs::web
