#pragma once
// Serves the web console under /admin-next/ (spec/crs-compat.md §1): the embedded files with
// their caching rules (hashed names immutable, the rest revalidated by ETag), the stored
// brotli or gzip form the client accepts, and the console's security headers (a CSP without
// 'unsafe-inline', no framing). Pages are client-side routes: /admin-next/<page> answers
// index.html. /web/ (the Node.js service's old console) and browsers landing on / are sent
// to the console.
#include <string_view>

#include "http/router.hpp"
#include "web/console_assets.hpp"

namespace crs::web {

// The Content-Security-Policy of every console response.
inline constexpr std::string_view kConsolePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

enum class Encoding { kIdentity, kGzip, kBrotli };

// The stored encoding an Accept-Encoding header prefers (q-values honoured, "*" counts; brotli
// on a tie, being smaller).
Encoding pick_encoding(std::string_view accept_encoding, const Asset& asset);

// Whether If-None-Match names this ETag (a list, weak forms, or "*").
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// Registers the console's routes. `assets` is console_assets() outside tests.
void register_console_routes(http_server::Router& router, std::span<const Asset> assets);

}  // namespace crs::web
