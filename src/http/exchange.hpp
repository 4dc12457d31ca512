#pragma once
// One request and the means to answer it: a whole response, or a stream of chunks.
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/net.hpp"
#include "metrics/metrics.hpp"
#include "http/request_body.hpp"

namespace crs::http_server {

using Request = http::request<RequestBody>;
using Response = http::response<http::string_body>;

// One derived value a handler may keep for the rest of a connection: a keep-alive client
// repeats the same key on every request, and its digest need not be recomputed.
struct ConnectionMemo {
  std::string input;
  std::string output;
  ~ConnectionMemo();  // wipes both: the input may be a secret
};

// Where a request's body comes from: the connection, read only when the handler asks for it
// (Server::session implements it; bodies grow as their bytes arrive).
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Reads the whole body into `body`, at most `limit` bytes (0: server.maxBodyBytes). An error
  // is the answer to send (400, 408, 413, 503), and the connection closes after it.
  virtual Task<std::optional<http::response<http::string_body>>> read(std::string& body, uint64_t limit) = 0;
  virtual bool done() const = 0;  // nothing (more) to read
  // A stream's answer begins and may last minutes: the buffers kept for reading requests go.
  virtual void release_read_buffer() {}
  // The body read whole is no longer needed: its memory, and its part of the budget for bodies
  // held, go back.
  virtual void release_body(std::string& body) { std::string().swap(body); }
};

// Rewrites every response an exchange sends, for a route that speaks another API than the
// handlers it reuses (relay/openai_routes.cpp turns Anthropic answers into OpenAI ones). A
// stream's chunks may be held back (an empty result) and released by a later chunk or the tail.
class ResponseFilter {
 public:
  virtual ~ResponseFilter() = default;
  virtual void whole(http::response<http::string_body>& response) = 0;
  virtual void head(http::response<http::empty_body>& header) = 0;
  virtual std::string_view chunk(std::string_view data) = 0;  // valid until the next call
  virtual std::string_view tail() = 0;                        // written before the stream's end
};

class Exchange {
 public:
  // `request` has its head; its body is read by read_body(). It outlives the exchange.
  // `draining`: the server is shutting down (answers then close their connection).
  Exchange(beast::tcp_stream& stream, Request& request, BodySource& body, size_t worker, const bool& draining,
           std::chrono::seconds write_timeout, ConnectionMemo& memo);

  // Reads the body (once; later calls return at once). Handlers that decide from the headers
  // first (authentication) call it after deciding; the router calls it for the others.
  Task<std::optional<Response>> read_body(uint64_t limit = 0);
  bool body_read() const { return body_.done(); }

  Request& request() { return request_; }
  const Request& request() const { return request_; }
  // Frees the request's body once nothing will read it again (a relayed answer that streams:
  // no other attempt will send it, and an open stream should not hold a 200 KB body).
  void release_body() { body_.release_body(request_.body()); }
  std::string_view path() const { return path_; }     // target without the query string
  std::string_view query() const { return query_; }   // after '?', or empty
  const std::map<std::string, std::string>& params() const { return params_; }
  void set_params(std::map<std::string, std::string> params) { params_ = std::move(params); }
  size_t worker() const { return worker_; }           // index of the I/O thread serving it
  const std::string& request_id() const { return request_id_; }
  tcp::endpoint remote() const;

  // Sends a complete response (adds X-Request-ID, content-length, keep-alive).
  Task<void> send(Response response);
  // Streams: send the header (chunked transfer encoding), then chunks as they arrive.
  Task<beast::error_code> start_stream(http::response<http::empty_body> header);
  Task<beast::error_code> write_chunk(std::string_view data);
  Task<beast::error_code> end_stream();
  // A body of known length sent in pieces (a file): the header carries Content-Length, then
  // write_chunk sends the bytes as they are, and end_stream ends it. A body that cannot be
  // finished must be abandon()ed: the connection then closes instead of carrying another request.
  Task<beast::error_code> start_sized(http::response<http::empty_body> header, uint64_t length);
  void abandon() { keep_alive_ = false; }

  ConnectionMemo& memo() { return memo_; }

  // From now on every response goes through `filter` (owned by the exchange, so an answer the
  // server sends after the handler, a 500, is filtered too). Returns it.
  template <class F>
  F* set_filter(std::unique_ptr<F> filter) {
    F* f = filter.get();
    filter_ = std::move(filter);
    return f;
  }

  bool response_started() const { return started_; }
  unsigned status() const { return status_; }  // of the response sent or started (0: none yet)
  metrics::Family family() const { return family_; }
  void set_family(metrics::Family f) { family_ = f; }
  // A body left unread stays in the connection: it cannot carry another request.
  bool keep_alive() const { return reusable() && complete_; }
  beast::tcp_stream& stream() { return stream_; }

 private:
  // One piece of a stream's or sized body's bytes, as it is.
  Task<beast::error_code> write_body(std::string_view data);
  // Up to three pieces sent as one write; sets keep_alive_ false when it fails.
  Task<beast::error_code> write_parts(std::array<asio::const_buffer, 3> parts);

  bool reusable() const { return keep_alive_ && !draining_ && body_.done(); }

  beast::tcp_stream& stream_;
  Request& request_;
  BodySource& body_;
  const bool& draining_;
  std::string path_;
  std::string query_;
  std::map<std::string, std::string> params_;
  size_t worker_;
  std::chrono::seconds write_timeout_;  // a client that stops reading is dropped after this
  ConnectionMemo& memo_;
  std::unique_ptr<ResponseFilter> filter_;
  std::string request_id_;
  bool keep_alive_;
  bool started_ = false;
  bool complete_ = false;
  bool chunked_ = true;  // streams to HTTP/1.0 clients are sent raw, ended by closing
  bool head_only_ = false;  // a sized body answering HEAD: nothing after the header
  unsigned status_ = 0;
  metrics::Family family_ = metrics::Family::Unmatched;
};

// Request ids in the Node.js service's format: 11 random base-36 characters.
std::string make_request_id();

}  // namespace crs::http_server
