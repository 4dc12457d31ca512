#include "relay/lease_renewer.hpp"

#include <spdlog/spdlog.h>

#include "store/redis_script.hpp"

namespace crs::relay {

LeaseRenewer::LeaseRenewer(asio::any_io_executor executor, store::RedisClient& redis, const limits::Limits& limits)
    : executor_(executor), redis_(redis), limits_(limits), timer_(executor) {}

void LeaseRenewer::add(const std::string& lease, const std::string& key_id) {
  add_in(lease, limits::Limits::leases_key(key_id));
}

void LeaseRenewer::add_in(const std::string& lease, std::string leases_zset) {
  leases_[lease] = std::move(leases_zset);
  if (running_) return;
  running_ = true;
  asio::co_spawn(executor_, run(), asio::detached);
}

void LeaseRenewer::remove(const std::string& lease) { leases_.erase(lease); }

Task<void> LeaseRenewer::run() {
  // Stops when no lease is left; the next add starts it again. At shutdown the context stops
  // with this coroutine suspended, before the renewer is destroyed.
  while (!leases_.empty()) {
    timer_.expires_after(limits_.lease_ttl() / 3);
    auto [ec] = co_await timer_.async_wait(use_nothrow);
    if (ec) break;
    if (leases_.empty()) break;
    std::vector<store::RedisCommand> renewals;
    std::vector<const store::Script*> scripts;
    renewals.reserve(leases_.size());
    for (const auto& [lease, zset] : leases_) {
      auto call = limits_.renewal_in(zset, lease);
      renewals.push_back(std::move(call.command));
      scripts.push_back(call.script);
    }
    auto replies = co_await redis_.pipeline(renewals);
    if (!replies) {
      spdlog::warn("{} lease(s) not renewed: {}", renewals.size(), replies.error().message);
      continue;
    }
    // Redis forgot the script (restart, SCRIPT FLUSH): send the calls again with its body.
    std::vector<store::RedisCommand> again;
    for (size_t i = 0; i < replies->size() && i < renewals.size(); ++i)
      if (store::is_noscript((*replies)[i])) again.push_back(scripts[i]->with_source(renewals[i]));
    if (!again.empty()) {
      auto retried = co_await redis_.pipeline(std::move(again));
      if (!retried) spdlog::warn("lease renewals not sent again: {}", retried.error().message);
    }
  }
  running_ = false;
}

}  // namespace crs::relay
