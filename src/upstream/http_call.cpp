#include "upstream/http_call.hpp"

#include <boost/url/parse.hpp>

#include "upstream/connection.hpp"

namespace crs::upstream {
namespace {

http::request<http::empty_body> json_post(const BaseUrl& base, std::string_view target) {
  http::request<http::empty_body> req{http::verb::post, target.empty() ? std::string_view("/") : target, 11};
  req.set(http::field::host, base.authority);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "claude-cli/1.0.56 (external, cli)");
  return req;
}

}  // namespace

Result<std::unique_ptr<asio::ssl::context>> client_tls(const std::string& ca_file) {
  auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  tls->set_default_verify_paths();
  if (!ca_file.empty()) {
    beast::error_code ec;
    tls->load_verify_file(ca_file, ec);
    if (ec) return Error{"relay.caFile " + ca_file + ": " + ec.message()};
  }
  return tls;
}

Task<CallResult> post_json(asio::any_io_executor executor, asio::ssl::context& tls, const std::string& url,
                           const std::string& body, const Proxy& proxy, std::chrono::milliseconds timeout) {
  CallResult out;
  auto base = parse_base_url(url.substr(0, url.find('/', url.find("://") + 3)));
  auto parsed = boost::urls::parse_uri(url);
  if (!base || !parsed) {
    out.error = "invalid URL " + url;
    co_return out;
  }
  auto req = json_post(*base, parsed->encoded_target());
  auto result = co_await send_request(executor, tls, *base, proxy, std::move(req), body, timeout);
  co_return result;
}

Task<CallResult> send_request(asio::any_io_executor executor, asio::ssl::context& tls, const BaseUrl& base,
                              const Proxy& proxy, http::request<http::empty_body> req, std::string body,
                              std::chrono::milliseconds timeout) {
  CallResult out;
  auto conn = co_await Connection::open(executor, tls, base, proxy, timeout);
  if (!conn) {
    out.error = conn.error().message;
    co_return out;
  }
  if (!body.empty() || req.method() == http::verb::post) req.content_length(body.size());
  req.keep_alive(false);
  (*conn)->expires_after(timeout);
  if (auto ec = co_await (*conn)->write(req, body)) {
    out.error = ec.message();
    co_return out;
  }
  ResponseParser parser;
  parser.body_limit(4 << 20);
  if (auto ec = co_await (*conn)->read_header(parser)) {
    out.error = ec == beast::error::timeout ? "no answer in time" : ec.message();
    co_return out;
  }
  std::vector<char> buf(16384);
  while (!parser.is_done()) {
    auto [ec, n] = co_await (*conn)->read_body(parser, buf.data(), buf.size());
    out.body.append(buf.data(), n);
    if (out.body.size() > (4u << 20)) {
      out.error = "answer larger than 4 MiB";
      co_return out;
    }
    if (ec && ec != http::error::end_of_stream) {
      out.error = ec.message();
      co_return out;
    }
    if (ec) break;
  }
  out.status = parser.get().result_int();
  out.headers = parser.get().base();
  co_return out;
}

}  // namespace crs::upstream
