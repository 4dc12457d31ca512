#include "app/serve.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <boost/asio/ssl.hpp>

#include "accounts/account_registry.hpp"
#include "admin/admin_http.hpp"
#include "admin/credentials.hpp"
#include "accounts/account_store.hpp"
#include "core/logging.hpp"
#include "core/net.hpp"
#include "http/client_address.hpp"
#include "http/responses.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "keys/key_cache.hpp"
#include "keys/key_store.hpp"
#include "monitor/health.hpp"
#include "relay/relay.hpp"
#include "scheduler/scheduler.hpp"
#include "stats/api_stats.hpp"
#include "store/embedded_redis.hpp"
#include "store/redis_script.hpp"
#include "store/keyspace.hpp"
#include "store/redis_client.hpp"
#include "store/redis_subscriber.hpp"
#include "upstream/connection_pool.hpp"
#include "usage/spool.hpp"
#include "usage/aggregator.hpp"
#include "usage/event_writer.hpp"
#include "usage/pricing.hpp"

namespace crs::app {
namespace {

LogSettings log_settings(const config::LoggingConfig& c) {
  LogSettings s;
  s.level = c.level;
  s.file = c.file;
  s.max_file_bytes = static_cast<size_t>(c.maxFileSizeMb) * 1024 * 1024;
  s.max_files = static_cast<size_t>(c.maxFiles);
  s.load_balancing = {c.loadBalancing.enabled, c.loadBalancing.level, c.loadBalancing.file};
  s.api_export = {c.apiExport.enabled, c.apiExport.level, c.apiExport.file};
  return s;
}

void register_root_routes(http_server::Router& router) {
  // Claude Code probes `HEAD /` on its base URL; browsers and monitors land on `/`.
  std::string body = boost::json::serialize(
      boost::json::object{{"service", "claude-relay-service"}, {"version", CRS_VERSION}, {"health", "/health"}});
  router.add(http::verb::get, "/", [body](http_server::Exchange& ex) {
    return ex.send(http_server::json_response(http::status::ok, body));
  });
}

// Keeps the account snapshot current: reloads on request (debounced) and every 30 s.
class AccountReloader {
 public:
  AccountReloader(asio::any_io_executor ex, store::RedisClient& redis, std::string encryption_key,
                  accounts::AccountRegistry& registry)
      : redis_(redis), key_(std::move(encryption_key)), registry_(registry), timer_(ex) {}

  void request() {
    pending_ = true;  // a reload already running re-runs; a waiting loop wakes up
    timer_.cancel();
  }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

  Task<void> run() {
    while (!stopped_) {
      pending_ = false;
      if (redis_.connected()) {
        accounts::AccountStore store(redis_, key_);
        auto all = co_await store.list();
        if (all) {
          registry_.replace(std::move(*all));
        } else {
          spdlog::warn("cannot load accounts: {}", all.error().message);
        }
      }
      if (pending_) continue;
      timer_.expires_after(redis_.connected() ? std::chrono::seconds(30) : std::chrono::milliseconds(200));
      co_await timer_.async_wait(use_nothrow);
    }
  }

