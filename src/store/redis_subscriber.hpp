#pragma once
// A pub/sub connection: subscribes to channels on every (re)connect and hands each message to
// a callback on its executor. `on_subscribed` runs after every successful (re)subscription:
// messages published while we were disconnected are lost, so listeners resynchronise then.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/net.hpp"
#include "store/redis_options.hpp"

namespace crs::store {

class RedisSubscriber {
 public:
  using MessageHandler = std::function<void(std::string_view channel, std::string_view message)>;

  RedisSubscriber(asio::any_io_executor executor, RedisOptions options, std::vector<std::string> channels,
                  MessageHandler on_message, std::function<void()> on_subscribed);
  ~RedisSubscriber();
  void start();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace crs::store
