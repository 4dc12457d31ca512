#include "http/client_address.hpp"

#include <algorithm>

namespace crs::http_server {
namespace {

asio::ip::address_v6 as_v6(const asio::ip::address& a) {
  return a.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()) : a.to_v6();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One hop of X-Forwarded-For ("1.2.3.4") or of Forwarded's for= ("1.2.3.4:80", "\"[::1]:80\"").
std::optional<asio::ip::address> hop_address(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    text = text.substr(1, close - 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    text = text.substr(0, text.find(':'));  // IPv4 with a port
  }
  beast::error_code ec;
  auto a = asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return a;
}

// The hops the proxies appended, nearest last: X-Forwarded-For first, else Forwarded's for=.
std::vector<std::string_view> forwarded_chain(const http::request_header<>& request) {
  std::vector<std::string_view> hops;
  auto split = [&](std::string_view v, char sep, auto&& each) {
    while (true) {
      auto at = v.find(sep);
      each(v.substr(0, at));
      if (at == std::string_view::npos) break;
      v.remove_prefix(at + 1);
    }
  };
  for (const auto& f : request)
    if (beast::iequals(f.name_string(), "x-forwarded-for"))
      split(f.value(), ',', [&](std::string_view hop) { hops.push_back(hop); });
  if (!hops.empty()) return hops;
  for (const auto& f : request) {
    if (!beast::iequals(f.name_string(), "forwarded")) continue;
    split(f.value(), ',', [&](std::string_view element) {
      split(element, ';', [&](std::string_view pair) {
        pair = trim(pair);
        if (pair.size() > 4 && beast::iequals(pair.substr(0, 4), "for=")) hops.push_back(pair.substr(4));
      });
    });
  }
  return hops;
}

}  // namespace

Result<TrustedProxies> TrustedProxies::parse(const std::vector<std::string>& entries) {
  TrustedProxies t;
  for (const auto& entry : entries) {
    std::string_view text = trim(entry);
    auto slash = text.find('/');
    beast::error_code ec;
    auto address = asio::ip::make_address(std::string(text.substr(0, slash)), ec);
    if (ec) return Error{"server.trustedProxies: '" + entry + "' is not an address or a CIDR"};
    unsigned bits = address.is_v4() ? 32 : 128;
    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
      std::string digits(text.substr(slash + 1));
      if (digits.empty() || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), ::isdigit) ||
          std::stoul(digits) > bits)
        return Error{"server.trustedProxies: '" + entry + "' has an invalid prefix length"};
      prefix = static_cast<unsigned>(std::stoul(digits));
    }
    t.networks_.push_back(Network{as_v6(address).to_bytes(), prefix + (128 - bits)});
  }
  return t;
}

bool TrustedProxies::trusts(const asio::ip::address& address) const {
  auto bytes = as_v6(address).to_bytes();
  return std::any_of(networks_.begin(), networks_.end(), [&](const Network& n) {
    unsigned whole = n.prefix / 8, rest = n.prefix % 8;
    if (!std::equal(bytes.begin(), bytes.begin() + whole, n.bytes.begin())) return false;
    if (rest == 0) return true;
    auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
    return (bytes[whole] & mask) == (n.bytes[whole] & mask);
  });
}

asio::ip::address TrustedProxies::client_of(const asio::ip::address& peer,
                                            const http::request_header<>& request) const {
  if (!trusts(peer)) return peer;
  auto hops = forwarded_chain(request);
  asio::ip::address client = peer;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    auto hop = hop_address(*it);
    if (!hop) break;  // unreadable: trust nothing further back
    client = *hop;
    if (!trusts(client)) break;
  }
  return client;
}

}  // namespace crs::http_server
