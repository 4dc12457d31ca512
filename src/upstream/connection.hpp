#pragma once
// One connection to an upstream host: plain TCP or TLS, possibly tunnelled through an HTTP
// CONNECT or SOCKS5 proxy. Kept alive and reused through ConnectionPool.
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "core/net.hpp"
#include "core/result.hpp"
#include "upstream/endpoint.hpp"

namespace crs::upstream {

using ResponseParser = http::response_parser<http::buffer_body>;

class Connection {
 public:
  // Connects (through the proxy if any) and completes the TLS handshake, all within `timeout`.
  static Task<Result<std::unique_ptr<Connection>>> open(asio::any_io_executor executor, asio::ssl::context& tls,
                                                        const BaseUrl& target, const Proxy& proxy,
                                                        std::chrono::milliseconds timeout);
  ~Connection();

  Task<beast::error_code> write(http::request<http::empty_body>& header, std::string_view body);
  Task<beast::error_code> read_header(ResponseParser& parser);
  // Reads some body bytes into `out` (size `capacity`); returns how many.
  Task<std::pair<beast::error_code, size_t>> read_body(ResponseParser& parser, char* out, size_t capacity);
  // The same for a stream that idles between events (SSE): while it waits for the upstream,
  // it holds a read buffer sized to what its last reads brought (1-16 KB), and `out` is written
  // only after the wait, so `out` may be a buffer the whole thread shares.
  Task<std::pair<beast::error_code, size_t>> read_stream_body(ResponseParser& parser, char* out, size_t capacity);
  // Frees the read buffer when it holds nothing (a connection kept idle in the pool).
  void release_buffer();

  beast::tcp_stream& tcp();
  void expires_after(std::chrono::milliseconds t) { tcp().expires_after(t); }
  void expires_never() { tcp().expires_never(); }
  // Closes the socket at once: pending reads and writes fail (used to cancel).
  void abort();
  // False when the peer has closed the idle connection (checked without blocking).
  bool still_open();

  const std::string& pool_key() const { return pool_key_; }
  void set_pool_key(std::string key) { pool_key_ = std::move(key); }
  bool reused = false;  // came from the pool: a failure before any response byte is retried

 private:
  Connection() = default;
  void drain_buffered(ResponseParser& parser, beast::error_code& ec);
  // Parses what is buffered into `out`: the error and the body bytes it got.
  std::pair<beast::error_code, size_t> parse_into(ResponseParser& parser, char* out, size_t capacity,
                                                  beast::error_code ec);
  // One Beast read: the error (need_buffer is none) and the bytes the parser took.
  Task<std::pair<beast::error_code, size_t>> read_more(ResponseParser& parser);
  size_t next_stream_read_ = kSmallestStreamRead;
  static constexpr size_t kSmallestStreamRead = 1024;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  // Bounded: Beast sets no limit on a chunk's extensions or trailers, and a hostile upstream
  // could make the relay buffer them until the request's deadline (a read past it fails).
  static constexpr size_t kMostBuffered = 256 * 1024;
  beast::flat_buffer buffer_{kMostBuffered};
  std::string pool_key_;
};

}  // namespace crs::upstream
