#pragma once
// The web console's login: the admin token in an HttpOnly, SameSite=Strict cookie, so that no
// script of the page can read it. A cookie is sent by the browser on its own, so a request
// authenticated by it must also prove it comes from the console's own origin when it changes
// anything (CSRF): Sec-Fetch-Site "same-origin", or an Origin whose host is the Host header (or,
// from a trusted reverse proxy, X-Forwarded-Host). Scripts and the CLI send the token in a header
// and are not concerned. Over https the cookie is named with the __Host- prefix, which browsers
// keep from being set by a sibling domain or over plain http.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/exchange.hpp"

namespace crs::admin {

inline constexpr std::string_view kSessionCookie = "crs_admin_session";
inline constexpr std::string_view kSecureSessionCookie = "__Host-crs_admin_session";

// Every value of cookie `name` in a Cookie header, in order.
std::vector<std::string_view> cookie_values(std::string_view cookie_header, std::string_view name);

// The tokens the request's session cookies hold (a browser may send several cookies of one
// name: another path's, another site's), each a well-formed token; the caller takes the first
// that verifies.
std::vector<std::string_view> session_cookie_tokens(const http_server::Request& req);

// Whether the browser says the request comes from the page's own origin. `via_trusted_proxy`:
// the peer is a trusted reverse proxy, whose X-Forwarded-Host names the host the browser used.
bool same_origin(const http_server::Request& req, bool via_trusted_proxy);

// Set-Cookie values: the session for `max_age_seconds`, and the one that removes it.
// `secure` (the console is reached over https) adds the Secure attribute.
std::string session_cookie(std::string_view token, int64_t max_age_seconds, bool secure);
std::string cleared_session_cookie(bool secure);

// Whether the page that sent the request was loaded over https (its Origin says so).
bool https_origin(const http_server::Request& req);

}  // namespace crs::admin
