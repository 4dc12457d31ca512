#include "upstream/connection_pool.hpp"

namespace crs::upstream {

ConnectionPool::ConnectionPool(asio::any_io_executor executor, asio::ssl::context& tls, size_t max_idle_per_target,
                               std::chrono::seconds idle_ttl)
    : executor_(executor),
      tls_(tls),
      max_idle_(max_idle_per_target),
      idle_ttl_(idle_ttl),
      shelf_(std::make_shared<Shelf>(executor)) {}

ConnectionPool::~ConnectionPool() {
  shelf_->idle.clear();
  shelf_->timer.cancel();
}

Task<Result<std::unique_ptr<Connection>>> ConnectionPool::acquire(const BaseUrl& target, const Proxy& proxy,
                                                                  const std::string& key,
                                                                  std::chrono::milliseconds connect_timeout) {
  auto it = shelf_->idle.find(key);
  if (it != shelf_->idle.end()) {
    auto now = std::chrono::steady_clock::now();
    while (!it->second.empty()) {
      Idle entry = std::move(it->second.back());  // most recently used first: warmest socket
      it->second.pop_back();
      // A connection idle for a moment is checked (one non-blocking peek); one just released is
      // trusted, and a stale one is retried by the caller anyway.
      bool fresh_enough = now - entry.since < std::chrono::seconds(1);
      if (now - entry.since < idle_ttl_ && (fresh_enough || entry.connection->still_open())) {
        entry.connection->reused = true;
        co_return std::move(entry.connection);
      }
    }
  }
  auto fresh = co_await Connection::open(executor_, tls_, target, proxy, connect_timeout);
  if (!fresh) co_return fresh.error();
  (*fresh)->set_pool_key(key);
  co_return std::move(*fresh);
}

void ConnectionPool::release(std::unique_ptr<Connection> connection) {
  if (!connection || !connection->tcp().socket().is_open()) return;
  connection->expires_never();
  connection->release_buffer();
  auto& list = shelf_->idle[connection->pool_key()];
  if (list.size() >= max_idle_) list.pop_front();
  list.push_back(Idle{std::move(connection), std::chrono::steady_clock::now()});
  if (shelf_->sweeping) return;
  shelf_->sweeping = true;
  asio::co_spawn(executor_, sweep(shelf_, idle_ttl_), asio::detached);
}

size_t ConnectionPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : shelf_->idle) n += list.size();
  return n;
}

// Every half TTL, closes what has been idle longer than the TTL; stops once nothing is kept.
Task<void> ConnectionPool::sweep(std::shared_ptr<Shelf> shelf, std::chrono::seconds idle_ttl) {
  while (!shelf->idle.empty()) {
    shelf->timer.expires_after(std::chrono::milliseconds(idle_ttl) / 2);
    auto [ec] = co_await shelf->timer.async_wait(use_nothrow);
    if (ec) break;
    auto cutoff = std::chrono::steady_clock::now() - idle_ttl;
    for (auto it = shelf->idle.begin(); it != shelf->idle.end();) {
      auto& list = it->second;
      while (!list.empty() && list.front().since <= cutoff) list.pop_front();
      it = list.empty() ? shelf->idle.erase(it) : std::next(it);
    }
  }
  shelf->sweeping = false;
}

}  // namespace crs::upstream
