#include "store/redis_subscriber.hpp"

#include <spdlog/spdlog.h>

#include "store/redis_codec.hpp"
#include "store/redis_connect.hpp"

namespace crs::store {

struct RedisSubscriber::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor ex, RedisOptions o, std::vector<std::string> ch, MessageHandler m,
       std::function<void()> s)
      : executor(ex), options(std::move(o)), channels(std::move(ch)), on_message(std::move(m)),
        on_subscribed(std::move(s)), socket(ex), wake(ex) {}

  asio::any_io_executor executor;
  RedisOptions options;
  std::vector<std::string> channels;
  MessageHandler on_message;
  std::function<void()> on_subscribed;
  RedisStream socket;
  asio::steady_timer wake;
  bool stopped = false;

  // One connection's life: subscribe, then deliver messages until it breaks.
  Task<Status> session() {
    auto connected = co_await open_redis_connection(executor, options);
    if (!connected) co_return connected.error();
    socket = std::move(connected.value());
    RedisCommand subscribe = make_command("SUBSCRIBE");
    subscribe.insert(subscribe.end(), channels.begin(), channels.end());
    std::string out;
    append_command(out, subscribe);
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(out), use_nothrow);
    if (wec) co_return Error{wec.message()};
    ReplyReader reader;
    size_t confirmed = 0;
    std::array<char, 16384> buf;
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_nothrow);
      if (ec) co_return Error{ec.message()};
      if (!reader.feed(buf.data(), n)) co_return Error{"protocol error"};
      while (auto reply = reader.next()) {
        if (!reply->is_array() || reply->elements.size() < 3) continue;
        const auto& kind = reply->elements[0].str;
        if (kind == "subscribe" && ++confirmed == channels.size()) {
          if (on_subscribed) on_subscribed();
        } else if (kind == "message") {
          on_message(reply->elements[1].str, reply->elements[2].str);
        }
      }
      if (reader.failed()) co_return Error{"protocol error"};
    }
  }

  Task<void> run() {
    auto self = shared_from_this();
    auto backoff = options.min_backoff;
    while (!stopped) {
      auto started = std::chrono::steady_clock::now();
      auto result = co_await session();
      socket.close();
      if (stopped) break;
      if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) backoff = options.min_backoff;
      spdlog::debug("redis subscriber {}: {}; retrying in {} ms", options.address(), result.error().message,
                    backoff.count());
      wake.expires_after(backoff);
      co_await wake.async_wait(use_nothrow);
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }
};

RedisSubscriber::RedisSubscriber(asio::any_io_executor executor, RedisOptions options,
                                 std::vector<std::string> channels, MessageHandler on_message,
                                 std::function<void()> on_subscribed)
    : impl_(std::make_shared<Impl>(executor, std::move(options), std::move(channels), std::move(on_message),
                                   std::move(on_subscribed))) {}

RedisSubscriber::~RedisSubscriber() { stop(); }

void RedisSubscriber::start() { asio::co_spawn(impl_->executor, impl_->run(), asio::detached); }

void RedisSubscriber::stop() {
  auto impl = impl_;
  asio::dispatch(impl->executor, [impl] {
    if (impl->stopped) return;
    impl->stopped = true;
    impl->wake.cancel();
    impl->socket.close();
  });
}

}  // namespace crs::store
