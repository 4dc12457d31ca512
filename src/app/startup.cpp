#include "app/startup.hpp"

#include "ops/schema.hpp"

#include <algorithm>
#include <memory>

#include <spdlog/spdlog.h>

#include "accounts/account.hpp"
#include "admin/credentials.hpp"
#include "keys/key_store.hpp"
#include "store/redis_script.hpp"

namespace crs::app {
namespace {

// Counters for keys made before limits were kept (limits.hpp: seed), before any request can
// charge them.
Task<Status> seed_limit_counters(store::RedisClient& redis, const config::Config& cfg, const limits::Limits& limits) {
  keys::KeyStore store(redis, cfg.security.encryptionKey, cfg.security.apiKeyPrefix);
  // The admin's queryTimeout is for people waiting on a page; starting up must not give up.
  auto settings = query::settings_of(cfg);
  settings.pipelining.timeout = std::chrono::minutes(10);
  query::QueryRunner queries(settings);
  auto all = co_await store.list(queries);
  if (!all) co_return all.error();
  int64_t now = accounts::now_ms();
  size_t seeded = 0;
  for (size_t first = 0; first < all->size(); first += 200) {
    std::vector<store::RedisCommand> batch;
    for (size_t i = first; i < std::min(all->size(), first + 200); ++i) {
      auto call = limits.seed((*all)[i], now);
      batch.push_back(call.script->with_source(call.command));
    }
    auto replies = co_await redis.pipeline(std::move(batch));
    if (!replies) co_return replies.error();
    for (const auto& r : *replies) {
      if (r.is_error()) co_return Error{r.str};
      seeded += r.as_int().value_or(0) == 1 ? 1 : 0;
    }
  }
  if (seeded) spdlog::info("limit counters started for {} key(s) from their recorded usage", seeded);
  co_return Ok{};
}

// Polls the clients every 10 ms until all are connected or the deadline passes.
class ReadinessWait : public std::enable_shared_from_this<ReadinessWait> {
 public:
  ReadinessWait(asio::io_context& main, std::vector<store::RedisClient*> clients, StorePreparation prep,
                std::function<void()> start_serving)
      : main_(main), clients_(std::move(clients)), prep_(prep), start_serving_(std::move(start_serving)),
        timer_(main), deadline_(std::chrono::steady_clock::now() + std::chrono::seconds(3)) {}

  void check() {
    bool all = std::all_of(clients_.begin(), clients_.end(), [](auto* r) { return r->connected(); });
    if (all) {
      auto start = start_serving_;
      asio::co_spawn(main_, prepare_store(prep_, start), [start](std::exception_ptr e) {
        if (e) spdlog::error("preparing the store failed");
        start();
      });
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline_) {
      spdlog::warn("Redis is not reachable yet; serving anyway (/health reports it)");
      asio::co_spawn(main_, prepare_store(prep_, nullptr), asio::detached);
      start_serving_();
      return;
    }
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->check();
    });
  }

 private:
  asio::io_context& main_;
  std::vector<store::RedisClient*> clients_;
  StorePreparation prep_;
  std::function<void()> start_serving_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace

Task<void> prepare_store(StorePreparation prep, std::function<void()> first_try_done) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto delay = std::chrono::milliseconds(100);
  bool migrated = false, seeded = false, login = false;
  while (true) {
    if (prep.redis.connected() && !migrated) {
      auto m = co_await ops::migrate(prep.redis, prep.cfg.security.encryptionKey, false);
      if (m && m->before.newer) {
        if (prep.refuse) prep.refuse(ops::newer_data_message(m->before.stored));
        co_return;
      }
      if (m) {
        migrated = true;
        for (const auto& name : m->applied) spdlog::info("data migrated: {} (schema version {})", name, m->version);
      } else {
        spdlog::error("cannot bring the data to schema version {} (will retry): {}", ops::kSchemaVersion,
                      m.error().message);
      }
    }
    if (prep.redis.connected() && migrated) {
      if (!seeded) {
        auto s = co_await seed_limit_counters(prep.redis, prep.cfg, prep.limits);
        seeded = s.ok();
        if (seeded) prep.ready = true;
        else spdlog::error("cannot start limit counters (will retry): {}", s.error().message);
      }
      if (seeded && !login) {
        auto s = co_await admin::ensure_credentials(prep.redis, prep.blocking, prep.cfg);
        login = s.ok();
        if (!login) spdlog::error("cannot set up the admin login (will retry): {}", s.error().message);
      }
    }
    if (first_try_done) {
      first_try_done();
      first_try_done = nullptr;
    }
    if (seeded && login) co_return;
    timer.expires_after(delay);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    if (ec) co_return;
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

void serve_when_ready(asio::io_context& main, std::vector<store::RedisClient*> clients, StorePreparation prep,
                      std::function<void()> start_serving) {
  auto wait = std::make_shared<ReadinessWait>(main, std::move(clients), prep, std::move(start_serving));
  asio::post(main, [wait] { wait->check(); });
}

}  // namespace crs::app
