#include "http/server.hpp"

#include <string>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

#include "http/responses.hpp"

namespace crs::http_server {

struct Server::Connection {
  beast::tcp_stream* stream;
  bool idle = true;
};

struct Server::Worker {
  explicit Worker(asio::any_io_executor ex) : executor(ex) {}
  asio::any_io_executor executor;
  std::unordered_set<Connection*> connections;  // touched only on this worker's thread
  bool draining = false;
};

namespace {

constexpr size_t kHeadBuffer = 4096;  // per connection, kept while it is open
// Spare capacity after a body, so that a JSON parser that wants padding (simdjson: 64 bytes)
// reads it in place instead of copying it.
constexpr size_t kBodySlack = 64;

// Parse errors that mean "the client sent something that is not HTTP/1.1".
bool is_malformed(const beast::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::end_of_stream).category()) return false;
  return ec != http::error::end_of_stream && ec != http::error::partial_message && ec != http::error::need_more &&
         ec != http::error::header_limit && ec != http::error::body_limit;
}

// Memory of large request bodies, reused on this thread. A fresh allocation of a
// Claude-Code-sized body (100 KB - 1 MB) is mmap'd by malloc, so each request would fault in
// and zero its pages anew, then unmap them.
class BodyMemory {
 public:
  // Gives `body` a capacity of at least `capacity`, from a kept buffer when one is big enough.
  void lend(std::string& body, size_t capacity) {
    if (!body.empty()) {  // never the case after a header read; a swap would lose the bytes
      body.reserve(capacity);
      return;
    }
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->capacity() < capacity) continue;
      body.swap(*it);
      kept_.erase(it);
      return;
    }
    body.reserve(capacity);
  }
  void give_back(std::string& body) {
    if (body.capacity() < kSmallest || body.capacity() > kLargest || kept_.size() >= kKept) return;
    body.clear();
    kept_.push_back(std::move(body));
  }

 private:
  static constexpr size_t kSmallest = 16 * 1024, kLargest = 4 << 20, kKept = 8;
  std::vector<std::string> kept_;
};

thread_local BodyMemory body_memory;

// The deadline for reading a request body. On expiry it cancels the socket's operations:
// Beast's own stream timeout would close the socket, and the client could not be told 408.
class BodyDeadline {
 public:
  BodyDeadline(beast::tcp_stream& stream, std::chrono::steady_clock::duration timeout)
      : state_(std::make_shared<State>(State{&stream.socket()})), timer_(stream.get_executor(), timeout) {
    stream.expires_never();
    // The state is shared with the handler, which may run after this object is gone.
    timer_.async_wait([state = state_](const beast::error_code& e) {
      if (e || !state->reading) return;
      state->expired = true;
      beast::error_code ignored;
      state->socket->cancel(ignored);
    });
  }
  ~BodyDeadline() {
    state_->reading = false;
    timer_.cancel();
  }
  // The read's error, a cancellation by this deadline reported as a timeout.
  beast::error_code outcome(const beast::error_code& ec) const {
    return state_->expired ? beast::error_code(beast::error::timeout) : ec;
  }

 private:
  struct State {
    tcp::socket* socket;
    bool reading = true;
    bool expired = false;
  };
  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};

// A body of known length, read straight into its string. Through Beast's parser every byte
// would be copied once more, out of the read buffer: for a 200 KB body that copy was the
// relay's largest user-space cost.
Task<beast::error_code> read_sized_body(beast::tcp_stream& stream, beast::flat_buffer& buffer, std::string& body,
                                        size_t length, std::chrono::steady_clock::duration timeout) {
  size_t have = body.size();
  size_t buffered = std::min(buffer.size(), length - have);
  body.append(static_cast<const char*>(buffer.data().data()), buffered);
  buffer.consume(buffered);
  have += buffered;
  if (have == length) co_return beast::error_code{};
  body.resize(length);
  BodyDeadline deadline(stream, timeout);
  auto [ec, n] = co_await asio::async_read(stream.socket(), asio::buffer(body.data() + have, length - have),
                                           use_nothrow);
  ec = deadline.outcome(ec);
  if (ec == asio::error::eof) ec = http::error::partial_message;
  if (ec) body.resize(have + n);
  co_return ec;
}

Task<void> send_and_close(beast::tcp_stream& stream, http::status status, std::string_view message) {
  auto res = anthropic_error(status, anthropic_error_type(status), message);
  res.keep_alive(false);
  res.set("X-Request-ID", make_request_id());
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(5));
  co_await http::async_write(stream, res, use_nothrow);
}

}  // namespace

Server::Server(std::vector<asio::any_io_executor> workers, const Router& router, ServerOptions options)
    : router_(router), options_(std::move(options)), acceptor_(workers.at(0)) {
  for (auto& ex : workers) workers_.push_back(std::make_unique<Worker>(ex));
}

Server::~Server() = default;

