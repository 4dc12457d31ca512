#include "usage/event_writer.hpp"

#include <spdlog/spdlog.h>

namespace crs::usage {
namespace {

std::vector<store::RedisCommand> xadd_commands(const std::vector<UsageEvent>& events) {
  std::vector<store::RedisCommand> commands;
  commands.reserve(events.size());
  for (const auto& e : events)
    commands.push_back(store::make_command("XADD", kUsageStream, "*", kUsageField, e.to_wire()));
  return commands;
}

Task<void> write_batch(store::RedisClient& redis, std::vector<UsageEvent> events,
                       std::shared_ptr<std::atomic<int>> in_flight) {
  auto replies = co_await redis.pipeline(xadd_commands(events));
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    std::string failure;
    if (!replies) failure = replies.error().message;
    else if (i >= replies->size()) failure = "no reply";
    else if ((*replies)[i].is_error()) failure = (*replies)[i].str;
    if (!failure.empty())
      spdlog::error("usage of request {} not recorded: {} (key {}, {} tokens)", e.request_id, failure, e.key_id,
                    e.usage.total());
    spdlog::debug("request {} key={} account={} model={} status={} in={} out={} cache_create={} cache_read={} "
                  "cost_micro={} partial={} {}ms",
                  e.request_id, e.key_id, e.account_id, e.model, e.status, e.usage.input_tokens,
                  e.usage.output_tokens, e.usage.cache_creation_input_tokens, e.usage.cache_read_input_tokens,
                  e.cost_micro, e.partial, e.duration_ms);
  }
  *in_flight -= static_cast<int>(events.size());
}

}  // namespace

UsageEventWriter::UsageEventWriter(asio::any_io_executor executor, store::RedisClient& redis,
                                   std::chrono::microseconds linger, size_t max_batch)
    : executor_(executor), redis_(redis), linger_(linger), max_batch_(std::max<size_t>(max_batch, 1)),
      timer_(std::make_unique<asio::steady_timer>(executor)) {}

UsageEventWriter::~UsageEventWriter() = default;

void UsageEventWriter::append(UsageEvent event) {
  ++*in_flight_;
  waiting_.push_back(std::move(event));
  if (waiting_.size() >= max_batch_) {
    flush();
    return;
  }
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_->expires_after(linger_);
  timer_->async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled: the writer is being destroyed
    timer_armed_ = false;
    flush();
  });
}

void UsageEventWriter::flush() {
  if (waiting_.empty()) return;
  std::vector<UsageEvent> batch;
  batch.swap(waiting_);
  asio::co_spawn(executor_, write_batch(redis_, std::move(batch), in_flight_), asio::detached);
}

}  // namespace crs::usage
