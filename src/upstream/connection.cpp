#include "upstream/connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <bit>

#include "core/crypto.hpp"
#include "core/http_wire.hpp"
#include "core/write_now.hpp"
#include "upstream/proxy_handshake.hpp"

namespace crs::upstream {

namespace {

// Beast reads at most the buffer's free capacity at once (512 bytes when empty). The head is
// waited for with 4 KB (an answer's head is 1-3 KB, and the wait can last the whole generation
// of a non-streamed answer); a body is read 16 KB at a time.
constexpr size_t kHeadBuffer = 4 * 1024;
constexpr size_t kReadBuffer = 16 * 1024;

}  // namespace

Connection::~Connection() = default;

beast::tcp_stream& Connection::tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

void Connection::abort() {
  beast::error_code ignored;
  tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp().socket().close(ignored);
}

bool Connection::still_open() {
  auto& socket = tcp().socket();
  if (!socket.is_open()) return false;
  char byte;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // 0: the peer closed; >0: unexpected bytes on an idle connection; -1/EAGAIN: idle and fine.
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

Task<Result<std::unique_ptr<Connection>>> Connection::open(asio::any_io_executor executor, asio::ssl::context& tls,
                                                           const BaseUrl& target, const Proxy& proxy,
                                                           std::chrono::milliseconds timeout) {
  std::unique_ptr<Connection> c(new Connection());
  auto stream = std::make_unique<beast::tcp_stream>(executor);
  const std::string& host = proxy.kind == Proxy::Kind::None ? target.host : proxy.host;
  uint16_t port = proxy.kind == Proxy::Kind::None ? target.port : proxy.port;

  tcp::resolver resolver(executor);
  stream->expires_after(timeout);
  auto [rec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), use_nothrow);
  if (rec) co_return Error{"cannot resolve " + host + ": " + rec.message()};
  auto [cec, ep] = co_await stream->async_connect(endpoints, use_nothrow);
  if (cec) {
    co_return Error{(cec == beast::error::timeout ? std::string("connect timed out") : cec.message()) + " (" + host +
                    ":" + std::to_string(port) + ")"};
  }
  stream->socket().set_option(tcp::no_delay(true));

  if (proxy.kind != Proxy::Kind::None) {
    auto tunnel = co_await proxy_handshake(*stream, proxy, target.host, target.port);
    if (!tunnel) co_return Error{"proxy " + proxy.host + ":" + std::to_string(proxy.port) + ": " + tunnel.error().message};
  }

  if (!target.tls) {
    stream->expires_never();
    beast::error_code ignored;
    stream->socket().non_blocking(true, ignored);  // for write(): a write tried at once
    c->plain_ = std::move(stream);
    co_return c;
  }
  c->tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), tls);
  if (!SSL_set_tlsext_host_name(c->tls_->native_handle(), target.host.c_str()))
    co_return Error{"TLS: cannot set server name"};
  c->tls_->set_verify_mode(asio::ssl::verify_peer);
  c->tls_->set_verify_callback(asio::ssl::host_name_verification(target.host));
  auto [hec] = co_await c->tls_->async_handshake(asio::ssl::stream_base::client, use_nothrow);
  if (hec) co_return Error{"TLS handshake with " + target.host + " failed: " + hec.message()};
  beast::get_lowest_layer(*c->tls_).expires_never();
  co_return c;
}

Task<beast::error_code> Connection::write(http::request<http::empty_body>& header, std::string_view body) {
  // Header and body in one gather write: one syscall for most requests.
  std::string head;
  head.reserve(512);
  append_head(head, header.base());
  auto buffers = gather(head, body);
  beast::error_code ec;
  if (tls_) {
    auto [e, n] = co_await asio::async_write(*tls_, buffers, use_nothrow);
    ec = e;
  } else {
    auto rest = write_now(plain_->socket(), buffers, ec);  // the socket is in non-blocking mode
    if (!ec && beast::buffer_bytes(rest) > 0) {
      auto [e, n] = co_await asio::async_write(*plain_, rest, use_nothrow);
      ec = e;
    }
  }
  co_return ec;
}

