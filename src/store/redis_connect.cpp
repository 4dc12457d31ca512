#include "store/redis_connect.hpp"

#include <hiredis/hiredis.h>

#include "store/redis_codec.hpp"

namespace crs::store {
namespace {

using namespace asio::experimental::awaitable_operators;

std::vector<RedisCommand> handshake_commands(const RedisOptions& o) {
  std::vector<RedisCommand> cmds;
  if (!o.password.empty()) {
    if (o.username.empty()) cmds.push_back({"AUTH", o.password});
    else cmds.push_back({"AUTH", o.username, o.password});
  }
  if (o.db != 0) cmds.push_back({"SELECT", std::to_string(o.db)});
  return cmds;
}

// Sends the handshake and reads one reply per command.
Task<Status> handshake(tcp::socket& socket, const std::vector<RedisCommand>& cmds) {
  std::string out;
  for (const auto& c : cmds) append_command(out, c);
  auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(out), use_nothrow);
  if (wec) co_return Error{wec.message()};
  ReplyReader reader;
  std::vector<RedisReply> replies;
  std::array<char, 4096> buf;
  while (replies.size() < cmds.size()) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_nothrow);
    if (ec) co_return Error{ec.message()};
    if (!reader.feed(buf.data(), n)) co_return Error{"protocol error"};
    while (auto reply = reader.next()) replies.push_back(std::move(*reply));
    if (reader.failed()) co_return Error{"protocol error"};
  }
  for (const auto& r : replies)
    if (r.is_error()) co_return Error{"redis handshake failed: " + r.str};
  co_return Ok{};
}

}  // namespace

Task<Result<tcp::socket>> open_redis_connection(asio::any_io_executor executor, const RedisOptions& options) {
  tcp::resolver resolver(executor);
  asio::steady_timer deadline(executor);
  deadline.expires_after(options.connect_timeout);
  auto resolved = co_await (resolver.async_resolve(options.host, std::to_string(options.port), use_nothrow) ||
                            deadline.async_wait(use_nothrow));
  if (resolved.index() == 1) co_return Error{"timed out resolving " + options.host};
  auto [rec, endpoints] = std::get<0>(resolved);
  if (rec) co_return Error{"cannot resolve " + options.host + ": " + rec.message()};

  tcp::socket socket(executor);
  auto connected = co_await (asio::async_connect(socket, endpoints, use_nothrow) || deadline.async_wait(use_nothrow));
  if (connected.index() == 1) co_return Error{"connect timed out"};
  if (auto [cec, ep] = std::get<0>(connected); cec) co_return Error{cec.message()};
  socket.set_option(tcp::no_delay(true));

  auto cmds = handshake_commands(options);
  if (!cmds.empty()) {
    auto done = co_await (handshake(socket, cmds) || deadline.async_wait(use_nothrow));
    if (done.index() == 1) co_return Error{"redis handshake timed out"};
    if (auto& s = std::get<0>(done); !s) co_return s.error();
  }
  co_return std::move(socket);
}

}  // namespace crs::store
