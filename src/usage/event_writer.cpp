#include "usage/event_writer.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace crs::usage {
namespace {


Task<void> write_batch(store::RedisClient& redis, UsageSpool* spool, std::vector<UsageEventWriter::Item> items,
                       std::shared_ptr<std::atomic<int>> in_flight) {
  std::vector<store::RedisCommand> commands;
  commands.reserve(items.size());
  for (const auto& item : items) commands.push_back(item.command);
  auto replies = co_await redis.pipeline(std::move(commands));
  // Scripts Redis does not know (restarted, flushed) go again with their body.
  std::vector<size_t> again;
  if (replies)
    for (size_t i = 0; i < items.size() && i < replies->size(); ++i)
      if (items[i].script && store::is_noscript((*replies)[i])) again.push_back(i);
  // (A new primary after a failover knows none.) If the second try gets no answer, those go to
  // the spool like a batch that got none.
  std::vector<size_t> unanswered;
  std::string why_unanswered;
  if (!again.empty()) {
    std::vector<store::RedisCommand> retry;
    for (size_t i : again) retry.push_back(items[i].script->with_source(items[i].command));
    auto retried = co_await redis.pipeline(std::move(retry));
    if (!retried) {
      unanswered = again;
      why_unanswered = retried.error().message;
    }
    for (size_t k = 0; k < again.size(); ++k) {
      if (retried && k < retried->size()) (*replies)[again[k]] = std::move((*retried)[k]);
      else (*replies)[again[k]].str = retried ? "no reply" : retried.error().message;  // stays an error
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (!replies && spool) {
      // Redis did not answer: kept to be sent again.
      bool ambiguous = !failed_before_sending(replies.error().message);
      spool->add(SpoolEntry{!items[i].request_id.empty(), ambiguous, items[i].request_id, items[i].command});
      continue;
    }
    if (spool && i < replies->size() && (*replies)[i].is_read_only()) {
      // Refused, not applied: sent again once the connection reaches the new primary.
      spool->add(SpoolEntry{!items[i].request_id.empty(), false, items[i].request_id, items[i].command});
      continue;
    }
    if (spool && std::find(unanswered.begin(), unanswered.end(), i) != unanswered.end()) {
      bool ambiguous = !failed_before_sending(why_unanswered);
      spool->add(SpoolEntry{!items[i].request_id.empty(), ambiguous, items[i].request_id, items[i].command});
      continue;
    }
    std::string failure;
    if (!replies) failure = replies.error().message;
    else if (i >= replies->size()) failure = "no reply";
    else if ((*replies)[i].is_error()) failure = (*replies)[i].str;
    if (!failure.empty()) spdlog::error("{} not recorded: {}", items[i].what, failure);
  }
  if (!replies && spool)
    spdlog::warn("Redis unavailable ({}): {} record(s) spooled to {}", replies.error().message, items.size(),
                 spool->path());
  *in_flight -= static_cast<int>(items.size());
}

}  // namespace

UsageEventWriter::UsageEventWriter(asio::any_io_executor executor, store::RedisClient& redis, UsageSpool* spool,
                                   std::chrono::microseconds linger, size_t max_batch)
    : executor_(executor), redis_(redis), spool_(spool), linger_(linger), max_batch_(std::max<size_t>(max_batch, 1)),
      timer_(std::make_unique<asio::steady_timer>(executor)) {}

UsageEventWriter::~UsageEventWriter() = default;

void UsageEventWriter::append(store::RedisCommand command, std::string what, const store::Script* script,
                              std::string request_id) {
  ++*in_flight_;
  waiting_.push_back(Item{std::move(command), std::move(what), script, std::move(request_id)});
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
  std::vector<Item> batch;
  batch.swap(waiting_);
  asio::co_spawn(executor_, write_batch(redis_, spool_, std::move(batch), in_flight_), asio::detached);
}

}  // namespace crs::usage
