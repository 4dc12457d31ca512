#include "http/server.hpp"

#include <string>
#include <unordered_set>
#include <vector>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "http/listener_group.hpp"
#include "http/request_framing.hpp"
#include "http/responses.hpp"

namespace crs::http_server {

struct Server::Connection {
  beast::tcp_stream* stream;
  bool idle = true;
  bool served = false;  // its first request has arrived (until then a shutdown lets it come)
};

struct Server::Worker {
  explicit Worker(asio::any_io_executor ex) : executor(ex) {}
  asio::any_io_executor executor;
  std::unordered_set<Connection*> connections;  // touched only on this worker's thread
  bool draining = false;
};

namespace {

constexpr size_t kHeadBuffer = 4096;  // per connection, kept while it is open (not while it streams)
// How long a connection that has sent nothing yet may take for its first request once the
// server is stopping.
constexpr std::chrono::seconds kFirstRequestWhenStopping{5};
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
  void release() { std::vector<std::string>().swap(kept_); }

 private:
  static constexpr size_t kSmallest = 16 * 1024, kLargest = 4 << 20, kKept = 8;
  std::vector<std::string> kept_;
};

thread_local BodyMemory body_memory;

}  // namespace

void release_thread_body_memory() { body_memory.release(); }

namespace {

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

// Before a request is routed its API is unknown: the error carries what an OpenAI client reads
// (error.code, error.param) inside the Anthropic shape, and both kinds of SDK understand it.
Task<void> send_and_close(beast::tcp_stream& stream, http::status status, std::string_view message) {
  std::string_view type = anthropic_error_type(status);
  boost::json::object error{{"type", type}, {"message", message}, {"param", nullptr}, {"code", type}};
  auto res = json_response(status, boost::json::serialize(boost::json::object{{"type", "error"}, {"error", error}}));
  res.keep_alive(false);
  res.set("X-Request-ID", make_request_id());
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(5));
  co_await http::async_write(stream, res, use_nothrow);
}

// Reads until `buffer` holds a whole request head that HeadScanner accepts, then lets Beast
// parse it from the buffer. A head the scanner refuses leaves `problem` set and reads no more.
Task<beast::error_code> read_request_head(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                          http::request_parser<RequestBody>& parser, size_t max_header_bytes,
                                          std::string& problem) {
  HeadScanner scanner;
  while (true) {
    auto data = buffer.data();
    auto state = scanner.scan({static_cast<const char*>(data.data()), data.size()});
    if (state == HeadScanner::State::refused) {
      problem = scanner.problem();
      co_return beast::error_code{};
    }
    // Past the limit, Beast's parse below answers it (431).
    if (state == HeadScanner::State::complete || buffer.size() > max_header_bytes) break;
    size_t room = std::max<size_t>(buffer.capacity() - buffer.size(), 512);
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(room), use_nothrow);
    if (ec) co_return ec;
    buffer.commit(n);
  }
  buffer.consume(scanner.leading_empty_lines());
  // The head is in the buffer: parsed here, not by async_read_header, which completes through
  // the scheduler's queue when it needs no read (one more turn of the event loop per request).
  // It still reads what the parser wants more of (a head past the limits, for its 431).
  beast::error_code ec;
  buffer.consume(parser.put(buffer.data(), ec));
  if (ec == http::error::need_more) {
    auto [e, n] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
    ec = e;
  }
  co_return ec;
}

// A request head that could not be read: the client is told why, where it can be.
Task<void> answer_unreadable_head(beast::tcp_stream& stream, beast::error_code ec, uint64_t max_body_bytes) {
  if (ec == http::error::header_limit) {
    co_await send_and_close(stream, http::status::request_header_fields_too_large, "Request header fields too large");
  } else if (ec == http::error::body_limit) {
    std::string text = "Request body exceeds the limit of " + std::to_string(max_body_bytes) + " bytes";
    co_await send_and_close(stream, http::status::payload_too_large, text);
  } else if (is_malformed(ec)) {
    std::string text = "Malformed HTTP request: " + ec.message();
    co_await send_and_close(stream, http::status::bad_request, text);
  }
}

