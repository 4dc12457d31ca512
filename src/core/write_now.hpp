#pragma once
// A write tried at once on a socket in non-blocking mode. An asynchronous write that the socket
// takes whole still completes through the scheduler's queue: one more turn of the event loop
// (a non-blocking epoll_wait) per write. Only what the socket does not take should wait.
#include "core/net.hpp"

namespace crs {

// Writes what the socket takes now and returns the rest (empty when all of it went); a socket
// that takes nothing is not an error. Not a coroutine: no frame per write.
template <class Buffers>
beast::buffers_suffix<Buffers> write_now(tcp::socket& socket, const Buffers& buffers, beast::error_code& ec) {
  size_t sent = socket.write_some(buffers, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
  beast::buffers_suffix<Buffers> rest(buffers);
  rest.consume(ec ? beast::buffer_bytes(buffers) : sent);
  return rest;
}

}  // namespace crs
