// The upstream connection pool (upstream/connection_pool.hpp) against a real listening socket:
// connections given back are kept and handed out again; after a load ends, the sweep closes
// every connection idle longer than the pool's TTL, so the upstream sees its sockets close.
#include <gtest/gtest.h>

#include <vector>

#include "support/run_task.hpp"
#include "upstream/connection_pool.hpp"

namespace crs::upstream {
namespace {

using namespace std::chrono_literals;

struct Listener {
  explicit Listener(asio::io_context& io) : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      accepted.push_back(std::move(socket));
      accept();
    });
  }
  // Sockets whose peer (the pool's connection) has closed: a read finds the end at once.
  size_t closed_by_peer() {
    size_t n = 0;
    for (auto& s : accepted) {
      char byte;
      beast::error_code ec;
      s.non_blocking(true, ec);
      s.read_some(asio::buffer(&byte, 1), ec);
      n += ec == asio::error::eof;
    }
    return n;
  }
  tcp::acceptor acceptor;
  std::vector<tcp::socket> accepted;
};

bool run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_one_for(20ms);
  return done();
}

TEST(ConnectionPoolTest, ConnectionsIdleLongerThanTheTtlAreClosed) {
  asio::io_context io;
  Listener upstream(io);
  asio::ssl::context tls(asio::ssl::context::tls_client);
  ConnectionPool pool(io.get_executor(), tls, 8, 1s);
  BaseUrl target{false, "127.0.0.1", upstream.acceptor.local_endpoint().port(), "", ""};
  Proxy direct;  // named: the coroutines keep a reference to it

  auto open_three = [&]() -> Task<std::vector<std::unique_ptr<Connection>>> {
    std::vector<std::unique_ptr<Connection>> held;
    for (int i = 0; i < 3; ++i) {
      auto c = co_await pool.acquire(target, direct, pool_key(target, direct), 2s);
      if (c) held.push_back(std::move(*c));
    }
    co_return held;
  };
  auto held = test::run_task(io, open_three());
  ASSERT_EQ(held.size(), 3u);
  ASSERT_TRUE(run_until(io, [&] { return upstream.accepted.size() == 3; }, 5s));
  for (auto& c : held) pool.release(std::move(c));
  EXPECT_EQ(pool.idle_count(), 3u);

  // Handed out again: no new connection reaches the upstream.
  auto again = test::run_task(io, pool.acquire(target, direct, pool_key(target, direct), 2s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(pool.idle_count(), 2u);
  pool.release(std::move(*again));
  EXPECT_EQ(upstream.accepted.size(), 3u);

  // The load is over: the sweep closes all three, and the upstream sees each one end.
  EXPECT_TRUE(run_until(io, [&] { return pool.idle_count() == 0; }, 10s)) << pool.idle_count() << " still kept";
  EXPECT_TRUE(run_until(io, [&] { return upstream.closed_by_peer() == 3; }, 5s));
}

}  // namespace
}  // namespace crs::upstream
