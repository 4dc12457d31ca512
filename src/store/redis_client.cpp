#include "store/redis_client.hpp"

#include <deque>

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

namespace crs::store {
namespace {

using namespace asio::experimental::awaitable_operators;

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::String; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::Status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::Error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::Integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::Array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: out.type = RedisReply::Type::Nil; break;
  }
  return out;
}

void append_command(std::string& out, const RedisCommand& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  int len = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (len > 0) out.append(cmd, static_cast<size_t>(len));
  redisFreeCommand(cmd);
}

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

}  // namespace

std::optional<int64_t> RedisReply::as_int() const {
  if (type == Type::Integer) return integer;
  if (type == Type::String || type == Type::Status) {
    try {
      size_t used = 0;
      long long v = std::stoll(str, &used);
      if (used == str.size()) return v;
    } catch (...) {
    }
  }
  return std::nullopt;
}

std::optional<std::string> RedisReply::as_string() const {
  if (type == Type::String || type == Type::Status) return str;
  if (type == Type::Integer) return std::to_string(integer);
  return std::nullopt;
}

// A batch of commands waiting for its replies. The requesting coroutine waits on `signal`,
// whose expiry is the command timeout; the reader cancels it when the last reply is in.
struct PendingOp {
  PendingOp(asio::any_io_executor ex, size_t n) : expected(n), signal(ex) {}
  size_t expected;
  std::vector<RedisReply> replies;
  std::optional<std::string> failure;
  bool done = false;
  bool abandoned = false;  // the caller stopped waiting; replies are read and dropped
  asio::steady_timer signal;

  void finish() {
    done = true;
    signal.cancel();
  }
};

struct RedisClient::Impl : std::enable_shared_from_this<RedisClient::Impl> {
  Impl(asio::any_io_executor ex, RedisOptions o)
      : executor(ex), options(std::move(o)), socket(ex), wake(ex), disconnected(ex) {}

  asio::any_io_executor executor;
  RedisOptions options;
  tcp::socket socket;
  asio::steady_timer wake;          // backoff sleeps; cancelled by stop()
  asio::steady_timer disconnected;  // the reader cancels it when the connection ends
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  std::deque<std::shared_ptr<PendingOp>> pending;
  std::string out_buffer;
  std::string write_buffer;
  bool writing = false;
  bool open = false;       // TCP connected (handshake may be running)
  bool ready = false;      // handshake done: user commands allowed
  bool stopped = false;
  bool started = false;
  uint64_t connections = 0;

  Task<Result<std::vector<RedisReply>>> exec(std::vector<RedisCommand> commands, bool internal) {
    if (stopped) co_return Error{"redis client stopped"};
    if (!(internal ? open : ready)) co_return Error{"redis not connected (" + options.address() + ")"};
    auto op = std::make_shared<PendingOp>(executor, commands.size());
    for (const auto& c : commands) append_command(out_buffer, c);
    pending.push_back(op);
    start_write();
    op->signal.expires_after(options.command_timeout);
    auto self = shared_from_this();  // keeps the connection state alive while we wait
    auto [ec] = co_await op->signal.async_wait(use_nothrow);
    if (op->done) {
      if (op->failure) co_return Error{*op->failure};
      co_return std::move(op->replies);
    }
    op->abandoned = true;
    if (!ec) {
      // No reply within the timeout: the server or the network is stuck. Start afresh.
      spdlog::warn("redis {}: no reply within {} ms, reconnecting", options.address(),
                   options.command_timeout.count());
      close_connection();
      co_return Error{"redis command timed out after " + std::to_string(options.command_timeout.count()) + " ms"};
    }
    co_return Error{"redis command cancelled"};
  }

