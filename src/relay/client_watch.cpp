#include "relay/client_watch.hpp"

#include <sys/socket.h>

namespace crs::relay {
namespace {

void mark_gone(ClientWatch& watch) {
  watch.gone = true;
  if (watch.upstream) watch.upstream->abort();
  if (watch.waiting) watch.waiting->cancel();
}

// After the client's read side ended: gone once the socket reports an error (a reset).
void watch_for_reset(tcp::socket& socket, std::shared_ptr<ClientWatch> watch) {
  socket.async_wait(tcp::socket::wait_error, [watch](beast::error_code ec) {
    if (!ec) mark_gone(*watch);
  });
}

void watch_client(tcp::socket& socket, std::shared_ptr<ClientWatch> watch) {
  socket.async_wait(tcp::socket::wait_read, [&socket, watch](beast::error_code ec) {
    if (ec) return;  // cancelled: the response is complete
    char byte;
    ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return;  // the client sent more (a pipelined request): it is still there
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch_client(socket, watch);
      return;
    }
    // A reset, or the end of the client's data once the answer has begun (a client that
    // half-closes does so right after its request, and is seen before the answer): gone.
    if (n < 0 || watch->answering) {
      mark_gone(*watch);
      return;
    }
    // The end of the client's data before the answer: a half-close or a hang-up. A write tells
    // them apart: a closed socket answers the interim response with a reset.
    static constexpr std::string_view kProbe = "HTTP/1.1 103 Early Hints\r\n\r\n";
    if (::send(socket.native_handle(), kProbe.data(), kProbe.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
        errno != EAGAIN && errno != EWOULDBLOCK) {
      mark_gone(*watch);
      return;
    }
    watch_for_reset(socket, watch);
  });
}

}  // namespace

WatchGuard::WatchGuard(tcp::socket& socket, std::shared_ptr<ClientWatch> watch, std::shared_ptr<WatchSweeper> sweeper)
    : socket_(socket), watch_(std::move(watch)), sweeper_(std::move(sweeper)), since_(std::chrono::steady_clock::now()) {
  sweeper_->link(*this);
}

void WatchGuard::arm() {
  armed_ = true;
  watch_client(socket_, watch_);
}

void WatchGuard::stop() {
  if (stopped_) return;
  stopped_ = true;
  watch_->upstream = nullptr;
  if (linked_) sweeper_->unlink(*this);
  if (armed_) {
    beast::error_code ignored;
    socket_.cancel(ignored);
  }
}

void WatchSweeper::link(WatchGuard& g) {
  g.prev_ = tail_;
  g.next_ = nullptr;
  if (tail_) tail_->next_ = &g;
  else head_ = &g;
  tail_ = &g;
  g.linked_ = true;
  if (running_) return;
  running_ = true;
  asio::co_spawn(timer_.get_executor(), run(), asio::detached);
}

void WatchSweeper::unlink(WatchGuard& g) {
  if (g.prev_) g.prev_->next_ = g.next_;
  else head_ = g.next_;
  if (g.next_) g.next_->prev_ = g.prev_;
  else tail_ = g.prev_;
  g.prev_ = g.next_ = nullptr;
  g.linked_ = false;
}

Task<void> WatchSweeper::run() {
  auto self = shared_from_this();
  while (head_) {
    timer_.expires_after(kTick);
    auto [ec] = co_await timer_.async_wait(use_nothrow);
    if (ec) break;
    auto due = std::chrono::steady_clock::now() - kArmAfter;
    while (head_ && head_->since_ <= due) {
      WatchGuard& g = *head_;
      unlink(g);
      g.arm();
    }
  }
  running_ = false;
}

}  // namespace crs::relay
