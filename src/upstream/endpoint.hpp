#pragma once
// Where an upstream request goes: the account's base URL and, optionally, its proxy.
#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace crs::upstream {

struct BaseUrl {
  bool tls = true;
  std::string host;
  uint16_t port = 443;
  std::string path_prefix;  // "" or "/something" (no trailing slash)
  std::string authority;    // the Host header's value: host, [v6 address], ":port" if not the default
};

struct Proxy {
  enum class Kind { None, Http, Socks5 };
  Kind kind = Kind::None;
  std::string host;
  uint16_t port = 0;
  std::string username;
  std::string password;
};

// https://host[:port][/prefix] or http://... (plain HTTP only when asked for explicitly).
Result<BaseUrl> parse_base_url(const std::string& url);
// http://[user:pass@]host:port, socks5://[user:pass@]host:port (socks5h:// accepted: we
// always let the proxy resolve names). Empty = no proxy.
Result<Proxy> parse_proxy_url(const std::string& url);

// What tells apart the connections a pool keeps: the target and the proxy with its credentials.
std::string pool_key(const BaseUrl& target, const Proxy& proxy);

// The proxy URL with its password replaced by ***, for listings.
std::string redact_proxy_url(const std::string& url);

}  // namespace crs::upstream