Status Server::listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return Error{"invalid listen address '" + options_.host + "'"};
  tcp::endpoint endpoint(address, static_cast<uint16_t>(options_.port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{"cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " + ec.message()};
  return Ok{};
}

uint16_t Server::port() const {
  beast::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Server::start() { asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached); }

Task<void> Server::accept_loop() {
  size_t next = 0;
  asio::steady_timer pause(acceptor_.get_executor());
  while (!shutting_down_) {
    size_t worker = next++ % workers_.size();
    auto [ec, socket] = co_await acceptor_.async_accept(workers_[worker]->executor, use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
    if (ec) {
      // Out of file descriptors and the like: wait a little instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    asio::co_spawn(workers_[worker]->executor, session(worker, std::move(socket)), asio::detached);
  }
}

Task<void> Server::session(size_t worker_index, tcp::socket socket) {
  Worker& worker = *workers_[worker_index];
  beast::tcp_stream stream(std::move(socket));
  beast::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  // Synchronous writes return would_block instead of waiting (Exchange::write_parts).
  stream.socket().non_blocking(true, ignored);
  // Beast reads at most the buffer's free capacity at once (512 bytes when empty): start with
  // room for a whole ordinary request head. Bodies of known length bypass it; a chunked body
  // may grow it, and it shrinks back afterwards.
  beast::flat_buffer buffer;
  buffer.reserve(kHeadBuffer);
  Connection connection{&stream};
  ConnectionMemo memo;
  worker.connections.insert(&connection);
  ++open_connections_;

  while (!worker.draining) {
    http::request_parser<RequestBody> parser;
    parser.header_limit(options_.max_header_bytes);
    parser.body_limit(options_.max_body_bytes);
    connection.idle = true;
    stream.expires_after(options_.keep_alive_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
    connection.idle = false;
    if (ec) {
      if (ec == http::error::header_limit) {
        co_await send_and_close(stream, http::status::request_header_fields_too_large,
                                "Request header fields too large");
      } else if (ec == http::error::body_limit) {
        co_await send_and_close(stream, http::status::payload_too_large,
                                "Request body exceeds the limit of " + std::to_string(options_.max_body_bytes) +
                                    " bytes");
      } else if (is_malformed(ec)) {
        co_await send_and_close(stream, http::status::bad_request, "Malformed HTTP request: " + ec.message());
      }
      break;
    }

    // Counted by hand, not by a guard object: frames still suspended when the io_contexts are
    // destroyed at exit must not touch the Server from their destructors.
    ++active_requests_;

    if (!parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        co_await http::async_write(stream, cont, use_nothrow);
      }
      beast::error_code bec;
      if (auto length = parser.content_length()) {
        // The header passed the body limit, so the length is allowed.
        auto& body = parser.get().body();
        body_memory.lend(body, static_cast<size_t>(*length) + kBodySlack);
        bec = co_await read_sized_body(stream, buffer, body, static_cast<size_t>(*length),
                                       options_.request_read_timeout);
      } else {
        BodyDeadline deadline(stream, options_.request_read_timeout);
        auto [e, bn] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        bec = deadline.outcome(e);
      }
      if (bec) {
        if (bec == http::error::body_limit) {
          co_await send_and_close(stream, http::status::payload_too_large,
                                  "Request body exceeds the limit of " + std::to_string(options_.max_body_bytes) +
                                      " bytes");
        } else if (bec == beast::error::timeout) {
          co_await send_and_close(stream, http::status::request_timeout, "Request body not received in time");
        } else if (is_malformed(bec)) {
          co_await send_and_close(stream, http::status::bad_request, "Malformed HTTP request: " + bec.message());
        }
        --active_requests_;
        break;
      }
    }
    stream.expires_never();
    if (buffer.capacity() > kHeadBuffer && buffer.size() == 0) {
      buffer.shrink_to_fit();  // an idle or streaming connection keeps only the small buffer
      buffer.reserve(kHeadBuffer);
    }

    Exchange exchange(stream, parser.release(), worker_index, worker.draining, options_.write_timeout, memo);
    bool failed = false;
    try {
      co_await router_.dispatch(exchange);
    } catch (const std::exception& e) {
      spdlog::error("request {} {} failed: {}", exchange.request().method_string(), exchange.path(), e.what());
      failed = true;
    }
    if (failed && !exchange.response_started())
      co_await exchange.send(anthropic_error(http::status::internal_server_error, "api_error", "Internal error"));
    body_memory.give_back(exchange.request().body());
    --active_requests_;
    if (failed || !exchange.keep_alive()) break;
  }

  worker.connections.erase(&connection);
  --open_connections_;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

void Server::begin_shutdown() {
  if (shutting_down_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  for (auto& w : workers_) {
    Worker* worker = w.get();
    asio::post(worker->executor, [worker] {
      worker->draining = true;
      for (Connection* c : worker->connections)
        if (c->idle) c->stream->cancel();  // wakes the idle read; busy ones finish their request
    });
  }
}

}  // namespace crs::http_server
