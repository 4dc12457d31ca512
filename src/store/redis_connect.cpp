#include "store/redis_connect.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ssl/host_name_verification.hpp>
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
  // A primary named by the sentinels may have been demoted since: it must say it is one.
  if (!o.sentinels.empty()) cmds.push_back({"ROLE"});
  return cmds;
}

// The certificate must name `host` (a DNS name, or an IP address in its SANs); SNI for names.
bool verify_as(RedisStream::Tls& tls, const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec && !SSL_set_tlsext_host_name(tls.native_handle(), host.c_str())) return false;
  tls.set_verify_callback(asio::ssl::host_name_verification(host));
  return true;
}

std::vector<RedisCommand> sentinel_commands(const RedisOptions& o) {
  std::vector<RedisCommand> cmds;
  if (!o.sentinel_password.empty()) cmds.push_back({"AUTH", o.sentinel_password});
  cmds.push_back({"SENTINEL", "get-master-addr-by-name", o.sentinel_name});
  return cmds;
}

// Sends the commands and reads one reply per command.
Task<Result<std::vector<RedisReply>>> exchange(RedisStream& socket, const std::vector<RedisCommand>& cmds) {
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
  co_return replies;
}

// Resolves and connects within `timeout`, then the TLS handshake (same timeout) with redis.tls.
Task<Result<RedisStream>> connect(asio::any_io_executor executor, const std::string& host, int port,
                                  const RedisOptions& o, std::chrono::milliseconds timeout) {
  tcp::resolver resolver(executor);
  asio::steady_timer deadline(executor);
  deadline.expires_after(timeout);
  auto resolved = co_await (resolver.async_resolve(host, std::to_string(port), use_nothrow) ||
                            deadline.async_wait(use_nothrow));
  if (resolved.index() == 1) co_return Error{"timed out resolving " + host};
  auto [rec, endpoints] = std::get<0>(resolved);
  if (rec) co_return Error{"cannot resolve " + host + ": " + rec.message()};
  tcp::socket socket(executor);
  auto connected = co_await (asio::async_connect(socket, endpoints, use_nothrow) || deadline.async_wait(use_nothrow));
  if (connected.index() == 1) co_return Error{"connect to " + host + ":" + std::to_string(port) + " timed out"};
  if (auto [cec, ep] = std::get<0>(connected); cec)
    co_return Error{"connect to " + host + ":" + std::to_string(port) + ": " + cec.message()};
  socket.set_option(tcp::no_delay(true));
  if (!o.tls) co_return RedisStream(std::move(socket));
  auto context = redis_tls_context(o);
  if (!context) co_return context.error();
  auto tls = std::make_unique<RedisStream::Tls>(std::move(socket), **context);
  if (!verify_as(*tls, host)) co_return Error{"TLS: cannot set the server name " + host};
  deadline.expires_after(timeout);
  auto shaken = co_await (tls->async_handshake(asio::ssl::stream_base::client, use_nothrow) ||
                          deadline.async_wait(use_nothrow));
  if (shaken.index() == 1) co_return Error{"TLS handshake with " + host + ":" + std::to_string(port) + " timed out"};
  if (auto [hec] = std::get<0>(shaken); hec)
    co_return Error{"TLS handshake with " + host + ":" + std::to_string(port) + ": " + hec.message()};
  co_return RedisStream(std::move(*context), std::move(tls));
}

// A user whose ACL does not allow ROLE cannot have the primary checked: READONLY replies will
// tell a demoted one instead.
bool may_fail(const RedisCommand& command, const RedisReply& reply) {
  return command.front() == "ROLE" && reply.str.starts_with("NOPERM");
}

// Connects and exchanges the commands within `timeout`; the socket with the replies.
struct Opened {
  RedisStream socket;
  std::vector<RedisReply> replies;
};

Task<Result<Opened>> open(asio::any_io_executor executor, const std::string& host, int port, const RedisOptions& o,
                          const std::vector<RedisCommand>& cmds, std::chrono::milliseconds timeout) {
  auto socket = co_await connect(executor, host, port, o, timeout);
  if (!socket) co_return socket.error();
  Opened opened{std::move(*socket), std::vector<RedisReply>()};
  if (cmds.empty()) co_return std::move(opened);
  asio::steady_timer deadline(executor);
  deadline.expires_after(timeout);
  auto done = co_await (exchange(opened.socket, cmds) || deadline.async_wait(use_nothrow));
  if (done.index() == 1) co_return Error{"redis handshake timed out"};
  auto& replies = std::get<0>(done);
  if (!replies) co_return replies.error();
  for (size_t i = 0; i < replies->size(); ++i)
    if ((*replies)[i].is_error() && !may_fail(cmds[i], (*replies)[i]))
      co_return Error{"redis handshake failed: " + (*replies)[i].str};
  opened.replies = std::move(*replies);
  co_return std::move(opened);
}

std::string where(const std::pair<std::string, int>& at) { return at.first + ":" + std::to_string(at.second); }

void add_failure(std::string& errors, const std::pair<std::string, int>& sentinel, const std::string& failure) {
  if (!errors.empty()) errors += "; ";
  errors += "sentinel " + where(sentinel) + ": " + failure;
}

}  // namespace

// The primary's address, from the first sentinel that knows it.
Task<Result<std::pair<std::string, int>>> ask_sentinels(asio::any_io_executor executor, const RedisOptions& o) {
  std::string errors;
  for (const auto& sentinel : o.sentinels) {
    auto asking = sentinel_commands(o);
    auto asked = co_await open(executor, sentinel.first, sentinel.second, o, asking, o.connect_timeout);
    std::string failure;
    if (!asked) {
      failure = asked.error().message;
    } else {
      const auto& named = asked->replies.back();
      if (named.is_array() && named.elements.size() == 2) {
        auto port = named.elements[1].as_int();
        if (port && *port > 0 && *port < 65536)
          co_return std::make_pair(named.elements[0].str, static_cast<int>(*port));
      }
      failure = "does not know a primary named '" + o.sentinel_name + "'";
    }
    add_failure(errors, sentinel, failure);
  }
  co_return Error{errors};
}

Task<Result<RedisStream>> open_redis_connection(asio::any_io_executor executor, const RedisOptions& options) {
  auto target = std::make_pair(options.host, options.port);
  if (!options.sentinels.empty()) {
    auto primary = co_await ask_sentinels(executor, options);
    if (!primary) co_return primary.error();
    target = *primary;
  }
  auto handshake = handshake_commands(options);
  auto opened = co_await open(executor, target.first, target.second, options, handshake, options.connect_timeout);
  if (!opened) co_return opened.error();
  if (!options.sentinels.empty()) {
    const auto& role = opened->replies.back();
    bool unchecked = role.is_error();  // NOPERM (may_fail)
    if (!unchecked && (!role.is_array() || role.elements.empty() || role.elements[0].str != "master"))
      co_return Error{"the sentinels name " + where(target) + " as primary, but it is a replica (a failover is under way)"};
  }
  opened->socket.peer = where(target);
  co_return std::move(opened->socket);
}

}  // namespace crs::store
