#include "store/query.hpp"

#include <memory>

namespace crs::store {

namespace {

size_t payload_bytes(const RedisReply& r) {
  size_t n = r.str.size();
  for (const auto& e : r.elements) n += payload_bytes(e);
  return n;
}

// The batches of one query: each batch's pipelines are sent at once (the client writes them
// together), each writes its replies in place; a batch ends when its last pipeline is answered
// and makes room for the next. The query waits on `done`, whose expiry is the deadline, and the
// last pipeline to finish cancels it.
struct Fanout {
  Fanout(asio::any_io_executor ex, size_t n) : replies(n), done(ex) {}
  std::vector<RedisReply> replies;
  std::optional<std::string> failure;
  size_t next = 0;                   // first command not yet in a batch
  std::vector<size_t> unanswered;    // per batch: its pipelines still out
  size_t batches_in_flight = 0;
  size_t pipelines_in_flight = 0;
  size_t peak = 0;
  size_t round_trips = 0;
  bool finished = false;
  asio::steady_timer done;
};

struct Shape {
  size_t pipeline, batch, concurrency;
};

Shape shape_of(const QueryOptions& o) {
  size_t pipeline = std::max<size_t>(1, o.pipeline_size);
  return Shape{pipeline, o.batch_size ? o.batch_size : pipeline, std::max<size_t>(1, o.max_concurrency)};
}

std::vector<RedisCommand> slice(const std::vector<RedisCommand>& all, size_t from, size_t to) {
  return std::vector<RedisCommand>(all.begin() + static_cast<std::ptrdiff_t>(from),
                                   all.begin() + static_cast<std::ptrdiff_t>(to));
}

// Starts batches while there is room and commands left. The shared state outlives a caller
// that stopped waiting (the deadline).
void pump(RedisClient& redis, std::shared_ptr<const std::vector<RedisCommand>> all, std::shared_ptr<Fanout> f,
          Shape shape);

Task<void> one_pipeline(RedisClient& redis, std::shared_ptr<const std::vector<RedisCommand>> all,
                        std::shared_ptr<Fanout> f, size_t batch, size_t from, size_t to, Shape shape) {
  auto got = co_await redis.pipeline(slice(*all, from, to));
  --f->pipelines_in_flight;
  if (f->finished) co_return;
  if (!got) {
    f->failure = got.error().message;
  } else {
    for (size_t i = 0; i < got->size() && from + i < f->replies.size(); ++i) f->replies[from + i] = std::move((*got)[i]);
  }
  if (--f->unanswered[batch] == 0) --f->batches_in_flight;
  if (f->failure || (f->next >= all->size() && f->pipelines_in_flight == 0)) {
    f->finished = true;
    f->done.cancel();
    co_return;
  }
  pump(redis, all, f, shape);
}

void pump(RedisClient& redis, std::shared_ptr<const std::vector<RedisCommand>> all, std::shared_ptr<Fanout> f,
          Shape shape) {
  while (f->next < all->size() && f->batches_in_flight < shape.concurrency) {
    size_t from = f->next, to = std::min(all->size(), from + shape.batch);
    f->next = to;
    size_t batch = f->unanswered.size();
    f->unanswered.push_back((to - from + shape.pipeline - 1) / shape.pipeline);
    f->peak = std::max(f->peak, ++f->batches_in_flight);
    for (size_t at = from; at < to; at += shape.pipeline) {
      ++f->round_trips;
      ++f->pipelines_in_flight;
      asio::co_spawn(f->done.get_executor(),
                     one_pipeline(redis, all, f, batch, at, std::min(to, at + shape.pipeline), shape), asio::detached);
    }
  }
}

void finish_profile(QueryProfile* profile, const std::vector<RedisReply>* replies, size_t commands, size_t trips,
                    std::chrono::steady_clock::time_point began, bool timed_out, size_t peak = 1) {
  if (!profile) return;
  profile->commands = commands;
  profile->round_trips = trips;
  profile->peak_batches = trips ? peak : 0;
  profile->reply_bytes = 0;
  if (replies)
    for (const auto& r : *replies) profile->reply_bytes += payload_bytes(r);
  profile->took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began);
  profile->timed_out = timed_out;
}

Error timed_out(const QueryOptions& o) {
  return Error{std::string(kQueryTimedOut) + " after " + std::to_string(o.timeout.count()) + " ms"};
}

// Without the optimizer: one command per round trip, in order.
Task<Result<std::vector<RedisReply>>> one_by_one(RedisClient& redis, const std::vector<RedisCommand>& commands,
                                                 const QueryOptions& options, QueryProfile* profile) {
  auto began = std::chrono::steady_clock::now();
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (const auto& c : commands) {
    if (std::chrono::steady_clock::now() - began > options.timeout) {
      finish_profile(profile, &replies, commands.size(), replies.size(), began, true);
      co_return timed_out(options);
    }
    auto r = co_await redis.command(c);
    if (!r) {
      finish_profile(profile, &replies, commands.size(), replies.size() + 1, began, false);
      co_return r.error();
    }
    replies.push_back(std::move(*r));
  }
  finish_profile(profile, &replies, commands.size(), commands.size(), began, false);
  co_return replies;
}

}  // namespace

Task<Result<std::vector<RedisReply>>> run_query(RedisClient& redis, std::vector<RedisCommand> commands,
                                                QueryOptions options, QueryProfile* profile) {
  if (!options.optimize) co_return co_await one_by_one(redis, commands, options, profile);
  auto began = std::chrono::steady_clock::now();
  if (commands.empty()) {
    finish_profile(profile, nullptr, 0, 0, began, false);
    co_return std::vector<RedisReply>{};
  }
  auto executor = co_await asio::this_coro::executor;
  auto all = std::make_shared<const std::vector<RedisCommand>>(std::move(commands));
  auto f = std::make_shared<Fanout>(executor, all->size());
  f->done.expires_after(options.timeout);
  pump(redis, all, f, shape_of(options));
  // A client that is not connected fails every pipeline at once, inside pump: the cancel came
  // before anyone waited, and waiting now would last the whole deadline.
  if (!f->finished) co_await f->done.async_wait(use_nothrow);
  bool late = !f->finished;
  f->finished = true;  // pipelines still in flight drop their replies
  finish_profile(profile, &f->replies, all->size(), f->round_trips, began, late, f->peak);
  if (late) co_return timed_out(options);
  if (f->failure) co_return Error{*f->failure};
  co_return std::move(f->replies);
}

}  // namespace crs::store