Task<beast::error_code> Connection::read_header(ResponseParser& parser) {
  buffer_.reserve(kHeadBuffer);  // a pooled connection's was freed
  if (tls_) {
    auto [ec, n] = co_await http::async_read_header(*tls_, buffer_, parser, use_nothrow);
    co_return ec;
  }
  auto [ec, n] = co_await http::async_read_header(*plain_, buffer_, parser, use_nothrow);
  co_return ec;
}

Task<std::pair<beast::error_code, size_t>> Connection::read_body(ResponseParser& parser, char* out, size_t capacity) {
  auto buffered = parse_into(parser, out, capacity, {});  // what came with the head
  if (buffered.first || buffered.second > 0 || parser.is_done()) co_return buffered;
  buffer_.reserve(kReadBuffer);  // the head was waited for with less
  parser.get().body().data = out;
  parser.get().body().size = capacity;
  auto [ec, parsed] = co_await read_more(parser);  // Beast parses into `out` as it reads
  drain_buffered(parser, ec);
  co_return std::pair{ec, capacity - parser.get().body().size};
}

std::pair<beast::error_code, size_t> Connection::parse_into(ResponseParser& parser, char* out, size_t capacity,
                                                            beast::error_code ec) {
  parser.get().body().data = out;
  parser.get().body().size = capacity;
  drain_buffered(parser, ec);
  return {ec, capacity - parser.get().body().size};
}

Task<std::pair<beast::error_code, size_t>> Connection::read_stream_body(ResponseParser& parser, char* out,
                                                                        size_t capacity) {
  auto buffered = parse_into(parser, out, capacity, {});  // what came with the head or the last event
  if (buffered.first || buffered.second > 0 || parser.is_done()) co_return buffered;

  // Nothing whole is buffered: wait for the upstream with a buffer sized to the last reads (an
  // event a second needs 1 KB while it waits; a burst doubles it up to 16 KB), and `out`
  // untouched until the read is back.
  size_t held = buffer_.size();
  size_t want = std::min(held + next_stream_read_, buffer_.max_size());
  if (buffer_.capacity() > want) buffer_.shrink_to_fit();
  buffer_.reserve(want);
  parser.get().body().data = nullptr;  // Beast stops at the body's first byte (need_buffer)
  parser.get().body().size = 0;
  auto [ec, framing] = co_await read_more(parser);
  size_t arrived = buffer_.size() + framing - std::min(held, buffer_.size() + framing);
  next_stream_read_ = arrived >= next_stream_read_ ? std::min(2 * next_stream_read_, kReadBuffer)
                                                   : std::max(std::bit_ceil(arrived), kSmallestStreamRead);
  co_return parse_into(parser, out, capacity, ec);
}

Task<std::pair<beast::error_code, size_t>> Connection::read_more(ResponseParser& parser) {
  beast::error_code ec;
  size_t parsed = 0;
  if (tls_) {
    auto [e, n] = co_await http::async_read_some(*tls_, buffer_, parser, use_nothrow);
    ec = e;
    parsed = n;
  } else {
    auto [e, n] = co_await http::async_read_some(*plain_, buffer_, parser, use_nothrow);
    ec = e;
    parsed = n;
  }
  if (ec == http::error::need_buffer) ec = {};
  co_return std::pair{ec, parsed};
}

void Connection::release_buffer() {
  if (buffer_.size() == 0) buffer_.shrink_to_fit();
}

// Beast hands over a chunked body one chunk at a time, though one socket read often holds
// several (SSE events): parse what is already buffered too, so the caller forwards one piece
// per read instead of one per chunk.
void Connection::drain_buffered(ResponseParser& parser, beast::error_code& ec) {
  while (!ec && !parser.is_done() && buffer_.size() > 0 && parser.get().body().size > 0) {
    beast::error_code step;
    size_t used = parser.put(buffer_.data(), step);
    buffer_.consume(used);
    if (step == http::error::need_more || step == http::error::need_buffer) break;
    if (step) ec = step;
    if (used == 0) break;
  }
}

}  // namespace crs::upstream
