#include "cli/http_client.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

namespace crs::cli {

std::string local_base_url(const config::Config& cfg) {
  std::string host = cfg.server.host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  else if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("http://{}:{}", host, cfg.server.port);
}

Result<HttpTarget> parse_http_target(const std::string& base) {
  auto url = boost::urls::parse_uri(base);
  if (!url || url->scheme() != "http") return Error{"invalid URL (expected http://host:port): " + base};
  HttpTarget t;
  t.base = base;
  t.host = url->host();
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  t.port = url->has_port() ? std::string(url->port()) : "80";
  t.prefix = url->path();
  while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
  return t;
}

namespace {

http::request<http::string_body> make_request(const HttpTarget& target, HttpCall& call) {
  http::verb verb = http::string_to_verb(call.method);
  http::request<http::string_body> req{verb, target.prefix + call.path, 11};
  req.set(http::field::host, target.host);
  req.set(http::field::user_agent, std::string("crs-cli/") + CRS_VERSION);
  for (auto& [name, value] : call.headers) req.set(name, value);
  if (!call.body.empty() || verb == http::verb::post || verb == http::verb::put) {
    req.body() = std::move(call.body);
    req.prepare_payload();
  }
  return req;
}

}  // namespace

Task<HttpResult> http_call(HttpTarget target, HttpCall call) {
  HttpResult out;
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(target.host, target.port, use_nothrow);
  if (rec) {
    out.error = rec.message();
    co_return out;
  }
  beast::tcp_stream stream(ex);
  stream.expires_after(call.timeout);
  auto [cec, ep] = co_await stream.async_connect(endpoints, use_nothrow);
  if (cec) {
    out.error = cec.message();
    co_return out;
  }
  auto req = make_request(target, call);
  auto [wec, wn] = co_await http::async_write(stream, req, use_nothrow);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  auto [hec, hn] = co_await http::async_read(stream, buffer, parser, use_nothrow);
  if (wec || hec) {
    out.error = (wec ? wec : hec).message();
    co_return out;
  }
  out.status = parser.get().result_int();
  out.body = std::move(parser.get().body());
  co_return out;
}

}  // namespace crs::cli
