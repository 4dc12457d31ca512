#include "upstream/connection_pool.hpp"

namespace crs::upstream {

std::string pool_key(const BaseUrl& t, const Proxy& p) {
  std::string key = (t.tls ? "https://" : "http://") + t.host + ":" + std::to_string(t.port);
  if (p.kind != Proxy::Kind::None) {
    key += p.kind == Proxy::Kind::Http ? " via http://" : " via socks5://";
    key += p.username + ":" + p.password + "@" + p.host + ":" + std::to_string(p.port);
  }
  return key;
}

ConnectionPool::ConnectionPool(asio::any_io_executor executor, asio::ssl::context& tls, size_t max_idle_per_target,
                               std::chrono::seconds idle_ttl)
    : executor_(executor), tls_(tls), max_idle_(max_idle_per_target), idle_ttl_(idle_ttl) {}

Task<Result<std::unique_ptr<Connection>>> ConnectionPool::acquire(const BaseUrl& target, const Proxy& proxy,
                                                                  std::chrono::milliseconds connect_timeout) {
  std::string key = pool_key(target, proxy);
  auto it = idle_.find(key);
  if (it != idle_.end()) {
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
  (*fresh)->set_pool_key(std::move(key));
  co_return std::move(*fresh);
}

void ConnectionPool::release(std::unique_ptr<Connection> connection) {
  if (!connection || !connection->tcp().socket().is_open()) return;
  connection->expires_never();
  auto& list = idle_[connection->pool_key()];
  if (list.size() >= max_idle_) list.pop_front();
  list.push_back(Idle{std::move(connection), std::chrono::steady_clock::now()});
}


}  // namespace crs::upstream
