#include "limits/metering.hpp"

#include <deque>
#include <mutex>

#include <boost/asio/any_completion_handler.hpp>

#include <spdlog/spdlog.h>

#include "store/redis_script.hpp"
#include "usage/journal.hpp"

namespace crs::limits {
namespace {

constexpr size_t kRetryAtOnce = 64;       // kept batches sent again per retry

// Wakes the requests that wait for their batch's reply (urgent records).
struct Done {
  explicit Done(asio::any_io_executor ex) : timer(ex) { timer.expires_at(asio::steady_timer::time_point::max()); }
  void fire() {
    fired = true;
    timer.cancel();
  }
  asio::steady_timer timer;
  bool fired = false;
};

struct Batch {
  BatchId id;
  std::shared_ptr<Done> done;  // set when an urgent record is in it
  std::vector<Completion> records;
  uint64_t segment = 0;   // the journal segment holding its records
  bool urgent = false;
  bool in_flight = false; // counted in in_flight (a first attempt)
};

}  // namespace

struct Metering::Kept {
  std::mutex mutex;
  std::deque<std::pair<std::shared_ptr<Impl>, Batch>> batches;  // each with the metering that made it
  std::atomic<size_t> records{0};
};

std::shared_ptr<Metering::Kept> Metering::make_kept() { return std::make_shared<Kept>(); }

struct Metering::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor ex, store::RedisClient& r, MeteringOptions o, std::shared_ptr<Kept> k)
      : executor(ex),
        redis(r),
        options(std::move(o)),
        kept(std::move(k)),
        journal(options.journal_dir, options.journal_prefix, options.token),
        linger_timer(ex),
        retry_timer(ex) {}

  asio::any_io_executor executor;
  store::RedisClient& redis;
  MeteringOptions options;
  std::shared_ptr<Kept> kept;
  usage::Journal journal;
  Batch open;
  uint64_t next_seq = 0;
  asio::steady_timer linger_timer, retry_timer;
  // The requests of this turn, waiting for the journal's write. Resumed by the turn's end
  // itself, not through a timer's cancellation, which would queue each of them for one more
  // turn of the event loop.
  std::vector<asio::any_completion_handler<void()>> turn_waiters;
  bool linger_armed = false, turn_scheduled = false, retry_armed = false;
  std::atomic<bool> all_now{false};
  std::atomic<int> in_flight{0};
  uint64_t failures = 0;

  // Returns what to wait for besides the journal: the batch's reply, for an urgent record.
  std::shared_ptr<Done> join(Completion record, bool urgent) {
    ++in_flight;
    if (open.records.empty()) {
      open.id = BatchId{options.token, next_seq++};
      open.segment = journal.open_unit();
      open.in_flight = true;
    }
    journal_record(journal.buffer(), open.id, record);
    open.records.push_back(std::move(record));
    open.urgent = open.urgent || urgent;
    std::shared_ptr<Done> done;
    if (urgent) {
      if (!open.done) open.done = std::make_shared<Done>(executor);
      done = open.done;
    }
    if (open.records.size() >= options.max_records || all_now) seal();
    else if (!open.urgent) arm_linger();
    schedule_turn_end();
    return done;
  }

  void arm_linger() {
    if (linger_armed) return;
    linger_armed = true;
    linger_timer.expires_after(options.linger);
    linger_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;  // cancelled: its batch was sealed meanwhile
      self->linger_armed = false;
      self->seal();
    });
  }

  // The journal's group write, then the batch if it must go now; the requests of this turn resume.
  void schedule_turn_end() {
    if (turn_scheduled) return;
    turn_scheduled = true;
    asio::post(executor, [self = shared_from_this()] {
      self->turn_scheduled = false;
      self->journal.write();
      if (self->open.urgent || self->all_now) self->seal();
      auto waiters = std::move(self->turn_waiters);  // leaves it empty for the next turn
      for (auto& resume : waiters) asio::dispatch(std::move(resume));  // on this thread: at once
    });
  }

  auto turn_end() {
    return asio::async_initiate<decltype(asio::use_awaitable), void()>(
        [this](auto handler) { turn_waiters.emplace_back(std::move(handler)); }, asio::use_awaitable);
  }

  void seal() {
    if (open.records.empty()) return;
    if (linger_armed) {
      linger_timer.cancel();
      linger_armed = false;
    }
    Batch b = std::move(open);
    open = Batch{};
    journal.rotate_if_full();  // at a batch boundary: a batch's records stay in one segment
    asio::co_spawn(executor, send(shared_from_this(), std::move(b)), asio::detached);
  }

  static Task<void> send(std::shared_ptr<Impl> self, Batch b) {
    auto call = batch_call(b.id, b.records);
    auto reply = co_await store::run_script(self->redis, *call.script, std::move(call.command));
    if (b.in_flight) self->in_flight -= static_cast<int>(b.records.size());
    b.in_flight = false;
    if (b.done) b.done->fire();  // taken or kept: its requests go on either way
    if (reply && !reply->is_error()) self->acknowledge(b);
    else self->keep(self, std::move(b), reply ? reply->str : reply.error().message);
  }

  // On the thread of the metering that made the batch: Redis has it.
  void acknowledge(const Batch& b) {
    journal_ack(journal.buffer(), b.id);
    schedule_turn_end();
    journal.settle_unit(b.segment);
  }

  // Not taken, or not known to be: kept for any thread to send again. A Lua error after the bit
  // leaves the batch applied in part; its next copy finds the bit and stops, so nothing is
  // counted twice.
  void keep(std::shared_ptr<Impl> owner, Batch b, const std::string& why) {
    if (failures++ % 100 == 0)
      spdlog::warn("usage batch {}:{} ({} records) not written yet, sent again every {} ms: {}", b.id.token, b.id.seq,
                   b.records.size(), options.retry.count(), why);
    {
      std::lock_guard lock(kept->mutex);
      kept->records += b.records.size();
      kept->batches.emplace_back(std::move(owner), std::move(b));
      while (kept->records > options.max_kept_records && kept->batches.size() > 1) {
        // Its segment stays unsettled, so its file stays for the next start to send.
        const auto& front = kept->batches.front().second;
        spdlog::error("usage batch {}:{} kept on disk only (more than {} records wait for Redis): sent at the next start",
                      front.id.token, front.id.seq, options.max_kept_records);
        kept->records -= front.records.size();
        kept->batches.pop_front();
      }
    }
    arm_retry();
  }

  void arm_retry() {
    if (retry_armed) return;
    retry_armed = true;
    retry_timer.expires_after(options.retry);
    retry_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      self->retry_armed = false;
      if (ec || self->kept->records == 0) return;
      if (self->redis.connected()) asio::co_spawn(self->executor, send_kept(self), asio::detached);
      self->arm_retry();
    });
  }

  // Kept batches of any thread, as one pipeline on this thread's connection (EVAL with the
  // body: a Redis that restarted knows no script).
  static Task<void> send_kept(std::shared_ptr<Impl> self) {
    std::vector<std::pair<std::shared_ptr<Impl>, Batch>> taken;
    {
      std::lock_guard lock(self->kept->mutex);
      while (taken.size() < kRetryAtOnce && !self->kept->batches.empty()) {
        self->kept->records -= self->kept->batches.front().second.records.size();
        taken.push_back(std::move(self->kept->batches.front()));
        self->kept->batches.pop_front();
      }
    }
    if (taken.empty()) co_return;
    std::vector<store::RedisCommand> calls;
    for (const auto& [owner, b] : taken) {
      auto call = batch_call(b.id, b.records);
      calls.push_back(call.script->with_source(call.command));
    }
    auto replies = co_await self->redis.pipeline(std::move(calls));
    for (size_t i = 0; i < taken.size(); ++i) {
      auto& [owner, b] = taken[i];
      bool ok = replies && i < replies->size() && !(*replies)[i].is_error();
      if (ok) {
        asio::post(owner->executor, [owner, b = std::move(b)] { owner->acknowledge(b); });
      } else {
        std::string why = !replies ? replies.error().message : i < replies->size() ? (*replies)[i].str : "no reply";
        self->keep(std::move(owner), std::move(b), why);
      }
    }
  }
};

