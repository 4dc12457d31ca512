#pragma once
// A connection to Redis: plain TCP, or TLS over it (redis.tls). An Asio stream either way, so the
// client and the subscriber read and write it without knowing which.
#include <memory>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "core/net.hpp"
#include "core/result.hpp"
#include "store/redis_options.hpp"

namespace crs::store {

class RedisStream {
 public:
  using executor_type = asio::any_io_executor;
  using Tls = asio::ssl::stream<tcp::socket>;

  explicit RedisStream(asio::any_io_executor executor) : socket_(executor) {}
  explicit RedisStream(tcp::socket socket) : socket_(std::move(socket)) {}
  // `context` must outlive the stream: it is kept with it.
  RedisStream(std::shared_ptr<asio::ssl::context> context, std::unique_ptr<Tls> tls)
      : socket_(tls->get_executor()), context_(std::move(context)), tls_(std::move(tls)) {}

  std::string peer;  // "host:port" it was opened to

  executor_type get_executor() { return socket_.get_executor(); }
  tcp::socket& transport() { return tls_ ? tls_->next_layer() : socket_; }
  bool is_open() { return transport().is_open(); }
  void close() {
    beast::error_code ignored;
    if (!is_open()) return;
    transport().shutdown(tcp::socket::shutdown_both, ignored);
    transport().close(ignored);
  }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return socket_.async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> context_;
  std::unique_ptr<Tls> tls_;
};

// The client side of redis.tls: the system's CAs and tls_ca_file, the client certificate if
// given, peer verification always.
Result<std::shared_ptr<asio::ssl::context>> redis_tls_context(const RedisOptions& options);

}  // namespace crs::store
