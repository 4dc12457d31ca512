#include "http/exchange.hpp"

#include <random>

#include "core/crypto.hpp"
#include "core/http_wire.hpp"

namespace crs::http_server {

ConnectionMemo::~ConnectionMemo() {
  crypto::wipe(input);
  crypto::wipe(output);
}

std::string make_request_id() {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id(11, '0');
  uint64_t bits = rng();
  for (auto& c : id) {
    c = kDigits[bits % 36];
    bits /= 36;
  }
  return id;
}

Exchange::Exchange(beast::tcp_stream& stream, Request&& request, size_t worker, bool draining,
                   std::chrono::seconds write_timeout, ConnectionMemo& memo)
    : stream_(stream), request_(std::move(request)), worker_(worker), write_timeout_(write_timeout), memo_(memo),
      request_id_(make_request_id()),
      keep_alive_(request_.keep_alive() && !draining) {
  std::string_view target = request_.target();
  auto q = target.find('?');
  path_ = std::string(target.substr(0, q));
  if (q != std::string_view::npos) query_ = std::string(target.substr(q + 1));
}

tcp::endpoint Exchange::remote() const {
  beast::error_code ec;
  return stream_.socket().remote_endpoint(ec);
}

Task<void> Exchange::send(Response response) {
  started_ = true;
  response.version(request_.version());
  response.keep_alive(keep_alive_);
  response.set("X-Request-ID", request_id_);
  response.prepare_payload();
  std::string head;
  head.reserve(256);
  append_head(head, response.base());
  std::string_view body = request_.method() == http::verb::head ? std::string_view() : response.body();
  stream_.expires_after(write_timeout_);
  auto [ec, n] = co_await asio::async_write(stream_, gather(head, body), use_nothrow);
  if (ec) keep_alive_ = false;
  stream_.expires_never();
  complete_ = true;
}

Task<beast::error_code> Exchange::start_stream(http::response<http::empty_body> header) {
  started_ = true;
  header.version(request_.version());
  header.keep_alive(keep_alive_);
  header.set("X-Request-ID", request_id_);
  header.chunked(true);
  std::string head;
  head.reserve(256);
  append_head(head, header.base());
  stream_.expires_after(write_timeout_);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(head), use_nothrow);
  stream_.expires_never();
  if (ec) keep_alive_ = false;
  co_return ec;
}

namespace {
std::array<asio::const_buffer, 3> framed(const ChunkPrefix& prefix, std::string_view data) {
  return {prefix.buffer(), asio::const_buffer(data.data(), data.size()), asio::const_buffer("\r\n", 2)};
}
}  // namespace

Task<beast::error_code> Exchange::write_chunk(std::string_view data) {
  if (data.empty()) co_return beast::error_code{};
  ChunkPrefix prefix(data.size());
  stream_.expires_after(write_timeout_);
  auto [ec, n] = co_await asio::async_write(stream_, framed(prefix, data), use_nothrow);
  stream_.expires_never();
  if (ec) keep_alive_ = false;
  co_return ec;
}

Task<beast::error_code> Exchange::end_stream() {
  stream_.expires_after(write_timeout_);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer("0\r\n\r\n", 5), use_nothrow);
  stream_.expires_never();
  if (ec) keep_alive_ = false;
  complete_ = true;
  co_return ec;
}

}  // namespace crs::http_server