Metering::Metering(asio::any_io_executor executor, store::RedisClient& redis, MeteringOptions options,
                   std::shared_ptr<Kept> kept)
    : impl_(std::make_shared<Impl>(executor, redis, std::move(options), std::move(kept))) {
  impl_->options.max_records = std::clamp<size_t>(impl_->options.max_records, 1, kMaxBatchRecords);
}

Metering::~Metering() = default;

Task<void> Metering::add(Completion record, bool urgent) {
  // No shared_ptr to Impl in this frame while it waits: Impl holds the waiting handlers, which
  // hold the frame, so the two would keep each other alive if the I/O thread stopped before the
  // turn's end (and the journal would never write its buffer on destruction).
  auto done = impl_->join(std::move(record), urgent);
  co_await impl_->turn_end();
  if (done && !done->fired) co_await done->timer.async_wait(use_nothrow);
}

void Metering::send_urgent() {
  if (impl_->open.urgent) impl_->seal();
}

bool Metering::has_kept() const { return impl_->kept->records > 0; }

Task<void> Metering::send_kept_now() { return Impl::send_kept(impl_); }

void Metering::send_all_now() {
  impl_->all_now = true;
  asio::post(impl_->executor, [self = impl_] { self->seal(); });
}

void Metering::adopt(std::vector<JournaledBatch> batches, std::vector<usage::Journal::Leftover> files) {
  impl_->journal.adopt(std::move(files), batches.size());
  for (auto& j : batches) {
    Batch b;
    b.id = std::move(j.id);
    b.records = std::move(j.records);
    b.segment = usage::Journal::kAdopted;
    impl_->keep(impl_, std::move(b), "left by an earlier run");
  }
}

void Metering::forget_kept() {
  std::lock_guard lock(impl_->kept->mutex);
  impl_->kept->batches.clear();  // (they hold their meterings: this also ends that cycle)
  impl_->kept->records = 0;
}

int Metering::in_flight() const { return impl_->in_flight.load(); }

size_t Metering::kept() const { return impl_->kept->records.load(); }

}  // namespace crs::limits
