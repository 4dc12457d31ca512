#include "relay/upstream_request.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <vector>

namespace crs::relay {
namespace {

constexpr std::string_view kOauthBeta = "oauth-2025-04-20";
constexpr std::string_view kDefaultVersion = "2023-06-01";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool forwarded_request_header(const std::string& name) {
  static const std::vector<std::string_view> kAllowed = {
      "accept",     "accept-language", "anthropic-dangerous-direct-browser-access", "user-agent", "x-app",
      "x-claude-code-session-id", "x-client-request-id", "sec-fetch-mode"};
  return name.starts_with("x-stainless-") || std::find(kAllowed.begin(), kAllowed.end(), name) != kAllowed.end();
}

// Comma-joined, de-duplicated, order kept; repeated headers are merged.
std::string merged_beta(const http_server::Request& client, bool oauth) {
  std::vector<std::string> flags;
  auto add = [&](std::string_view flag) {
    while (!flag.empty() && flag.front() == ' ') flag.remove_prefix(1);
    while (!flag.empty() && flag.back() == ' ') flag.remove_suffix(1);
    if (!flag.empty() && std::find(flags.begin(), flags.end(), flag) == flags.end()) flags.emplace_back(flag);
  };
  if (oauth) add(kOauthBeta);
  for (const auto& f : client) {
    if (!beast::iequals(f.name_string(), "anthropic-beta")) continue;
    std::string_view v = f.value();
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string_view::npos) comma = v.size();
      add(v.substr(start, comma - start));
      start = comma + 1;
    }
  }
  std::string out;
  for (const auto& f : flags) out += (out.empty() ? "" : ",") + f;
  return out;
}

// RFC 3339 "2026-01-05T10:15:30Z" -> Unix ms (0 if unparsable).
int64_t parse_rfc3339_ms(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// The query parameters the Messages API defines (`beta`), in their order; everything else is
// dropped: a relay key may arrive as `?key=cr_...` and must never travel upstream.
std::string upstream_query(std::string_view query) {
  std::string out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair == "beta" || pair.starts_with("beta=")) out.append(out.empty() ? "" : "&").append(pair);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

http::request<http::empty_body> build_upstream_request(const http_server::Request& client, std::string_view path,
                                                       std::string_view query, const accounts::Account& account,
                                                       const upstream::BaseUrl& base) {
  std::string target;
  std::string forwarded_query = upstream_query(query);
  target.reserve(base.path_prefix.size() + path.size() + forwarded_query.size() + 1);
  target.append(base.path_prefix).append(path);
  if (!forwarded_query.empty()) target.append("?").append(forwarded_query);
  http::request<http::empty_body> req{client.method(), target, 11};
  for (const auto& f : client) {
    std::string name = lower(f.name_string());
    if (forwarded_request_header(name)) req.insert(f.name_string(), f.value());
  }
  bool default_port = base.port == (base.tls ? 443 : 80);
  req.set(http::field::host, default_port ? base.host : base.host + ":" + std::to_string(base.port));
  req.set(http::field::content_type, "application/json");
  // Identity: the relay reads usage from the stream, so it must be able to read the stream.
  req.set(http::field::accept_encoding, "identity");
  std::string_view version = client["anthropic-version"];
  req.set("anthropic-version", version.empty() ? kDefaultVersion : version);
  bool oauth = account.type == accounts::kClaudeOauth;
  if (std::string beta = merged_beta(client, oauth); !beta.empty()) req.set("anthropic-beta", beta);
  if (oauth) req.set(http::field::authorization, "Bearer " + account.credentials.access_token);
  else req.set("x-api-key", account.credentials.api_key);
  req.keep_alive(true);
  return req;
}

bool is_forwarded_response_header(std::string_view name) {
  std::string n = lower(name);
  return n == "content-type" || n == "request-id" || n == "retry-after" || n == "retry-after-ms" ||
         n == "x-should-retry" || n.starts_with("anthropic-ratelimit-");
}

int64_t rate_limit_until_ms(const http::response_header<>& h, int64_t now_ms, int64_t fallback_ms) {
  if (auto ra = h[http::field::retry_after]; !ra.empty()) {
    char* end = nullptr;
    std::string s(ra);
    long secs = std::strtol(s.c_str(), &end, 10);
    if (end != s.c_str() && secs >= 0) return now_ms + secs * 1000;
  }
  if (auto unified = h["anthropic-ratelimit-unified-reset"]; !unified.empty()) {
    long long secs = std::atoll(std::string(unified).c_str());
    if (secs > 0) return secs * 1000;
  }
  int64_t latest = 0;
  for (const char* name : {"anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
                           "anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset"}) {
    if (auto v = h[name]; !v.empty()) latest = std::max(latest, parse_rfc3339_ms(v));
  }
  if (latest > now_ms) return latest;
  return now_ms + fallback_ms;
}

}  // namespace crs::relay
