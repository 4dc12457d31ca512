#include "app/shutdown.hpp"

#include <spdlog/spdlog.h>

namespace crs::app {

GracefulShutdown::GracefulShutdown(asio::io_context& main, std::chrono::seconds grace, Parts parts)
    : signals_(main, SIGINT, SIGTERM), timer_(main), grace_(grace), parts_(std::move(parts)) {}

void GracefulShutdown::arm() {
  signals_.async_wait([this](beast::error_code ec, int sig) {
    if (!ec) on_signal(sig);
  });
}

void GracefulShutdown::on_signal(int sig) {
  auto& server = parts_.server;
  if (server.active_requests() == 0 && server.open_connections() == 0) {
    spdlog::info("received signal {}; stopping", sig);
  } else {
    spdlog::info("received signal {}; no new connections, waiting up to {} s for {} request(s) in flight", sig,
                 grace_.count(), server.active_requests());
  }
  server.begin_shutdown();
  parts_.usage_now();
  wait_drained(std::chrono::steady_clock::now() + grace_);
  signals_.async_wait([this](beast::error_code ec, int) {
    if (ec) return;
    spdlog::warn("second signal: stopping now");
    parts_.finish();
  });
}

bool GracefulShutdown::drained() const {
  if (parts_.usage_in_flight() != 0) return false;
  if (parts_.server.active_requests() == 0 && parts_.server.awaiting_first_request() == 0) {
    spdlog::info("all requests finished; stopping");
    return true;
  }
  if (cut_ && parts_.relay.in_flight_count == 0) {
    spdlog::info("the relayed requests that were cut are settled; stopping");
    return true;
  }
  return false;
}

void GracefulShutdown::wait_drained(std::chrono::steady_clock::time_point deadline) {
  if (drained()) {
    parts_.finish();
    return;
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    if (cut_) {
      spdlog::warn("{} request(s) still in flight after the cut; stopping", parts_.server.active_requests());
      parts_.finish();
      return;
    }
    cut_ = true;
    spdlog::warn("grace period over with {} request(s) still in flight; cutting them",
                 parts_.server.active_requests());
    relay::cut_requests_in_flight(parts_.relay, parts_.workers);
    deadline = std::chrono::steady_clock::now() + kAfterTheCut;
  }
  timer_.expires_after(std::chrono::milliseconds(20));
  timer_.async_wait([this, deadline](beast::error_code ec) {
    if (!ec) wait_drained(deadline);
  });
}

}  // namespace crs::app
