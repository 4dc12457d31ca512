#include "store/redis_client.hpp"

#include <atomic>
#include <deque>

#include <spdlog/spdlog.h>

#include "metrics/metrics.hpp"
#include "store/redis_connect.hpp"

namespace crs::store {

constexpr auto kPrimaryCheck = std::chrono::seconds(1);

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

void count_round_trip(const PendingOp& op, std::chrono::steady_clock::time_point began) {
  size_t errors = 0;
  for (const auto& r : op.replies) errors += r.is_error() ? 1 : 0;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  metrics::redis_round_trip(seconds, op.expected, errors, op.failure.has_value());
}

struct RedisClient::Impl : std::enable_shared_from_this<RedisClient::Impl> {
  Impl(asio::any_io_executor ex, RedisOptions o)
      : executor(ex), options(std::move(o)), socket(ex), wake(ex), disconnected(ex) {}

  asio::any_io_executor executor;
  RedisOptions options;
  RedisStream socket;
  asio::steady_timer wake;          // backoff sleeps; cancelled by stop()
  asio::steady_timer disconnected;  // the reader cancels it when the connection ends
  std::optional<ReplyReader> reader;
  std::deque<std::shared_ptr<PendingOp>> pending;
  static constexpr size_t kKeptWriteBuffer = 64 * 1024;
  std::string out_buffer;
  std::string write_buffer;
  bool writing = false;
  bool write_scheduled = false;
  std::atomic<bool> ready{false};  // connected and handshake done (read by other threads: connected())
  bool stopped = false;
  bool started = false;
  uint64_t connections = 0;
  uint64_t generation = 0;  // of the connection, so a watcher of an old one ends

  Task<Result<std::vector<RedisReply>>> exec(std::vector<RedisCommand> commands) {
    if (stopped) co_return Error{"redis client stopped"};
    if (!ready) {
      metrics::redis_round_trip(0, commands.size(), 0, true);
      co_return Error{"redis not connected (" + options.address() + ")"};
    }
    auto began = std::chrono::steady_clock::now();
    auto op = std::make_shared<PendingOp>(executor, commands.size());
    for (const auto& c : commands) append_command(out_buffer, c);
    pending.push_back(op);
    schedule_write();
    op->signal.expires_after(options.command_timeout);
    auto self = shared_from_this();  // keeps the connection state alive while we wait
    auto [ec] = co_await op->signal.async_wait(use_nothrow);
    if (op->done) {
      count_round_trip(*op, began);
      if (op->failure) co_return Error{*op->failure};
      co_return std::move(op->replies);
    }
    metrics::redis_round_trip(0, op->expected, 0, true);
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

  // Commands issued while this thread handles one batch of ready events (say, the requests
  // of several connections) leave in one write: one syscall here and one read in Redis
  // instead of one each. The write waits only for the handlers already queued.
  void schedule_write() {
    if (write_scheduled || writing) return;
    write_scheduled = true;
    asio::post(executor, [self = shared_from_this()] {
      self->write_scheduled = false;
      self->start_write();
    });
  }

  void start_write() {
    if (writing || out_buffer.empty() || !ready) return;
    writing = true;
    write_buffer.clear();
    std::swap(write_buffer, out_buffer);
    asio::async_write(socket, asio::buffer(write_buffer),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->writing = false;
                        // A burst (thousands of admissions in one turn) grows the buffer to
                        // megabytes: keep only an everyday size once it is written.
                        if (self->write_buffer.capacity() > kKeptWriteBuffer) std::string().swap(self->write_buffer);
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
    socket.close();
  }

  Task<void> read_loop() {
    auto self = shared_from_this();
    std::array<char, 16384> buf;
    bool demoted = false;
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_nothrow);
      if (ec) break;
      if (!reader->feed(buf.data(), n)) break;
      while (auto reply = reader->next()) {
        // A primary turned replica (Sentinel failed over away from it) refuses writes.
        if (reply->is_read_only()) demoted = true;
        if (pending.empty()) continue;  // nothing asked for it (cannot happen without a bug)
        auto& op = pending.front();
        op->replies.push_back(std::move(*reply));
        if (op->replies.size() == op->expected) {
          auto finished = std::move(op);
          pending.pop_front();
          if (!finished->abandoned) finished->finish();
        }
      }
      if (reader->failed()) {
        spdlog::error("redis {}: protocol error, reconnecting", options.address());
        break;
      }
      if (demoted) {
        spdlog::warn("redis {}: the server is a read-only replica now, reconnecting", options.address());
        break;
      }
    }
    ready = false;
    close_connection();
    // After a replica's refusal, what is still pending reached the replica too: not applied.
    fail_pending(demoted_reason(demoted));
    disconnected.cancel();
  }

  std::string demoted_reason(bool demoted) const {
    if (demoted) return std::string(kRefusedByReplica) + " (" + options.address() + ")";
    return "redis connection lost (" + options.address() + ")";
  }

  Task<Status> connect_once() {
    auto connected = co_await open_redis_connection(executor, options);
    if (!connected) co_return connected.error();
    socket = std::move(connected.value());
    reader.emplace();
    out_buffer.clear();
    ready = true;
    disconnected.expires_at(asio::steady_timer::time_point::max());
    asio::co_spawn(executor, read_loop(), asio::detached);
    if (!options.sentinels.empty()) asio::co_spawn(executor, watch_primary(++generation), asio::detached);
    co_return Ok{};
  }

  // With Sentinel: a failover that leaves the old primary running (SENTINEL FAILOVER, a
  // partition) does not close this connection, and that primary takes writes the new one never
  // sees until it is demoted. So every second the sentinels are asked again; when they name
  // another primary, the connection is dropped and made to it.
  Task<void> watch_primary(uint64_t connection) {
    auto self = shared_from_this();
    asio::steady_timer tick(executor);
    while (!stopped && ready && generation == connection) {
      tick.expires_after(kPrimaryCheck);
      co_await tick.async_wait(use_nothrow);
      if (stopped || !ready || generation != connection) co_return;
      auto named = co_await ask_sentinels(executor, options);
      if (!named || stopped || !ready || generation != connection) continue;
      std::string now = named->first + ":" + std::to_string(named->second);
      if (now == socket.peer) continue;
      spdlog::warn("redis {}: the sentinels name {} as primary now (was {}), reconnecting", options.address(), now,
                   socket.peer);
      close_connection();
      co_return;
    }
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
        wake.expires_after(backoff);
        co_await wake.async_wait(use_nothrow);
        backoff = std::min(backoff * 2, options.max_backoff);
        continue;
      }
      if (connections++ > 0 || !last_error.empty()) spdlog::info("redis {}: connected", options.address());
      last_error.clear();
      backoff = options.min_backoff;
      if (ready) co_await disconnected.async_wait(use_nothrow);
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
  auto replies = co_await impl_->exec(std::move(one));
  if (!replies) co_return replies.error();
  co_return std::move(replies->front());
}

Task<Result<std::vector<RedisReply>>> RedisClient::pipeline(std::vector<RedisCommand> commands) {
  if (commands.empty()) co_return std::vector<RedisReply>{};
  co_return co_await impl_->exec(std::move(commands));
}

}  // namespace crs::store
