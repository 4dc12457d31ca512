#pragma once
// The address a request came from. Behind a reverse proxy every request comes from the proxy's
// address, so per-address limits (admin login throttling) would lock everyone out at once.
// Only a peer listed in server.trustedProxies may name the client, in X-Forwarded-For or
// Forwarded; the client is the nearest address of that chain that is not itself a trusted proxy
// (so a client cannot forge its address by sending the header itself through the proxy).
#include <string>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"

namespace crs::http_server {

class TrustedProxies {
 public:
  // Each entry an address or a CIDR ("10.0.0.0/8", "::1", "fd00::/8").
  static Result<TrustedProxies> parse(const std::vector<std::string>& entries);

  bool empty() const { return networks_.empty(); }
  bool trusts(const asio::ip::address& address) const;
  // `peer` itself unless it is trusted and the request's forwarding headers name another address.
  asio::ip::address client_of(const asio::ip::address& peer, const http::request_header<>& request) const;

 private:
  struct Network {
    asio::ip::address_v6::bytes_type bytes{};  // IPv4 as IPv4-mapped IPv6
    unsigned prefix = 0;                        // in bits of the 128
  };
  std::vector<Network> networks_;
};

}  // namespace crs::http_server
