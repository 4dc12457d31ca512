#pragma once
// Port takeover (`crs serve --takeover`): every listener binds with SO_REUSEPORT, so a new
// process can listen on the port of one that is still running. The newest listener then asks the
// kernel to send it every new connection (a one-instruction classic BPF program on the port's
// reuseport group, no privilege needed), so the old process only finishes what it has and can
// close its socket with nothing new queued behind it.
#include <cstdint>

#include "core/net.hpp"

namespace crs::http_server {

// Sockets of this user listening on exactly `endpoint` (from /proc/net/tcp and tcp6): the
// processes that already share the port. Its size is the index a new listener gets in the group.
size_t listeners_on(const tcp::endpoint& endpoint);

// Makes the kernel pick the group's socket number `index` for every new connection; when the
// group has fewer sockets (the old ones closed), it falls back to its hash, which is then this
// socket alone. False when the kernel refuses (the group still spreads connections by hash).
bool steer_new_connections(tcp::acceptor& acceptor, uint32_t index);

}  // namespace crs::http_server
