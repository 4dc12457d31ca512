// An upstream connection reading a stream (upstream/connection.hpp) from a real socket that
// answers with canned bytes: a burst is read in few, growing reads, not in 1 KB pieces; a
// hostile upstream's endless chunk extension fails the read instead of filling memory.
#include <gtest/gtest.h>

#include "support/run_task.hpp"
#include "upstream/connection.hpp"

namespace crs::upstream {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

// Accepts one connection, reads the request, writes `answer` and keeps the socket open.
struct CannedUpstream {
  CannedUpstream(asio::io_context& io, std::string answer)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), socket(io), answer(std::move(answer)) {
    acceptor.async_accept(socket, [this](beast::error_code ec) {
      if (ec) return;
      socket.async_read_some(asio::buffer(request), [this](beast::error_code e, size_t) {
        if (!e) asio::async_write(socket, asio::buffer(this->answer), [](beast::error_code, size_t) {});
      });
    });
  }
  uint16_t port() const { return acceptor.local_endpoint().port(); }
  tcp::acceptor acceptor;
  tcp::socket socket;
  std::string answer;
  std::array<char, 4096> request{};
};

struct StreamRead {
  beast::error_code ec;
  size_t reads = 0;
  size_t bytes = 0;
};

Task<StreamRead> read_stream(asio::io_context& io, uint16_t port) {
  StreamRead out;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  BaseUrl target{false, "127.0.0.1", port, "", ""};
  Proxy direct;
  auto conn = co_await Connection::open(io.get_executor(), tls, target, direct, 2s);
  if (!conn) {
    out.ec = asio::error::connection_refused;
    co_return out;
  }
  http::request<http::empty_body> req{http::verb::post, "/v1/messages", 11};
  req.set(http::field::host, "127.0.0.1");
  req.content_length(2);
  if ((out.ec = co_await (*conn)->write(req, "{}"))) co_return out;
  ResponseParser parser;
  (*conn)->expires_after(5s);
  if ((out.ec = co_await (*conn)->read_header(parser))) co_return out;
  std::vector<char> chunk(16384);
  while (!parser.is_done() && !out.ec) {
    auto [ec, n] = co_await (*conn)->read_stream_body(parser, chunk.data(), chunk.size());
    out.ec = ec;
    out.bytes += n;
    ++out.reads;
  }
  co_return out;
}

TEST(UpstreamConnectionTest, ABurstIsReadInReadsThatGrow) {
  asio::io_context io;
  std::string body(64 * 1024, 'x');
  CannedUpstream upstream(io, std::string(kStreamHead) + "10000\r\n" + body + "\r\n0\r\n\r\n");
  auto read = test::run_task(io, read_stream(io, upstream.port()));
  EXPECT_FALSE(read.ec) << read.ec.message();
  EXPECT_EQ(read.bytes, body.size());
  // 16 KB with the head, then 1, 2, 4, 8 and 16 KB reads: about 8, where 1 KB reads took ~50.
  EXPECT_LE(read.reads, 12u);
}

TEST(UpstreamConnectionTest, AnEndlessChunkExtensionFailsTheRead) {
  asio::io_context io;
  CannedUpstream upstream(io, std::string(kStreamHead) + "5;ext=" + std::string(1024 * 1024, 'a'));
  auto read = test::run_task(io, read_stream(io, upstream.port()));
  EXPECT_TRUE(read.ec) << "a chunk's framing longer than the buffer's bound";
  EXPECT_NE(read.ec, beast::error::timeout) << "failed when the bound was reached, not at the deadline";
  EXPECT_EQ(read.bytes, 0u);
}

}  // namespace
}  // namespace crs::upstream