Response refusal(http::status status, std::string_view message) {
  auto res = anthropic_error(status, anthropic_error_type(status), message);
  res.keep_alive(false);
  return res;
}

Response body_too_large(uint64_t limit) {
  return refusal(http::status::payload_too_large,
                 "Request body exceeds the limit of " + std::to_string(limit) + " bytes");
}

// The body of the request a session is serving, read when the handler asks (BodySource).
// Every byte it holds is counted against the server's budget for bodies in progress.
class SessionBody final : public BodySource {
 public:
  SessionBody(beast::tcp_stream& stream, beast::flat_buffer& buffer, http::request_parser<RequestBody>& parser,
              const ServerOptions& options, std::shared_ptr<BodyBudget> budget)
      : stream_(stream), buffer_(buffer), parser_(parser), max_body_bytes_(options.max_body_bytes),
        read_timeout_(options.request_read_timeout), budget_(std::move(budget)) {}
  ~SessionBody() override { budget_->give_back(held_); }

  bool done() const override { return finished_ || parser_.is_done(); }
  // Nothing of a next (pipelined) request in it: the session reserves it again when it reads one.
  void release_read_buffer() override {
    if (done() && buffer_.size() == 0) buffer_.shrink_to_fit();
  }
  void release_body(std::string& body) override {
    if (!done()) return;  // what is left of it must still be read (or the connection closed)
    body_memory.give_back(body);
    std::string().swap(body);  // when the thread keeps no more buffers (or not of this size)
    budget_->give_back(held_);
    held_ = 0;
  }

  Task<std::optional<Response>> read(std::string& body, uint64_t limit) override {
    uint64_t cap = limit ? std::min(limit, max_body_bytes_) : max_body_bytes_;
    if (beast::iequals(parser_.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> cont{http::status::continue_, parser_.get().version()};
      co_await http::async_write(stream_, cont, use_nothrow);
    }
    beast::error_code ec;
    if (auto length = parser_.content_length()) {
      if (*length > cap) co_return body_too_large(cap);
      body_memory.lend(body, static_cast<size_t>(*length) + kBodySlack);
      ec = co_await read_sized(body, static_cast<size_t>(*length));
    } else {
      ec = co_await read_chunked(body, cap);
    }
    if (ec == asio::error::would_block) co_return busy();
    if (ec == http::error::body_limit) co_return body_too_large(cap);
    if (ec == beast::error::timeout) co_return refusal(http::status::request_timeout, "Request body not received in time");
    if (ec) co_return refusal(http::status::bad_request, "Malformed or incomplete request body: " + ec.message());
    finished_ = true;
    co_return std::nullopt;
  }

 private:
  bool hold(uint64_t bytes) {
    if (!budget_->take(bytes)) return false;
    held_ += bytes;
    return true;
  }
  void release(uint64_t bytes) {
    budget_->give_back(bytes);
    held_ -= bytes;
  }

  static Response busy() {
    auto res = refusal(http::status::service_unavailable, "Too many request bodies in progress; retry shortly");
    res.set(http::field::retry_after, "1");
    return res;
  }

  // A body of known length, read straight into its string. Through Beast's parser every byte
  // would be copied once more, out of the read buffer: for a 200 KB body that copy was the
  // relay's largest user-space cost. The string grows as bytes arrive (never sized from
  // Content-Length, which would fault in memory for bytes that may never come), and what it
  // holds is counted as it grows. would_block: the budget for bodies in progress is spent.
  Task<beast::error_code> read_sized(std::string& body, size_t length) {
    constexpr size_t kStep = 256 * 1024;
    size_t have = body.size();
    size_t buffered = std::min(buffer_.size(), length - have);
    if (!hold(buffered)) co_return asio::error::would_block;
    body.append(static_cast<const char*>(buffer_.data().data()), buffered);
    buffer_.consume(buffered);
    have += buffered;
    if (have == length) co_return beast::error_code{};
    BodyDeadline deadline(stream_, read_timeout_);
    auto& socket = stream_.socket();
    while (have < length) {
      // Only bytes that have arrived are taken (and counted): a client that announces a body
      // and sends nothing holds nothing.
      beast::error_code ec;
      size_t arrived = socket.available(ec);
      if (!ec && arrived == 0) {
        auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
        ec = wait_ec;
        if (!ec) arrived = socket.available(ec);
      }
      size_t room = std::min({length - have, kStep, std::max<size_t>(arrived, 1)});
      if (!ec && !hold(room)) co_return asio::error::would_block;
      size_t n = 0;
      if (!ec) {
        body.resize(have + room);  // zero-fills only what has arrived
        n = socket.read_some(asio::buffer(body.data() + have, room), ec);
        body.resize(have + n);
        release(room - n);
      }
      have += n;
      if (ec == asio::error::would_block) continue;
      if (ec) {
        ec = deadline.outcome(ec);
        co_return ec == asio::error::eof ? beast::error_code(http::error::partial_message) : ec;
      }
    }
    co_return beast::error_code{};
  }

  // Through Beast's parser, a piece at a time, each piece counted as it arrives.
  Task<beast::error_code> read_chunked(std::string& body, uint64_t cap) {
    parser_.body_limit(cap);
    BodyDeadline deadline(stream_, read_timeout_);
    while (!parser_.is_done()) {
      size_t before = body.size();
      auto [e, n] = co_await http::async_read_some(stream_, buffer_, parser_, use_nothrow);
      if (body.size() > before && !hold(body.size() - before)) co_return asio::error::would_block;
      if (e) co_return deadline.outcome(e);
    }
    co_return beast::error_code{};
  }

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<RequestBody>& parser_;
  // Copies, and the budget shared: this may be destroyed after the Server (frames suspended
  // when the io_contexts are destroyed at exit).
  uint64_t max_body_bytes_;
  std::chrono::seconds read_timeout_;
  std::shared_ptr<BodyBudget> budget_;
  uint64_t held_ = 0;
  bool finished_ = false;
};

}  // namespace