  void start_write() {
    if (writing || out_buffer.empty() || !open) return;
    writing = true;
    write_buffer.clear();
    std::swap(write_buffer, out_buffer);
    asio::async_write(socket, asio::buffer(write_buffer),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->writing = false;
                        if (ec) {
                          self->close_connection();
                          return;
                        }
                        self->start_write();
                      });
  }

  void fail_pending(const std::string& why) {
    auto ops = std::move(pending);
    pending.clear();
    for (auto& op : ops) {
      op->failure = why;
      op->finish();
    }
  }

  void close_connection() {
    ready = false;
    beast::error_code ignored;
    if (socket.is_open()) {
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    }
  }

  Task<void> read_loop() {
    auto self = shared_from_this();
    std::array<char, 16384> buf;
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_nothrow);
      if (ec) break;
      if (redisReaderFeed(reader.get(), buf.data(), n) != REDIS_OK) break;
      bool protocol_error = false;
      for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
          protocol_error = true;
          break;
        }
        if (!raw) break;
        auto* reply = static_cast<redisReply*>(raw);
        RedisReply converted = convert(reply);
        freeReplyObject(reply);
        if (pending.empty()) continue;  // nothing asked for it (cannot happen without a bug)
        auto& op = pending.front();
        op->replies.push_back(std::move(converted));
        if (op->replies.size() == op->expected) {
          auto finished = std::move(op);
          pending.pop_front();
          if (!finished->abandoned) finished->finish();
        }
      }
      if (protocol_error) {
        spdlog::error("redis {}: protocol error, reconnecting", options.address());
        break;
      }
    }
    open = false;
    ready = false;
    close_connection();
    fail_pending("redis connection lost (" + options.address() + ")");
    disconnected.cancel();
  }

  Task<Result<Ok>> connect_once() {
    tcp::resolver resolver(executor);
    asio::steady_timer deadline(executor);
    deadline.expires_after(options.connect_timeout);
    auto resolved = co_await (resolver.async_resolve(options.host, std::to_string(options.port), use_nothrow) ||
                              deadline.async_wait(use_nothrow));
    if (resolved.index() == 1) co_return Error{"timed out resolving " + options.host};
    auto [rec, endpoints] = std::get<0>(resolved);
    if (rec) co_return Error{"cannot resolve " + options.host + ": " + rec.message()};

    socket = tcp::socket(executor);
    auto connected = co_await (asio::async_connect(socket, endpoints, use_nothrow) || deadline.async_wait(use_nothrow));
    if (connected.index() == 1) {
      close_connection();
      co_return Error{"connect timed out"};
    }
    if (auto [cec, ep] = std::get<0>(connected); cec) {
      close_connection();
      co_return Error{cec.message()};
    }
    socket.set_option(tcp::no_delay(true));
    reader.reset(redisReaderCreate());
    out_buffer.clear();
    open = true;
    disconnected.expires_at(asio::steady_timer::time_point::max());
    asio::co_spawn(executor, read_loop(), asio::detached);

    std::vector<RedisCommand> hello;
    if (!options.password.empty()) {
      if (options.username.empty()) hello.push_back({"AUTH", options.password});
      else hello.push_back({"AUTH", options.username, options.password});
    }
    if (options.db != 0) hello.push_back({"SELECT", std::to_string(options.db)});
    if (!hello.empty()) {
      auto replies = co_await exec(hello, /*internal=*/true);
      if (!replies) {
        close_connection();
        co_return replies.error();
      }
      for (const auto& r : *replies) {
        if (r.is_error()) {
          close_connection();
          co_return Error{"redis handshake failed: " + r.str};
        }
      }
    }
    co_return Ok{};
  }

  Task<void> run() {
    auto self = shared_from_this();
    auto backoff = options.min_backoff;
    std::string last_error;
    while (!stopped) {
      auto result = co_await connect_once();
      if (stopped) break;
      if (!result) {
        if (result.error().message != last_error) {
          spdlog::warn("redis {}: {} (retrying with backoff up to {} ms)", options.address(), result.error().message,
                       options.max_backoff.count());
          last_error = result.error().message;
        }
        if (open) co_await disconnected.async_wait(use_nothrow);
        wake.expires_after(backoff);
        co_await wake.async_wait(use_nothrow);
        backoff = std::min(backoff * 2, options.max_backoff);
        continue;
      }
      ready = true;
      if (connections++ > 0 || !last_error.empty()) spdlog::info("redis {}: connected", options.address());
      last_error.clear();
      backoff = options.min_backoff;
      if (open) co_await disconnected.async_wait(use_nothrow);
      if (stopped) break;
      spdlog::warn("redis {}: connection lost, reconnecting", options.address());
      last_error = "connection lost";
      wake.expires_after(options.min_backoff);
      co_await wake.async_wait(use_nothrow);
    }
  }
};

RedisClient::RedisClient(asio::any_io_executor executor, RedisOptions options)
    : impl_(std::make_shared<Impl>(executor, std::move(options))) {}

RedisClient::~RedisClient() { stop(); }

void RedisClient::start() {
  if (impl_->started) return;
  impl_->started = true;
  asio::co_spawn(impl_->executor, impl_->run(), asio::detached);
}

void RedisClient::stop() {
  auto impl = impl_;
  asio::dispatch(impl->executor, [impl] {
    impl->stopped = true;
    impl->ready = false;
    impl->wake.cancel();
    impl->close_connection();
  });
}

bool RedisClient::connected() const { return impl_->ready; }
const RedisOptions& RedisClient::options() const { return impl_->options; }
uint64_t RedisClient::reconnects() const { return impl_->connections > 0 ? impl_->connections - 1 : 0; }

Task<Result<RedisReply>> RedisClient::command(RedisCommand args) {
  std::vector<RedisCommand> one;
  one.push_back(std::move(args));
  auto replies = co_await impl_->exec(std::move(one), false);
  if (!replies) co_return replies.error();
  co_return std::move(replies->front());
}

Task<Result<std::vector<RedisReply>>> RedisClient::pipeline(std::vector<RedisCommand> commands) {
  if (commands.empty()) co_return std::vector<RedisReply>{};
  co_return co_await impl_->exec(std::move(commands), false);
}

}  // namespace crs::store
