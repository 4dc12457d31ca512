#pragma once
// How a client request becomes an upstream request, and what of the answer goes back
// (spec/anthropic-messages.md §10): allow-listed headers, the account's credentials, no
// client credential ever forwarded (headers or query: only `beta` of the query goes upstream).
#include <string>
#include <string_view>

#include "accounts/account.hpp"
#include "http/exchange.hpp"
#include "upstream/endpoint.hpp"

namespace crs::relay {

http::request<http::empty_body> build_upstream_request(const http_server::Request& client, std::string_view path,
                                                       std::string_view query, const accounts::Account& account,
                                                       const upstream::BaseUrl& base);

// Copies the upstream response headers a client may see onto `out`.
template <class Fields>
void copy_response_headers(const http::response_header<>& upstream, Fields& out);

bool is_forwarded_response_header(std::string_view name);

// When a 429 says the account may be used again: retry-after, else the unified/standard
// rate-limit reset headers, else `fallback_ms` from now.
int64_t rate_limit_until_ms(const http::response_header<>& upstream, int64_t now_ms, int64_t fallback_ms);

template <class Fields>
void copy_response_headers(const http::response_header<>& upstream, Fields& out) {
  for (const auto& f : upstream)
    if (is_forwarded_response_header(f.name_string())) out.insert(f.name_string(), f.value());
}

}  // namespace crs::relay
