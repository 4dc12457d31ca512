#include "http/exchange.hpp"

#include <random>

#include "core/crypto.hpp"
#include "core/http_wire.hpp"
#include "core/write_now.hpp"

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

Exchange::Exchange(beast::tcp_stream& stream, Request& request, BodySource& body, size_t worker,
                   const bool& draining, std::chrono::seconds write_timeout, ConnectionMemo& memo)
    : stream_(stream), request_(request), body_(body), draining_(draining), worker_(worker),
      write_timeout_(write_timeout), memo_(memo), request_id_(make_request_id()),
      keep_alive_(request_.keep_alive()) {
  std::string_view target = request_.target();
  auto q = target.find('?');
  path_ = std::string(target.substr(0, q));
  if (q != std::string_view::npos) query_ = std::string(target.substr(q + 1));
}

Task<std::optional<Response>> Exchange::read_body(uint64_t limit) {
  if (body_.done()) co_return std::nullopt;
  auto refusal = co_await body_.read(request_.body(), limit);
  if (refusal) keep_alive_ = false;
  co_return refusal;
}

tcp::endpoint Exchange::remote() const {
  beast::error_code ec;
  return stream_.socket().remote_endpoint(ec);
}

Task<void> Exchange::send(Response response) {
  if (filter_) filter_->whole(response);
  started_ = true;
  status_ = response.result_int();
  response.version(request_.version());
  response.keep_alive(reusable());
  response.set("X-Request-ID", request_id_);
  response.prepare_payload();
  // A 304 describes the body it stands for; a length of 0 there would be false (RFC 9110 8.6).
  if (status_ == 304 || status_ == 204 || status_ < 200) response.erase(http::field::content_length);
  std::string head;
  head.reserve(256);
  append_head(head, response.base());
  std::string_view body = request_.method() == http::verb::head ? std::string_view() : response.body();
  std::array<asio::const_buffer, 3> parts{asio::buffer(head), asio::buffer(body.data(), body.size()),
                                          asio::const_buffer()};
  co_await write_parts(parts);
  complete_ = true;
}

Task<beast::error_code> Exchange::start_stream(http::response<http::empty_body> header) {
  if (filter_) filter_->head(header);
  body_.release_read_buffer();
  started_ = true;
  status_ = header.result_int();
  header.version(request_.version());
  // HTTP/1.0 has no chunked encoding: the stream is sent as it is and ends with the connection.
  chunked_ = request_.version() >= 11;
  if (!chunked_) keep_alive_ = false;
  header.keep_alive(reusable());
  header.set("X-Request-ID", request_id_);
  header.chunked(chunked_);
  std::string head;
  head.reserve(256);
  append_head(head, header.base());
  std::array<asio::const_buffer, 3> parts{asio::buffer(head), asio::const_buffer(), asio::const_buffer()};
  co_return co_await write_parts(parts);
}

Task<beast::error_code> Exchange::start_sized(http::response<http::empty_body> header, uint64_t length) {
  started_ = true;
  status_ = header.result_int();
  chunked_ = false;
  // HEAD: the header says how long the body would be, and no body follows.
  head_only_ = request_.method() == http::verb::head;
  header.version(request_.version());
  header.keep_alive(reusable());
  header.set("X-Request-ID", request_id_);
  header.content_length(length);
  std::string head;
  head.reserve(512);
  append_head(head, header.base());
  std::array<asio::const_buffer, 3> parts{asio::buffer(head), asio::const_buffer(), asio::const_buffer()};
  co_return co_await write_parts(parts);
}

// A client reading its answer takes each write at once: try it without arming the write
// timer and without suspending (the socket is in non-blocking mode, see Server::session).
// Only what the socket does not take waits, bounded by the write timeout. For a stream of 20
// events this saves 22 timer arms and cancels and as many trips through the scheduler.
Task<beast::error_code> Exchange::write_parts(std::array<asio::const_buffer, 3> parts) {
  beast::error_code ec;
  auto rest = write_now(stream_.socket(), parts, ec);
  if (!ec && beast::buffer_bytes(rest) > 0) {
    stream_.expires_after(write_timeout_);
    auto [e, n] = co_await asio::async_write(stream_, rest, use_nothrow);
    stream_.expires_never();
    ec = e;
  }
  if (ec) keep_alive_ = false;
  co_return ec;
}

Task<beast::error_code> Exchange::write_chunk(std::string_view data) {
  // Filtered first: what the filter holds back must not become a zero-length chunk, which
  // would end the stream. Not a coroutine itself: no second frame per chunk.
  if (filter_ && !data.empty()) data = filter_->chunk(data);
  return write_body(data);
}

Task<beast::error_code> Exchange::write_body(std::string_view data) {
  if (data.empty() || head_only_) co_return beast::error_code{};
  if (!chunked_) {
    std::array<asio::const_buffer, 3> raw{asio::const_buffer(data.data(), data.size()), asio::const_buffer(),
                                          asio::const_buffer()};
    co_return co_await write_parts(raw);
  }
  ChunkPrefix prefix(data.size());
  std::array<asio::const_buffer, 3> parts{prefix.buffer(), asio::const_buffer(data.data(), data.size()),
                                          asio::const_buffer("\r\n", 2)};
  co_return co_await write_parts(parts);
}

Task<beast::error_code> Exchange::end_stream() {
  if (filter_) {
    std::string_view tail = filter_->tail();
    auto ec = co_await write_body(tail);
    if (ec) co_return ec;
  }
  if (!chunked_) {
    complete_ = true;
    co_return beast::error_code{};
  }
  std::array<asio::const_buffer, 3> parts{asio::const_buffer("0\r\n\r\n", 5), asio::const_buffer(),
                                          asio::const_buffer()};
  auto ec = co_await write_parts(parts);
  complete_ = true;
  co_return ec;
}

}  // namespace crs::http_server
