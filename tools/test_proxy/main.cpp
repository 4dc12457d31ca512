// test-proxy: a small HTTP CONNECT + SOCKS5 proxy for the relay's proxy tests. It requires
// the --user/--pass credentials (Basic auth for CONNECT, RFC 1929 for SOCKS5) when given and
// prints one line per tunnel ("tunnel socks5 host:port" / "tunnel http host:port").
#include <iostream>
#include <mutex>

#include <CLI/CLI.hpp>

#include "core/crypto.hpp"
#include "core/net.hpp"

namespace {

using namespace crs;
using namespace asio::experimental::awaitable_operators;

std::string g_user, g_pass;
std::mutex g_out;

void report(const std::string& line) {
  std::lock_guard lock(g_out);
  std::cout << line << std::endl;
}

Task<void> pump(tcp::socket& from, tcp::socket& to) {
  std::array<char, 16384> buf;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), use_nothrow);
    if (ec) break;
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), use_nothrow);
    if (wec) break;
  }
  beast::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

Task<bool> connect_to(tcp::socket& out, const std::string& host, const std::string& port) {
  tcp::resolver resolver(out.get_executor());
  auto [rec, eps] = co_await resolver.async_resolve(host, port, use_nothrow);
  if (rec) co_return false;
  auto [cec, ep] = co_await asio::async_connect(out, eps, use_nothrow);
  co_return !cec;
}

Task<void> socks5(tcp::socket client) {
  unsigned char head[2];
  if (std::get<0>(co_await asio::async_read(client, asio::buffer(head, 2), use_nothrow))) co_return;
  std::vector<unsigned char> methods(head[1]);
  if (std::get<0>(co_await asio::async_read(client, asio::buffer(methods), use_nothrow))) co_return;
  bool need_auth = !g_user.empty();
  unsigned char want = need_auth ? 2 : 0;
  bool offered = std::find(methods.begin(), methods.end(), want) != methods.end();
  unsigned char choice[2] = {5, static_cast<unsigned char>(offered ? want : 0xff)};
  co_await asio::async_write(client, asio::buffer(choice, 2), use_nothrow);
  if (!offered) co_return;
  if (need_auth) {
    unsigned char ver_len[2];
    if (std::get<0>(co_await asio::async_read(client, asio::buffer(ver_len, 2), use_nothrow))) co_return;
    std::string user(ver_len[1], '\0');
    co_await asio::async_read(client, asio::buffer(user), use_nothrow);
    unsigned char plen;
    co_await asio::async_read(client, asio::buffer(&plen, 1), use_nothrow);
    std::string pass(plen, '\0');
    co_await asio::async_read(client, asio::buffer(pass), use_nothrow);
    bool ok = user == g_user && pass == g_pass;
    unsigned char verdict[2] = {1, static_cast<unsigned char>(ok ? 0 : 1)};
    co_await asio::async_write(client, asio::buffer(verdict, 2), use_nothrow);
    if (!ok) {
      report("refused socks5 (bad credentials)");
      co_return;
    }
  }
  unsigned char req[4];
  if (std::get<0>(co_await asio::async_read(client, asio::buffer(req, 4), use_nothrow))) co_return;
  std::string host;
  if (req[3] == 3) {
    unsigned char len;
    co_await asio::async_read(client, asio::buffer(&len, 1), use_nothrow);
    host.resize(len);
    co_await asio::async_read(client, asio::buffer(host), use_nothrow);
  } else if (req[3] == 1) {
    unsigned char ip[4];
    co_await asio::async_read(client, asio::buffer(ip, 4), use_nothrow);
    host = std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." + std::to_string(ip[3]);
  } else {
    co_return;
  }
  unsigned char port_bytes[2];
  co_await asio::async_read(client, asio::buffer(port_bytes, 2), use_nothrow);
  std::string port = std::to_string(port_bytes[0] * 256 + port_bytes[1]);
  tcp::socket upstream(client.get_executor());
  bool connected = co_await connect_to(upstream, host, port);
  unsigned char reply[10] = {5, static_cast<unsigned char>(connected ? 0 : 5), 0, 1, 0, 0, 0, 0, 0, 0};
  co_await asio::async_write(client, asio::buffer(reply, 10), use_nothrow);
  if (!connected) co_return;
  report("tunnel socks5 " + host + ":" + port);
  co_await (pump(client, upstream) && pump(upstream, client));
}

Task<void> http_connect(tcp::socket client) {
  asio::streambuf buf;
  auto [ec, n] = co_await asio::async_read_until(client, buf, "\r\n\r\n", use_nothrow);
  if (ec) co_return;
  std::string head(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<long>(n));
  buf.consume(n);
  std::istringstream lines(head);
  std::string method, authority, version;
  lines >> method >> authority >> version;
  std::string expected = g_user.empty() ? "" : "Basic " + crypto::base64(g_user + ":" + g_pass);
  bool authorized = expected.empty();
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (beast::iequals(name, "proxy-authorization") && value == expected) authorized = true;
  }
  if (method != "CONNECT") {
    co_await asio::async_write(client, asio::buffer(std::string("HTTP/1.1 405 Method Not Allowed\r\n\r\n")), use_nothrow);
    co_return;
  }
  if (!authorized) {
    report("refused http (bad credentials)");
    co_await asio::async_write(
        client, asio::buffer(std::string("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")),
        use_nothrow);
    co_return;
  }
  auto colon = authority.rfind(':');
  tcp::socket upstream(client.get_executor());
  if (colon == std::string::npos ||
      !co_await connect_to(upstream, authority.substr(0, colon), authority.substr(colon + 1))) {
    co_await asio::async_write(client, asio::buffer(std::string("HTTP/1.1 502 Bad Gateway\r\n\r\n")), use_nothrow);
    co_return;
  }
  co_await asio::async_write(client, asio::buffer(std::string("HTTP/1.1 200 Connection Established\r\n\r\n")),
                             use_nothrow);
  report("tunnel http " + authority);
  co_await (pump(client, upstream) && pump(upstream, client));
}

Task<void> handle(tcp::socket client) {
  unsigned char first = 0;
  auto [ec, n] = co_await client.async_receive(asio::buffer(&first, 1), tcp::socket::message_peek, use_nothrow);
  if (ec || n == 0) co_return;
  if (first == 5) co_await socks5(std::move(client));
  else co_await http_connect(std::move(client));
}

Task<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), handle(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"test-proxy: HTTP CONNECT and SOCKS5 proxy for tests", "test-proxy"};
  int port = 0;
  app.add_option("--port", port, "Listen port (0: any free port)");
  app.add_option("--user", g_user, "Required user name");
  app.add_option("--pass", g_pass, "Required password");
  CLI11_PARSE(app, argc, argv);
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<uint16_t>(port)));
  report("listening on " + std::to_string(acceptor.local_endpoint().port()));
  asio::co_spawn(io, accept_loop(acceptor), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { io.stop(); });
  io.run();
  return 0;
}
