#include "admin/session_cookie.hpp"

#include <algorithm>
#include <cctype>

namespace crs::admin {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A token is base64url and dots: anything else in the cookie is not one of ours.
bool token_characters(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::string attributes(bool secure) {
  return std::string("; Path=/; HttpOnly; SameSite=Strict") + (secure ? "; Secure" : "");
}

std::string_view cookie_name(bool secure) { return secure ? kSecureSessionCookie : kSessionCookie; }

bool origin_names(std::string_view origin, std::string_view host) {
  if (host.empty()) return false;
  std::string own(host);
  return iequals(origin, "http://" + own) || iequals(origin, "https://" + own);
}

}  // namespace

std::vector<std::string_view> cookie_values(std::string_view header, std::string_view name) {
  std::vector<std::string_view> out;
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = trim(header.substr(0, semi));
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) out.push_back(trim(pair.substr(eq + 1)));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return out;
}

std::vector<std::string_view> session_cookie_tokens(const http_server::Request& req) {
  std::vector<std::string_view> out;
  for (auto name : {kSecureSessionCookie, kSessionCookie})
    for (auto v : cookie_values(req[http::field::cookie], name))
      if (!v.empty() && v.size() <= 4096 && token_characters(v)) out.push_back(v);
  return out;
}

bool same_origin(const http_server::Request& req, bool via_trusted_proxy) {
  std::string_view site = req["sec-fetch-site"];
  if (!site.empty()) return iequals(site, "same-origin");
  // An Origin is exactly scheme://host[:port]: compare it whole, never parse it leniently.
  std::string_view origin = req[http::field::origin];
  if (origin.empty()) return false;
  if (origin_names(origin, req[http::field::host])) return true;
  if (!via_trusted_proxy) return false;
  std::string_view forwarded = req["x-forwarded-host"];
  return origin_names(origin, trim(forwarded.substr(0, forwarded.find(','))));
}

std::string session_cookie(std::string_view token, int64_t max_age_seconds, bool secure) {
  return std::string(cookie_name(secure)) + "=" + std::string(token) + "; Max-Age=" + std::to_string(max_age_seconds) +
         attributes(secure);
}

std::string cleared_session_cookie(bool secure) {
  return std::string(cookie_name(secure)) + "=; Max-Age=0" + attributes(secure);
}

bool https_origin(const http_server::Request& req) { return req[http::field::origin].starts_with("https://"); }

}  // namespace crs::admin