 private:
  store::RedisClient& redis_;
  std::string key_;
  accounts::AccountRegistry& registry_;
  asio::steady_timer timer_;
  bool stopped_ = false;
  bool pending_ = false;
};

std::string hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// Counters for keys made before limits were kept (limits.hpp: seed), before any request can
// charge them.
Task<Status> seed_limit_counters(store::RedisClient& redis, const config::Config& cfg, const limits::Limits& limits) {
  keys::KeyStore store(redis, cfg.security.encryptionKey, cfg.security.apiKeyPrefix);
  auto all = co_await store.list();
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

// What must be in Redis before the first request: the keys' counters (seeded first: until
// then the relay answers 503, so no charge can start them from zero), the admin login.
// Tried until both succeed; `first_try_done` runs after the first try, successful or not.
Task<void> prepare_store(store::RedisClient& redis, BlockingPool& pool, const config::Config& cfg,
                         const limits::Limits& limits, std::atomic<bool>& ready, std::function<void()> first_try_done) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto delay = std::chrono::milliseconds(100);
  bool seeded = false, login = false;
  while (true) {
    if (redis.connected()) {
      if (!seeded) {
        auto s = co_await seed_limit_counters(redis, cfg, limits);
        seeded = s.ok();
        if (seeded) ready = true;
        else spdlog::error("cannot start limit counters (will retry): {}", s.error().message);
      }
      if (seeded && !login) {
        auto s = co_await admin::ensure_credentials(redis, pool, cfg);
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

}  // namespace

store::RedisOptions redis_options(const config::Config& c) {
  store::RedisOptions o;
  o.connect_timeout = std::chrono::milliseconds(c.redis.connectTimeout);
  o.command_timeout = std::chrono::milliseconds(c.redis.commandTimeout);
  if (c.embedded_redis()) {
    o.host = "127.0.0.1";
    o.port = c.redis.embeddedPort;
    o.password = c.redis.embeddedPassword;
    return o;
  }
  o.host = c.redis.host.empty() ? "127.0.0.1" : c.redis.host;
  o.port = c.redis.port;
  o.password = c.redis.password;
  o.db = c.redis.db;
  if (!c.redis.url.empty()) {
    auto parsed = store::parse_redis_url(c.redis.url, o);
    if (parsed) o = *parsed;
  }
  return o;
}

int serve(config::Loaded loaded) {
  config::Config& cfg = loaded.config;
  try {
    init_logging(log_settings(cfg.logging));
  } catch (const std::exception& e) {
    spdlog::error("cannot open log files: {}", e.what());
    return 1;
  }
  auto generated = config::ensure_secrets(loaded);
  if (!generated) {
    spdlog::error("{}", generated.error().message);
    return 1;
  }
  for (const auto& name : *generated)
    spdlog::warn("{} was not configured: generated a strong random value and stored it in {}/secrets.env (0600). "
                 "Back it up; set {} yourself to manage it.",
                 name, cfg.server.dataDir, name);
  if (!loaded.config_path.empty()) spdlog::info("configuration: {}", loaded.config_path);

  size_t threads = cfg.server.workers > 0 ? static_cast<size_t>(cfg.server.workers)
                                          : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<asio::any_io_executor> executors;
  for (size_t i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    guards.push_back(asio::make_work_guard(*contexts.back()));
    executors.push_back(contexts.back()->get_executor());
  }
  asio::io_context& main_context = *contexts.front();

  std::unique_ptr<store::EmbeddedRedis> embedded;
  if (cfg.embedded_redis()) {
    store::EmbeddedRedisOptions eo;
    eo.binary = cfg.redis.embeddedBinary;
    eo.port = cfg.redis.embeddedPort;
    eo.password = cfg.redis.embeddedPassword;
    eo.dir = (std::filesystem::path(cfg.server.dataDir) / "redis").string();
    embedded = std::make_unique<store::EmbeddedRedis>(main_context.get_executor(), eo);
    if (auto s = embedded->start(); !s) {
      spdlog::error("{}. Install redis-server, or configure an external Redis (REDIS_HOST / REDIS_URL).",
                    s.error().message);
      return 1;
    }
  }

  store::RedisOptions ro = redis_options(cfg);
  std::vector<std::unique_ptr<store::RedisClient>> redis;
  std::vector<store::RedisClient*> redis_by_worker;
  for (auto& ex : executors) {
    redis.push_back(std::make_unique<store::RedisClient>(ex, ro));
    redis_by_worker.push_back(redis.back().get());
    redis.back()->start();
  }

  // Shared state of the relay: caches, the account snapshot, prices, upstream TLS.
  auto pricing = usage::PricingTable::load(cfg.usage.pricingFile);
  if (!pricing) {
    spdlog::error("{}", pricing.error().message);
    return 1;
  }
  auto trusted_proxies = http_server::TrustedProxies::parse(cfg.server.trustedProxies);
  if (!trusted_proxies) {
    spdlog::error("{}", trusted_proxies.error().message);
    return 1;
  }
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_default_verify_paths();
  if (!cfg.relay.caFile.empty()) {
    beast::error_code ec;
    tls.load_verify_file(cfg.relay.caFile, ec);
    if (ec) {
      spdlog::error("relay.caFile {}: {}", cfg.relay.caFile, ec.message());
      return 1;
    }
  }
  keys::KeyCache key_cache;
  accounts::AccountRegistry account_registry;
  scheduler::PriorityLruScheduler scheduler;
  std::vector<std::unique_ptr<upstream::ConnectionPool>> pools;
  std::vector<upstream::ConnectionPool*> pools_by_worker;
  for (auto& ex : executors) {
    pools.push_back(std::make_unique<upstream::ConnectionPool>(ex, tls));
    pools_by_worker.push_back(pools.back().get());
  }
  // Usage Redis could not take, kept on disk and sent again (usage/spool.hpp); one file per
  // instance, as several may share a data directory.
  usage::UsageSpool spool(cfg.server.dataDir + "/usage-spool-" + std::to_string(cfg.server.port) + ".log");
  asio::co_spawn(main_context, spool.replay_loop(*redis.front(), &limits::Limits::replay_form,
                                                 std::chrono::milliseconds(250)),
                 asio::detached);
  std::vector<std::unique_ptr<usage::UsageEventWriter>> usage_writers;
  std::vector<usage::UsageEventWriter*> usage_writers_by_worker;
  for (size_t i = 0; i < executors.size(); ++i) {
    usage_writers.push_back(std::make_unique<usage::UsageEventWriter>(executors[i], *redis[i], &spool));
    usage_writers_by_worker.push_back(usage_writers.back().get());
  }
  auto usage_in_flight = [&] {
    int n = 0;
    for (auto* w : usage_writers_by_worker) n += w->in_flight();
    return n;
  };

  AccountReloader reloader(main_context.get_executor(), *redis.front(), cfg.security.encryptionKey, account_registry);
  asio::co_spawn(main_context, reloader.run(), asio::detached);
  store::RedisSubscriber invalidations(
      main_context.get_executor(), ro, {std::string(store::keyspace::kInvalidationChannel)},
      [&](std::string_view, std::string_view message) {
        if (message.starts_with("key:")) key_cache.invalidate(std::string(message.substr(4)));
        if (message.starts_with("account:")) reloader.request();
      },
      [&] {
        key_cache.clear();  // announcements may have been missed while disconnected
        reloader.request();
      });
  invalidations.start();

  usage::AggregatorOptions agg;
  agg.consumer = hostname() + ":" + std::to_string(cfg.server.port);
  agg.timezone_offset_hours = cfg.usage.timezoneOffset;
  agg.records_per_key = static_cast<size_t>(cfg.usage.recordsPerKey);
  agg.hourly_retention_days = cfg.usage.hourlyRetentionDays;
  // Folding a batch of events takes milliseconds of CPU: on an I/O thread it would delay every
  // request of that thread (the p99), so the aggregator has a thread of its own.
  asio::io_context usage_context(1);
  auto usage_guard = asio::make_work_guard(usage_context);
  usage::UsageAggregator aggregator(usage_context.get_executor(), ro, agg);
  aggregator.start();
  // Stopped and joined on every way out of serve(); a fold still waiting for Redis then is
  // abandoned, and its events stay pending until the next start folds them.
  struct ContextThread {
    asio::io_context& context;
    std::thread thread;
    ~ContextThread() {
      context.stop();
      if (thread.joinable()) thread.join();
    }
  } usage_thread{usage_context, std::thread([&usage_context] {
                    // A lower priority than the I/O threads: the kernel lets a waking I/O thread
                    // preempt a fold at once; the fold still gets its share under full load.
                    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
                    usage_context.run();
                  })};

  http_server::Router router;
  register_root_routes(router);
  limits::Limits key_limits(cfg.usage.timezoneOffset, std::chrono::seconds(cfg.relay.concurrencyLeaseTtl));
  auto relay_deps = std::make_shared<relay::RelayDeps>(cfg, key_cache, account_registry, scheduler, *pricing,
                                                       redis_by_worker, pools_by_worker, tls, usage_writers_by_worker,
                                                       key_limits);
  relay_deps->spool = &spool;
  relay::register_relay_routes(router, relay_deps);
  BlockingPool blocking_pool(1);
  auto admin_deps = std::make_shared<admin::AdminDeps>(cfg, redis_by_worker, blocking_pool, &router, *trusted_proxies);
  admin::register_admin_routes(router, admin_deps);
  stats::register_api_stats_routes(router, std::make_shared<stats::StatsDeps>(cfg, redis_by_worker, key_limits));
  monitor::HealthSources health;
  health.redis = redis_by_worker;
  health.redis_mode = embedded ? "embedded" : "external";
  health.slow_threshold = std::chrono::milliseconds(cfg.monitoring.metrics.slowQueryThreshold);
  health.accounts = [&account_registry] {
    auto snapshot = account_registry.snapshot();
    monitor::HealthSources::AccountsSummary s;
    s.total = snapshot->size();
    int64_t now = accounts::now_ms();
    for (const auto& a : *snapshot) s.usable += a.usable(now) ? 1 : 0;
    return s;
  };
  health.is_admin = [admin_deps](http_server::Exchange& ex) { return admin::is_admin_request(ex, *admin_deps); };
  monitor::register_health_routes(router, std::move(health));

  http_server::ServerOptions so;
  so.host = cfg.server.host;
  so.port = cfg.server.port;
  so.max_header_bytes = static_cast<uint32_t>(cfg.server.maxHeaderBytes);
  so.max_body_bytes = static_cast<uint64_t>(cfg.server.maxBodyBytes);
  so.max_body_bytes_in_flight = static_cast<uint64_t>(cfg.server.maxBodyBytesInFlight);
  so.keep_alive_timeout = std::chrono::seconds(cfg.server.keepAliveTimeout);
  so.request_read_timeout = std::chrono::seconds(cfg.server.requestReadTimeout);
  so.write_timeout = std::chrono::seconds(cfg.server.writeTimeout);
  http_server::Server server(executors, router, so);
  if (auto s = server.listen(); !s) {
    spdlog::error("{}", s.error().message);
    if (embedded) embedded->stop();
    return 1;
  }
  // Accept once every I/O thread's Redis client is connected (or after 3 s, when Redis is down
  // and /health says so): a request must not meet a thread whose connection is still opening.
  asio::steady_timer ready_timer(main_context);
  auto ready_by = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  bool serving = false;
  auto start_serving = [&] {
    if (std::exchange(serving, true)) return;
    server.start();
    spdlog::info("claude-relay-service {} listening on {}:{} ({} I/O threads, redis {} at {})", CRS_VERSION,
                 cfg.server.host, server.port(), threads, embedded ? "embedded" : "external", ro.address());
  };
  std::function<void()> start_when_ready = [&] {
    bool all = std::all_of(redis.begin(), redis.end(), [](const auto& r) { return r->connected(); });
    if (all) {
      asio::co_spawn(main_context,
                     prepare_store(*redis.front(), blocking_pool, cfg, key_limits, relay_deps->store_ready,
                                   start_serving),
                     [&](std::exception_ptr e) {
                       if (e) spdlog::error("preparing the store failed");
                       start_serving();
                     });
      return;
    }
    if (std::chrono::steady_clock::now() >= ready_by) {
      spdlog::warn("Redis is not reachable yet; serving anyway (/health reports it)");
      asio::co_spawn(main_context,
                     prepare_store(*redis.front(), blocking_pool, cfg, key_limits, relay_deps->store_ready, nullptr),
                     asio::detached);
      start_serving();
      return;
    }
    ready_timer.expires_after(std::chrono::milliseconds(10));
    ready_timer.async_wait([&](beast::error_code ec) {
      if (!ec) start_when_ready();
    });
  };
  asio::post(main_context, start_when_ready);

  // Shutdown: stop accepting, let requests in flight finish within the grace period, then stop.
  asio::signal_set signals(main_context, SIGINT, SIGTERM);
  asio::steady_timer drain_timer(main_context);
  auto grace = std::chrono::seconds(cfg.server.gracePeriod);
  auto finish = [&] {
    relay_deps->stopping = true;
    if (int left = usage_in_flight()) spdlog::warn("{} usage record(s) not written before stopping", left);
    spool.stop();
    if (size_t spooled = spool.size())
      spdlog::warn("{} usage record(s) stay in {} until Redis takes them (next start)", spooled, spool.path());
    reloader.stop();
    invalidations.stop();
    blocking_pool.stop();
    aggregator.stop();
    usage_guard.reset();
    for (auto& r : redis) r->stop();
    if (embedded) embedded->stop();
    for (auto& g : guards) g.reset();
    for (auto& c : contexts) c->stop();
  };
  // At the end of the grace period the relayed requests still in flight are cut (their clients
  // get an error event or a 503, their usage is written and their slots freed), and get at most
  // this long to finish doing so; other requests (a body still arriving) are not waited for.
  constexpr auto kAfterTheCut = std::chrono::seconds(5);
  bool cut = false;
  std::function<void(std::chrono::steady_clock::time_point)> wait_drained =
      [&](std::chrono::steady_clock::time_point deadline) {
        if (server.active_requests() == 0 && usage_in_flight() == 0) {
          spdlog::info("all requests finished; stopping");
          finish();
          return;
        }
        if (cut && relay_deps->in_flight_count == 0 && usage_in_flight() == 0) {
          spdlog::info("the relayed requests that were cut are settled; stopping");
          finish();
          return;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
          if (!cut) {
            cut = true;
            spdlog::warn("grace period over with {} request(s) still in flight; cutting them",
                         server.active_requests());
            relay::cut_requests_in_flight(*relay_deps, executors);
            deadline = std::chrono::steady_clock::now() + kAfterTheCut;
          } else {
            spdlog::warn("{} request(s) still in flight after the cut; stopping", server.active_requests());
            finish();
            return;
          }
        }
        drain_timer.expires_after(std::chrono::milliseconds(20));
        drain_timer.async_wait([&, deadline](beast::error_code ec) {
          if (!ec) wait_drained(deadline);
        });
      };
  std::function<void(beast::error_code, int)> on_signal = [&](beast::error_code ec, int sig) {
    if (ec) return;
    if (server.active_requests() == 0 && server.open_connections() == 0) {
      spdlog::info("received signal {}; stopping", sig);
    } else {
      spdlog::info("received signal {}; no new connections, waiting up to {} s for {} request(s) in flight", sig,
                   grace.count(), server.active_requests());
    }
    server.begin_shutdown();
    wait_drained(std::chrono::steady_clock::now() + grace);
    // A second signal stops at once.
    signals.async_wait([&](beast::error_code ec2, int) {
      if (!ec2) {
        spdlog::warn("second signal: stopping now");
        finish();
      }
    });
  };
  signals.async_wait(on_signal);

  std::vector<std::thread> pool;
  for (size_t i = 1; i < contexts.size(); ++i) pool.emplace_back([&ctx = *contexts[i]] { ctx.run(); });
  main_context.run();
  for (auto& t : pool) t.join();
  spdlog::info("stopped");
  // Flushed, not shut down: frames still suspended in the io_contexts are destroyed after this
  // (when serve's locals are), and a destructor that logs must find the logger alive.
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace crs::app
