#include "upstream/proxy_handshake.hpp"

#include "core/crypto.hpp"

namespace crs::upstream {
namespace {

std::string connect_request(const Proxy& proxy, const std::string& authority) {
  std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!proxy.username.empty() || !proxy.password.empty())
    req += "Proxy-Authorization: Basic " + crypto::base64(proxy.username + ":" + proxy.password) + "\r\n";
  return req + "\r\n";
}

Task<Status> http_connect(beast::tcp_stream& stream, const Proxy& proxy, const std::string& host, uint16_t port) {
  std::string authority = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string req = connect_request(proxy, authority);
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(req), use_nothrow);
  if (wec) co_return Error{wec.message()};
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a CONNECT answer has no body: what follows is the tunnel
  auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
  if (rec) co_return Error{"CONNECT failed: " + rec.message()};
  auto status = parser.get().result_int();
  if (status == 407) co_return Error{"proxy authentication failed (407)"};
  if (status / 100 != 2) co_return Error{"CONNECT answered " + std::to_string(status)};
  if (buffer.size() != 0) co_return Error{"proxy sent data before the tunnel was used"};
  co_return Ok{};
}

Task<Status> read_exact(beast::tcp_stream& stream, unsigned char* out, size_t n) {
  auto [ec, got] = co_await asio::async_read(stream, asio::buffer(out, n), use_nothrow);
  if (ec) co_return Error{ec.message()};
  co_return Ok{};
}

std::string socks_greeting(bool with_auth) {
  std::string g{'\x05'};
  if (with_auth) g += std::string{'\x02', '\x00', '\x02'};
  else g += std::string{'\x01', '\x00'};
  return g;
}

std::string socks_auth(const Proxy& p) {
  std::string a{'\x01'};
  a.push_back(static_cast<char>(p.username.size()));
  a += p.username;
  a.push_back(static_cast<char>(p.password.size()));
  a += p.password;
  return a;
}

std::string socks_connect(const std::string& host, uint16_t port) {
  std::string c{'\x05', '\x01', '\x00', '\x03'};
  c.push_back(static_cast<char>(host.size()));
  c += host;
  c.push_back(static_cast<char>(port >> 8));
  c.push_back(static_cast<char>(port & 0xff));
  return c;
}

const char* socks_reply_text(unsigned code) {
  switch (code) {
    case 1: return "general failure";
    case 2: return "connection not allowed by ruleset";
    case 3: return "network unreachable";
    case 4: return "host unreachable";
    case 5: return "connection refused";
    case 6: return "TTL expired";
    case 7: return "command not supported";
    case 8: return "address type not supported";
    default: return "unknown error";
  }
}

Task<Status> socks5(beast::tcp_stream& stream, const Proxy& proxy, const std::string& host, uint16_t port) {
  if (host.size() > 255) co_return Error{"host name too long for SOCKS5"};
  bool with_auth = !proxy.username.empty() || !proxy.password.empty();
  std::string greeting = socks_greeting(with_auth);
  auto [gec, gn] = co_await asio::async_write(stream, asio::buffer(greeting), use_nothrow);
  if (gec) co_return Error{gec.message()};
  unsigned char choice[2];
  if (auto s = co_await read_exact(stream, choice, 2); !s) co_return s;
  if (choice[0] != 5) co_return Error{"not a SOCKS5 proxy"};
  if (choice[1] == 0xff) co_return Error{"SOCKS5 proxy accepts none of our authentication methods"};
  if (choice[1] == 2) {
    if (!with_auth) co_return Error{"SOCKS5 proxy requires a user name and password"};
    std::string auth = socks_auth(proxy);
    auto [aec, an] = co_await asio::async_write(stream, asio::buffer(auth), use_nothrow);
    if (aec) co_return Error{aec.message()};
    unsigned char verdict[2];
    if (auto s = co_await read_exact(stream, verdict, 2); !s) co_return s;
    if (verdict[1] != 0) co_return Error{"SOCKS5 authentication failed"};
  } else if (choice[1] != 0) {
    co_return Error{"SOCKS5 proxy chose an unsupported method"};
  }
  std::string request = socks_connect(host, port);
  auto [cec, cn] = co_await asio::async_write(stream, asio::buffer(request), use_nothrow);
  if (cec) co_return Error{cec.message()};
  unsigned char head[4];
  if (auto s = co_await read_exact(stream, head, 4); !s) co_return s;
  if (head[1] != 0) co_return Error{std::string("SOCKS5 connect failed: ") + socks_reply_text(head[1])};
  // Skip the bound address the proxy reports.
  size_t rest = head[3] == 1 ? 4 + 2 : head[3] == 4 ? 16 + 2 : 0;
  if (head[3] == 3) {
    unsigned char len;
    if (auto s = co_await read_exact(stream, &len, 1); !s) co_return s;
    rest = static_cast<size_t>(len) + 2;
  }
  if (rest == 0) co_return Error{"SOCKS5 reply has an unknown address type"};
  unsigned char skip[258];
  if (auto s = co_await read_exact(stream, skip, rest); !s) co_return s;
  co_return Ok{};
}

}  // namespace

Task<Status> proxy_handshake(beast::tcp_stream& stream, const Proxy& proxy, const std::string& host, uint16_t port) {
  if (proxy.kind == Proxy::Kind::Http) co_return co_await http_connect(stream, proxy, host, port);
  co_return co_await socks5(stream, proxy, host, port);
}

}  // namespace crs::upstream
