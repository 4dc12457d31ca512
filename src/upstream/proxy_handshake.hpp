#pragma once
// Opens a tunnel to host:port through an already connected proxy: HTTP CONNECT (with Basic
// credentials) or SOCKS5 (RFC 1928, user/password auth per RFC 1929, the proxy resolves names).
#include <cstdint>
#include <string>

#include "core/net.hpp"
#include "core/result.hpp"
#include "upstream/endpoint.hpp"

namespace crs::upstream {

Task<Status> proxy_handshake(beast::tcp_stream& stream, const Proxy& proxy, const std::string& host, uint16_t port);

}  // namespace crs::upstream
