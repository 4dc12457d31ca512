#pragma once
// SIGTERM/SIGINT: stop accepting, let requests in flight finish within `server.gracePeriod`,
// then cut the relayed requests still in flight (their clients get an error event or a 503,
// their usage is written and their slots freed) and stop once they are settled. A second
// signal stops at once.
#include <chrono>
#include <functional>

#include "core/net.hpp"
#include "http/server.hpp"
#include "relay/relay.hpp"

namespace crs::app {

class GracefulShutdown {
 public:
  struct Parts {
    http_server::Server& server;
    relay::RelayDeps& relay;
    std::vector<asio::any_io_executor> workers;
    std::function<int()> usage_in_flight;  // usage records (and grants given back) not yet written
    std::function<void()> usage_now;       // writes usage at once from now on (no batching delay)
    std::function<void()> finish;          // stops everything
  };
  GracefulShutdown(asio::io_context& main, std::chrono::seconds grace, Parts parts);

  // Waits for the signals.
  void arm();

 private:
  // How long the cut requests get to settle; other requests (a body still arriving) are not
  // waited for.
  static constexpr auto kAfterTheCut = std::chrono::seconds(5);

  void on_signal(int sig);
  void wait_drained(std::chrono::steady_clock::time_point deadline);
  bool drained() const;

  asio::signal_set signals_;
  asio::steady_timer timer_;
  std::chrono::seconds grace_;
  Parts parts_;
  bool cut_ = false;
};

}  // namespace crs::app
