#pragma once
// Notices a client that hangs up while the upstream works, and closes the upstream connection
// at once (which ends whatever read is pending on it).
//
// Watching a socket costs an epoll_ctl per request (Asio re-arms a non-speculative wait), so
// a request is watched only once it has waited `kArmAfter`: most answers are in before that.
// One sweeper per I/O thread keeps the requests not yet watched in an intrusive list (oldest
// first, no allocation) and arms the ones that have waited long enough, every `kTick`. A
// hang-up is noticed within kArmAfter + kTick.
//
// The end of the client's data is not a hang-up by itself: a client may half-close (SHUT_WR)
// right after its request and still read the answer. Only a write tells the two apart, so
// before the answer the watch writes an interim `103 Early Hints` (which HTTP/1.1 clients
// skip): a closed socket answers it with a reset, and that marks the client gone; a
// half-closed one reads on. Once the answer has begun, the end of the client's data is a
// hang-up (a half-closed client was seen before).
#include <chrono>
#include <memory>

#include "core/net.hpp"
#include "upstream/connection.hpp"

namespace crs::relay {

struct ClientWatch {
  upstream::Connection* upstream = nullptr;
  asio::steady_timer* waiting = nullptr;  // waiting for an account slot: cancelled when the client goes
  bool answering = false;  // the answer's head has been sent to the client
  bool gone = false;
  bool shutdown = false;   // cut at the end of the shutdown grace period
};

class WatchSweeper;

// Watches `socket` for the life of the guard, or until stop().
class WatchGuard {
 public:
  WatchGuard(tcp::socket& socket, std::shared_ptr<ClientWatch> watch, std::shared_ptr<WatchSweeper> sweeper);
  WatchGuard(const WatchGuard&) = delete;
  WatchGuard& operator=(const WatchGuard&) = delete;
  ~WatchGuard() { stop(); }

  // The upstream's answer is in: a keep-alive client's next request must not wake the watch.
  void stop();

 private:
  friend class WatchSweeper;
  void arm();

  tcp::socket& socket_;
  std::shared_ptr<ClientWatch> watch_;
  std::shared_ptr<WatchSweeper> sweeper_;
  std::chrono::steady_clock::time_point since_;
  WatchGuard* prev_ = nullptr;  // in the sweeper's list while not yet armed
  WatchGuard* next_ = nullptr;
  bool linked_ = false;
  bool armed_ = false;
  bool stopped_ = false;
};

class WatchSweeper : public std::enable_shared_from_this<WatchSweeper> {
 public:
  static constexpr auto kArmAfter = std::chrono::milliseconds(20);
  static constexpr auto kTick = std::chrono::milliseconds(10);

  explicit WatchSweeper(asio::any_io_executor executor) : timer_(executor) {}

 private:
  friend class WatchGuard;
  void link(WatchGuard& g);
  void unlink(WatchGuard& g);
  Task<void> run();

  asio::steady_timer timer_;
  WatchGuard* head_ = nullptr;  // oldest
  WatchGuard* tail_ = nullptr;
  bool running_ = false;
};

}  // namespace crs::relay
