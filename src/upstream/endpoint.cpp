#include "upstream/endpoint.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace crs::upstream {

Result<BaseUrl> parse_base_url(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Error{"invalid URL '" + url + "'"};
  const auto& u = *parsed;
  BaseUrl b;
  if (u.scheme() == "https") b.tls = true;
  else if (u.scheme() == "http") b.tls = false;
  else return Error{"base URL must start with https:// or http://"};
  if (u.host().empty()) return Error{"base URL has no host"};
  if (u.has_userinfo()) return Error{"base URL must not contain credentials"};
  if (u.has_query() || u.has_fragment()) return Error{"base URL must not have a query or fragment"};
  b.host = u.host();
  if (b.host.size() > 2 && b.host.front() == '[') b.host = b.host.substr(1, b.host.size() - 2);
  b.port = u.has_port() ? u.port_number() : (b.tls ? 443 : 80);
  if (u.has_port() && b.port == 0) return Error{"base URL has an invalid port"};
  // Boost.URL 1.81 reads "http://h:80x/p" as port 80 and path "x/p": a path must start with "/".
  if (!u.path().empty() && u.path().front() != '/') return Error{"base URL has an invalid port or path"};
  b.path_prefix = u.path();
  while (!b.path_prefix.empty() && b.path_prefix.back() == '/') b.path_prefix.pop_back();
  bool v6 = b.host.find(':') != std::string::npos;
  if (v6) b.authority.append("[").append(b.host).append("]");
  else b.authority = b.host;
  if (b.port != (b.tls ? 443 : 80)) b.authority.append(":").append(std::to_string(b.port));
  return b;
}

std::string pool_key(const BaseUrl& t, const Proxy& p) {
  std::string key = (t.tls ? "https://" : "http://") + t.host + ":" + std::to_string(t.port);
  if (p.kind != Proxy::Kind::None) {
    key += p.kind == Proxy::Kind::Http ? " via http://" : " via socks5://";
    key += p.username + ":" + p.password + "@" + p.host + ":" + std::to_string(p.port);
  }
  return key;
}

Result<Proxy> parse_proxy_url(const std::string& url) {
  Proxy p;
  if (url.empty()) return p;
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Error{"invalid proxy URL"};
  const auto& u = *parsed;
  if (u.scheme() == "http") p.kind = Proxy::Kind::Http;
  else if (u.scheme() == "socks5" || u.scheme() == "socks5h") p.kind = Proxy::Kind::Socks5;
  else return Error{"proxy URL must start with http://, socks5:// or socks5h://"};
  if (u.host().empty() || !u.has_port() || u.port_number() == 0) return Error{"proxy URL needs host:port"};
  if (!u.path().empty() && u.path() != "/") return Error{"proxy URL needs host:port and nothing after it"};
  p.host = u.host();
  p.port = u.port_number();
  if (u.has_userinfo()) {
    p.username = u.user();
    p.password = u.password();
  }
  if (p.kind == Proxy::Kind::Socks5 && (p.username.size() > 255 || p.password.size() > 255))
    return Error{"SOCKS5 user name and password are limited to 255 bytes"};
  return p;
}

std::string redact_proxy_url(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return url.empty() ? "" : "(invalid)";
  boost::urls::url u(*parsed);
  if (u.has_password()) u.set_password("***");
  return std::string(u.buffer());
}

}  // namespace crs::upstream
