#pragma once
// The HTTP/1.1 listener. One acceptor hands each connection to an I/O thread (round robin);
// the connection lives on that thread. Bad requests get 400/413/431 JSON answers, never a crash.
// Shutdown: stop accepting, close idle keep-alive connections, let requests in flight finish.
// A body is read only when the route's handler asks for it (after authenticating from the
// headers), grows as its bytes arrive, and counts against server.maxBodyBytesInFlight.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"
#include "http/router.hpp"

namespace crs::http_server {

// Frees the buffers this thread keeps for the next requests' bodies (up to 8 of up to 4 MB,
// kept after a burst of large bodies): for a thread with nothing in flight.
void release_thread_body_memory();

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 3000;
  uint32_t max_header_bytes = 65536;
  uint64_t max_body_bytes = 32 * 1024 * 1024;
  std::chrono::seconds keep_alive_timeout{65};
  std::chrono::seconds request_read_timeout{60};
  std::chrono::seconds write_timeout{120};  // per write to a client that does not read
  uint64_t max_body_bytes_in_flight = 1ull << 30;  // all bodies being read or held, together
  // Listen beside a crs already on the port and take its new connections (listener_group.hpp);
  // without it, a port another crs of this user listens on is refused.
  bool takeover = false;
};

// The bytes that request bodies in progress hold, across every I/O thread, and their limit.
class BodyBudget {
 public:
  explicit BodyBudget(uint64_t limit) : limit_(limit) {}
  bool take(uint64_t bytes);  // false: over the limit, nothing taken
  void give_back(uint64_t bytes);

 private:
  uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

class Server {
 public:
  // `workers`: one executor per I/O thread; the acceptor runs on the first.
  Server(std::vector<asio::any_io_executor> workers, const Router& router, ServerOptions options);
  ~Server();

  Status listen();            // binds and listens; fails if the address is taken
  void start();               // begins accepting
  // Thread-safe; idempotent. Connections already queued on the socket are accepted and get
  // their first request served before it closes.
  void begin_shutdown();
  uint16_t port() const;      // the bound port (useful when options.port is 0)

  size_t active_requests() const { return active_requests_.load(); }
  size_t open_connections() const { return open_connections_.load(); }
  // Connections accepted since the start (the fake upstream reports them: pool reuse).
  uint64_t accepted_connections() const { return accepted_connections_.load(); }
  // Accepted connections whose first request has not arrived yet.
  size_t awaiting_first_request() const { return awaiting_first_request_.load(); }

 private:
  struct Worker;
  struct Connection;
  Task<void> accept_loop();
  Task<void> session(size_t worker, tcp::socket socket);
  Task<bool> serve_request(size_t worker, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                           http::request_parser<RequestBody>& parser, ConnectionMemo& memo);
  void accept_queued();
  void serve_connection(size_t worker, tcp::socket socket);  // on that worker's thread

  std::vector<std::unique_ptr<Worker>> workers_;
  const Router& router_;
  ServerOptions options_;
  tcp::acceptor acceptor_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<size_t> active_requests_{0};
  std::atomic<size_t> open_connections_{0};
  std::atomic<uint64_t> accepted_connections_{0};
  std::atomic<size_t> awaiting_first_request_{0};
  uint32_t takeover_index_ = 0;  // this socket's place in the port's group (--takeover), else 0
  bool started_ = false;         // accepting (touched on the acceptor's thread)
  // Shared with the sessions' bodies: frames still suspended when the io_contexts are destroyed
  // at exit give their bytes back after the Server is gone.
  std::shared_ptr<BodyBudget> body_budget_ = std::make_shared<BodyBudget>(options_.max_body_bytes_in_flight);
};

}  // namespace crs::http_server