bool BodyBudget::take(uint64_t bytes) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || used > limit_ - bytes) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

void BodyBudget::give_back(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

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
  std::string where = options_.host + ":" + std::to_string(options_.port);
  // Every listener may be joined by a successor, but only one that says so (--takeover).
  size_t sharing = options_.port ? listeners_on(endpoint) : 0;
  if (sharing && !options_.takeover)
    return Error{"cannot listen on " + where +
                 ": Address already in use (by a crs of this user: start the new one with --takeover to replace it)"};
  if (sharing > 1)
    return Error{"cannot take over " + where + ": " + std::to_string(sharing) +
                 " processes listen on it (a takeover is under way); wait until one remains"};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{"cannot listen on " + where + ": " + ec.message()};
  takeover_index_ = static_cast<uint32_t>(sharing);
  return Ok{};
}

uint16_t Server::port() const {
  beast::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

// New connections are claimed only now, when they are served: until then (Redis, the store's
// preparation) the previous process keeps taking them, and keeps them if this one never serves.
void Server::start() {
  started_ = true;
  if (takeover_index_) {
    std::string where = options_.host + ":" + std::to_string(options_.port);
    if (steer_new_connections(acceptor_, takeover_index_))
      spdlog::info("taking over {}: new connections come here; stop the previous process with SIGTERM", where);
    else
      spdlog::warn("taking over {}: the kernel refused to steer new connections here; they are shared until the "
                   "previous process stops", where);
  }
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

Task<void> Server::accept_loop() {
  size_t next = 0;
  asio::steady_timer pause(acceptor_.get_executor());
  while (!shutting_down_) {
    size_t worker = next++ % workers_.size();
    auto [ec, socket] = co_await acceptor_.async_accept(workers_[worker]->executor, use_nothrow);
    if (!ec) {
      // Accepted, even if the socket closed meanwhile (shutdown): the client gets its answer.
      serve_connection(worker, std::move(socket));
      continue;
    }
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
    {
      // Out of file descriptors and the like: wait a little instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
    }
  }
}

// What the kernel queued on the socket before it closes: a successor's socket cannot take
// these (unless net.ipv4.tcp_migrate_req is set), so they are served here.
void Server::accept_queued() {
  beast::error_code ec;
  acceptor_.non_blocking(true, ec);
  for (size_t next = 0; !ec; ++next) {
    size_t worker = next % workers_.size();
    tcp::socket socket(workers_[worker]->executor);
    acceptor_.accept(socket, ec);
    if (ec) break;
    serve_connection(worker, std::move(socket));
  }
}

void Server::serve_connection(size_t worker, tcp::socket socket) {
  ++awaiting_first_request_;
  asio::co_spawn(workers_[worker]->executor, session(worker, std::move(socket)), asio::detached);
}

// Routes one request whose head was read; true when the connection may serve another.
Task<bool> Server::serve_request(size_t worker_index, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                 http::request_parser<RequestBody>& parser, ConnectionMemo& memo) {
  Worker& worker = *workers_[worker_index];
  // Counted by hand, not by a guard object: frames still suspended when the io_contexts are
  // destroyed at exit must not touch the Server from their destructors.
  ++active_requests_;
  bool keep_alive = false;
  auto began = std::chrono::steady_clock::now();
  {
    SessionBody body(stream, buffer, parser, options_, body_budget_);
    Exchange exchange(stream, parser.get(), body, worker_index, worker.draining, options_.write_timeout, memo);
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
    keep_alive = !failed && exchange.keep_alive();
    metrics::http_request(exchange.family(), exchange.status(),
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  }
  --active_requests_;
  co_return keep_alive;
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
  ++accepted_connections_;

  // An idle connection waits for its next request up to keepAliveTimeout; the first request
  // of a connection must arrive within requestReadTimeout (a slowloris is dropped then).
  auto header_timeout = std::min<std::chrono::seconds>(options_.keep_alive_timeout, options_.request_read_timeout);
  if (worker.draining) header_timeout = std::min(header_timeout, kFirstRequestWhenStopping);
  while (!worker.draining || !connection.served) {
    http::request_parser<RequestBody> parser;
    parser.header_limit(options_.max_header_bytes);
    parser.body_limit(options_.max_body_bytes);
    connection.idle = true;
    stream.expires_after(header_timeout);
    std::string refused;
    auto ec = co_await read_request_head(stream, buffer, parser, options_.max_header_bytes, refused);
    connection.idle = false;
    if (!std::exchange(connection.served, true)) --awaiting_first_request_;
    header_timeout = options_.keep_alive_timeout;
    if (ec) {
      co_await answer_unreadable_head(stream, ec, options_.max_body_bytes);
      break;
    }
    stream.expires_never();
    // A head another parser could frame or route differently: nothing after it is read.
    if (refused.empty())
      if (auto problem = framing_problem(parser.get())) refused = std::move(*problem);
    if (!refused.empty()) {
      co_await send_and_close(stream, http::status::bad_request, "Malformed HTTP request: " + refused);
      break;
    }

    bool keep_alive = co_await serve_request(worker_index, stream, buffer, parser, memo);
    if (!keep_alive) break;
    if (buffer.capacity() != kHeadBuffer && buffer.size() == 0) {
      buffer.shrink_to_fit();  // an idle connection keeps only the small buffer
      buffer.reserve(kHeadBuffer);
    }
  }

  worker.connections.erase(&connection);
  --open_connections_;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

void Server::begin_shutdown() {
  if (shutting_down_.exchange(true)) return;
  // Inline when called on the acceptor's thread (the signal handler is): the queue is taken
  // before anyone can judge the server drained.
  asio::dispatch(acceptor_.get_executor(), [this] {
    if (started_) accept_queued();
    beast::error_code ec;
    acceptor_.close(ec);
  });
  for (auto& w : workers_) {
    Worker* worker = w.get();
    asio::post(worker->executor, [worker] {
      worker->draining = true;
      for (Connection* c : worker->connections)
        // Wakes the idle read; busy ones finish their request; new ones get a short while for
        // their first (a client that connected and says nothing must not hold the stop).
        if (c->idle && c->served) c->stream->cancel();
        else if (c->idle) c->stream->expires_after(kFirstRequestWhenStopping);
    });
  }
}

}  // namespace crs::http_server
