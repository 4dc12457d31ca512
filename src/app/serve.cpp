#include "app/serve.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <memory>

#include <boost/asio/ssl.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "accounts/account_registry.hpp"
#include "admin/admin_http.hpp"
#include "alerts/monitor.hpp"
#include "app/account_sync.hpp"
#include "app/config_reload.hpp"
#include "app/health_monitor.hpp"
#include "app/io_threads.hpp"
#include "app/load_balancing_sync.hpp"
#include "app/metrics_sources.hpp"
#include "app/idle_trim.hpp"
#include "app/shutdown.hpp"
#include "app/startup.hpp"
#include "app/usage_pipeline.hpp"
#include "core/logging.hpp"
#include "query/query_cache.hpp"
#include "query/query_runner.hpp"
#include "export/service.hpp"
#include "http/client_address.hpp"
#include "http/responses.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "keys/key_cache.hpp"
#include "metrics/metrics.hpp"
#include "monitor/health.hpp"
#include "relay/relay.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/status.hpp"
#include "stats/api_stats.hpp"
#include "store/embedded_redis.hpp"
#include "store/redis_client.hpp"
#include "upstream/connection_pool.hpp"
#include "upstream/http_call.hpp"
#include "usage/pricing.hpp"
#include "web/console_routes.hpp"

namespace crs::app {
namespace {

// ---- configuration and logging ----

}  // namespace

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

// The slow-query log sits beside the main log (logs/slow-queries.log by default).
LogSettings log_settings(const config::Config& cfg) {
  LogSettings s = log_settings(cfg.logging);
  auto dir = std::filesystem::path(cfg.logging.file.empty() ? "logs/crs.log" : cfg.logging.file).parent_path();
  s.slow_queries = {cfg.monitoring.enabled, "info", (dir / "slow-queries.log").string()};
  return s;
}

namespace {

// Logging, then the secrets a first start generates (announced in the log).
bool start_logging(config::Loaded& loaded) {
  const auto& cfg = loaded.config;
  try {
    init_logging(log_settings(cfg));
  } catch (const std::exception& e) {
    spdlog::error("cannot open log files: {}", e.what());
    return false;
  }
  auto generated = config::ensure_secrets(loaded);
  if (!generated) {
    spdlog::error("{}", generated.error().message);
    return false;
  }
  for (const auto& name : *generated)
    spdlog::warn("{} was not configured: generated a strong random value and stored it in {}/secrets.env (0600). "
                 "Back it up; set {} yourself to manage it.",
                 name, cfg.server.dataDir, name);
  if (!loaded.config_path.empty()) spdlog::info("configuration: {}", loaded.config_path);
  return true;
}

// ---- Redis ----


// One client per I/O thread, so nothing on the hot path takes a lock.
struct RedisClients {
  RedisClients(IoThreads& io, const store::RedisOptions& options) {
    for (auto& ex : io.executors()) {
      owned.push_back(std::make_unique<store::RedisClient>(ex, options));
      by_worker.push_back(owned.back().get());
      owned.back()->start();
    }
  }
  std::vector<std::unique_ptr<store::RedisClient>> owned;
  std::vector<store::RedisClient*> by_worker;
};

// ---- the upstream side ----

Result<std::unique_ptr<asio::ssl::context>> upstream_tls(const config::Config& cfg) {
  return upstream::client_tls(cfg.relay.caFile);
}

struct ConnectionPools {
  ConnectionPools(IoThreads& io, asio::ssl::context& tls) {
    for (auto& ex : io.executors()) {
      owned.push_back(std::make_unique<upstream::ConnectionPool>(ex, tls));
      by_worker.push_back(owned.back().get());
    }
  }
  std::vector<std::unique_ptr<upstream::ConnectionPool>> owned;
  std::vector<upstream::ConnectionPool*> by_worker;
};

// ---- routes ----

monitor::HealthSources health_sources(const config::Config& cfg, const RedisClients& redis, bool embedded,
                                      const accounts::AccountRegistry& registry, admin::AdminDepsPtr admin) {
  monitor::HealthSources health;
  health.redis = redis.by_worker;
  health.redis_mode = embedded ? "embedded" : "external";
  health.slow_threshold = std::chrono::milliseconds(cfg.monitoring.metrics.slowQueryThreshold);
  health.accounts = [&registry] {
    auto snapshot = registry.snapshot();
    monitor::HealthSources::AccountsSummary s;
    s.total = snapshot->size();
    int64_t now = accounts::now_ms();
    for (const auto& a : *snapshot) s.usable += a.usable(now) ? 1 : 0;
    return s;
  };
  health.is_admin = [admin](http_server::Exchange& ex) { return admin::is_admin_request(ex, *admin); };
  return health;
}

http_server::ServerOptions server_options(const config::Config& cfg) {
  http_server::ServerOptions so;
  so.host = cfg.server.host;
  so.port = cfg.server.port;
  so.max_header_bytes = static_cast<uint32_t>(cfg.server.maxHeaderBytes);
  so.max_body_bytes = static_cast<uint64_t>(cfg.server.maxBodyBytes);
  so.max_body_bytes_in_flight = static_cast<uint64_t>(cfg.server.maxBodyBytesInFlight);
  so.keep_alive_timeout = std::chrono::seconds(cfg.server.keepAliveTimeout);
  so.request_read_timeout = std::chrono::seconds(cfg.server.requestReadTimeout);
  so.write_timeout = std::chrono::seconds(cfg.server.writeTimeout);
  return so;
}

// What the request handlers share, made once: caches, the account snapshot, prices, the
// upstream TLS context and pools, the usage pipeline.
struct Shared {
  Shared(const config::Config& c, IoThreads& io, RedisClients& r, usage::PricingTable p, http_server::TrustedProxies t,
         std::unique_ptr<asio::ssl::context> tls_context)
      : cfg(c), live(c, io.executors()), redis(r), pricing(std::move(p), c.usage.pricingFile), trusted_proxies(std::move(t)), tls(std::move(tls_context)),
        limits(c.usage.timezoneOffset, std::chrono::seconds(c.relay.concurrencyLeaseTtl)),
        query_cache(query::cache_settings_of(c)), queries(query::settings_of(c), &query_cache) {}

  const config::Config& cfg;  // as started: what only a restart changes
  config::LiveConfig live;     // as SIGHUP left it: each I/O thread's view
  RedisClients& redis;
  keys::KeyCache key_cache;
  accounts::AccountRegistry accounts;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  scheduler::StrategyScheduler* strategies = nullptr;  // null when loadBalancing.enabled is false
  usage::Pricing pricing;
  http_server::TrustedProxies trusted_proxies;
  std::unique_ptr<asio::ssl::context> tls;
  std::unique_ptr<ConnectionPools> pools;
  limits::Limits limits;
  BlockingPool blocking{1};  // scrypt hashing and file writes, off the I/O threads
  query::QueryCache query_cache;
  query::QueryRunner queries;  // admin reads, stats and exports (queryOptimizer.*)
  std::atomic<const http_server::Server*> server{nullptr};  // set once it exists (for /metrics)
};

// loadBalancing.enabled: the strategies; else the relay core's priority-then-least-recent.
void make_scheduler(const config::LoadBalancingConfig& lb, Shared& s) {
  if (!lb.enabled) {
    s.scheduler = std::make_unique<scheduler::PriorityLruScheduler>();
    return;
  }
  auto strategies = std::make_unique<scheduler::StrategyScheduler>(scheduler::strategy_settings(lb));
  s.strategies = strategies.get();
  s.scheduler = std::move(strategies);
}

Result<std::unique_ptr<Shared>> make_shared_state(const config::Config& cfg, IoThreads& io, RedisClients& redis) {
  auto pricing = usage::PricingTable::load(cfg.usage.pricingFile);
  if (!pricing) return pricing.error();
  auto trusted = http_server::TrustedProxies::parse(cfg.server.trustedProxies);
  if (!trusted) return trusted.error();
  auto tls = upstream_tls(cfg);
  if (!tls) return tls.error();
  auto s = std::make_unique<Shared>(cfg, io, redis, std::move(*pricing), std::move(*trusted), std::move(*tls));
  make_scheduler(cfg.loadBalancing, *s);
  s->pools = std::make_unique<ConnectionPools>(io, *s->tls);
  return s;
}

// Reads the price file again off the I/O threads; a file that does not parse leaves the table
// in force.
Task<void> reload_pricing(Shared& s) {
  auto read = [&s] { return s.pricing.reload(); };
  Status done = co_await s.blocking.run(read);
  if (done) spdlog::info("pricing: {} reloaded", s.cfg.usage.pricingFile);
  else spdlog::error("pricing: {} not reloaded, the table in force stays: {}", s.cfg.usage.pricingFile, done.error().message);
}

// The load balancer's settings in force (the strategies' are changed by SIGHUP).
scheduler::StatusSettings balancer_settings(const Shared& s) {
  if (s.strategies) return scheduler::StatusSettings{true, s.strategies->settings()};
  return scheduler::StatusSettings{false, scheduler::strategy_settings(s.cfg.loadBalancing)};
}

// host:port, as the usage aggregator names its consumer: who runs an export task.
std::string instance_name(const config::Config& cfg) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(cfg.server.port);
}

// Every route: root, relay, admin, key holders' stats, health.
std::shared_ptr<relay::RelayDeps> register_routes(http_server::Router& router, Shared& s, UsagePipeline& usage,
                                                  key_export::ExportService& exports, const config::InForce& in_force,
                                                  bool embedded) {
  web::register_console_routes(router, web::console_assets());
  auto relay_deps = std::make_shared<relay::RelayDeps>(s.cfg, s.live, s.key_cache, s.accounts, *s.scheduler, s.pricing,
                                                       s.redis.by_worker, s.pools->by_worker, *s.tls, usage.writers(),
                                                       s.limits);
  relay_deps->spool = &usage.spool();
  relay_deps->metering = usage.metering();
  relay::register_relay_routes(router, relay_deps);
  auto admin_deps = std::make_shared<admin::AdminDeps>(s.cfg, s.redis.by_worker, s.blocking, s.queries, &router,
                                                       s.trusted_proxies);
  admin_deps->tls = s.tls.get();
  admin_deps->instance = instance_name(s.cfg);
  admin_deps->in_force = &in_force;
  admin_deps->accounts = &s.accounts;
  admin_deps->exports = &exports;
  admin_deps->balancer_settings = [&s] { return balancer_settings(s); };
  admin::register_admin_routes(router, admin_deps);
  stats::register_api_stats_routes(router, std::make_shared<stats::StatsDeps>(s.cfg, s.redis.by_worker, s.limits, s.queries));
  monitor::register_health_routes(router, health_sources(s.cfg, s.redis, embedded, s.accounts, admin_deps));
  if (s.cfg.monitoring.enabled) {
    metrics::set_detailed(s.cfg.monitoring.metrics.enableDetailedMetrics,
                          static_cast<size_t>(s.cfg.monitoring.metrics.detailedKeyLimit));
    auto in_flight = [&s] {
      const auto* server = s.server.load();
      return server ? server->active_requests() : 0;
    };
    auto balancer = [&s] { return balancer_settings(s); };
    monitor::register_metrics_route(
        router, metrics_sources(s.cfg, s.redis.by_worker, s.query_cache, exports, in_flight, balancer));
  }
  return relay_deps;
}

}  // namespace

namespace {

// When serving begins: once, after the store's first preparation (open() is called again when the
// preparation ends), and never once the data was refused (a newer crs wrote it).
struct ServingGate {
  http_server::Server& server;
  std::string host;
  std::string what;  // threads and Redis, for the "listening" line
  bool serving = false, refused = false;
  int exit_code = 0;

  void open() {
    if (refused || std::exchange(serving, true)) return;
    server.start();
    spdlog::info("claude-relay-service {} listening on {}:{} ({})", CRS_VERSION, host, server.port(), what);
  }
  void refuse(const std::string& why) {
    spdlog::critical("not serving: {}", why);
    exit_code = 1;
    refused = true;
    ::raise(SIGTERM);  // the graceful stop, with nothing served
  }
};

}  // namespace

Result<std::unique_ptr<store::EmbeddedRedis>> start_embedded_redis(const config::Config& cfg, asio::io_context& main) {
  if (!cfg.embedded_redis()) return std::unique_ptr<store::EmbeddedRedis>();
  store::EmbeddedRedisOptions eo;
  eo.binary = cfg.redis.embeddedBinary;
  eo.port = cfg.redis.embeddedPort;
  eo.password = cfg.redis.embeddedPassword;
  eo.dir = (std::filesystem::path(cfg.server.dataDir) / "redis").string();
  auto embedded = std::make_unique<store::EmbeddedRedis>(main.get_executor(), eo);
  if (auto s = embedded->start(); !s)
    return Error{s.error().message + ". Install redis-server, or configure an external Redis (REDIS_HOST / REDIS_URL)."};
  return embedded;
}

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
  o.username = c.redis.username;
  o.db = c.redis.db;
  if (!c.redis.url.empty()) {
    auto parsed = store::parse_redis_url(c.redis.url, o);
    if (parsed) o = *parsed;
  }
  for (const auto& sentinel : c.redis.sentinels)
    if (auto parsed = parse_host_port(sentinel)) o.sentinels.push_back(*parsed);
  o.sentinel_name = c.redis.sentinelName;
  o.sentinel_password = c.redis.sentinelPassword;
  o.tls = o.tls || c.redis.tls;  // rediss:// set it already
  o.tls_ca_file = c.redis.tlsCaFile;
  o.tls_cert_file = c.redis.tlsCertFile;
  o.tls_key_file = c.redis.tlsKeyFile;
  // A failover takes seconds; the new primary is tried at least every second meanwhile.
  if (!o.sentinels.empty()) o.max_backoff = std::min(o.max_backoff, std::chrono::milliseconds(1000));
  return o;
}

namespace {

// The main thread's work that follows the relay's state: accounts' load and health shared
// between instances, health probes, config reloads (SIGHUP), the upstreams' model lists.
// Started once the routes exist, stopped together.
struct RelayCompanions {
  LoadBalancingSync balancing;
  HealthMonitor health;
  ConfigReloader reloader;
  std::shared_ptr<bool> catalog_stopped = std::make_shared<bool>(false);

  RelayCompanions(IoThreads& io, Shared& s, relay::RelayDeps& deps, const store::RedisOptions& ro,
                  config::LoadOptions reload_from, ReloadTargets targets)
      : balancing(io.main().get_executor(), *s.redis.by_worker.front(), ro, s.accounts, deps.load_book,
                  deps.health_book, deps.slot_waiters, s.strategies),
        health(io.main().get_executor(), *s.redis.by_worker.front(), s.live, s.accounts, deps.health_book, *s.tls),
        reloader(io.main(), std::move(reload_from), s.cfg, std::move(targets)) {}

  void start(IoThreads& io, Shared& s, relay::RelayDeps& deps) {
    balancing.start();
    health.start();
    reloader.start();
    asio::co_spawn(io.main(), relay::keep_model_lists(deps.model_catalog, s.accounts, *s.tls, catalog_stopped,
                                                      std::chrono::minutes(10)),
                   asio::detached);
  }
  void stop() {
    reloader.stop();
    balancing.stop();
    health.stop();
    *catalog_stopped = true;
  }
};

// A graceful stop also waits for usage records not yet in Redis and for shares of keys' limits
// being given back; it first sends usage at once and closes the shares.
GracefulShutdown::Parts shutdown_parts(http_server::Server& server, relay::RelayDeps& deps, IoThreads& io,
                                       UsagePipeline& usage, std::function<void()> finish) {
  return {server, deps, io.executors(),
          [&usage, &deps] { return usage.in_flight() + deps.grants_giving_back->load(); },
          [&usage, &deps, &io] {
            usage.send_all_now();
            relay::close_grants(deps, io.executors());
          },
          std::move(finish)};
}

// While nothing is in flight, each I/O thread frees its kept body buffers and allocator cache.
IdleTrim start_idle_trim(IoThreads& io, const http_server::Server& server) {
  IdleTrim trim(io.main().get_executor(), io.executors(), [&server] { return server.active_requests(); }, [] {
    http_server::release_thread_body_memory();
    flush_thread_cache();
  });
  trim.start();
  return trim;
}

}  // namespace

int serve(config::Loaded loaded, config::LoadOptions reload_from, bool takeover) {
  const config::Config& cfg = loaded.config;
  if (!start_logging(loaded)) return 1;
  // Declared first, destroyed last: frames still suspended in the contexts may use the rest.
  IoThreads io(IoThreads::count_for(cfg));
  auto embedded = start_embedded_redis(cfg, io.main());
  if (!embedded) {
    spdlog::error("{}", embedded.error().message);
    return 1;
  }
  store::RedisOptions ro = redis_options(cfg);
  RedisClients redis(io, ro);
  auto shared = make_shared_state(cfg, io, redis);
  if (!shared) {
    spdlog::error("{}", shared.error().message);
    return 1;
  }
  Shared& s = **shared;
  auto alerting = alerts::Alerting::make(io.main().get_executor(), *redis.by_worker.front(), cfg, instance_name(cfg));
  if (!alerting) {
    spdlog::error("{}", alerting.error().message);
    if (*embedded) (*embedded)->stop();
    return 1;
  }
  UsagePipeline usage(cfg, io, redis.by_worker, ro);
  auto reload = [&s, &io] { asio::co_spawn(io.main(), reload_pricing(s), asio::detached); };
  SharedStateSync sync(io.main().get_executor(), *redis.by_worker.front(), ro, cfg.security.encryptionKey, s.accounts,
                       s.key_cache, reload);
  sync.start();
  AlertingSlot alerts(std::move(*alerting));

  key_export::ExportService exports(cfg.apiExport, ro, instance_name(cfg), query::settings_of(cfg));
  exports.start();
  http_server::Router router;
  config::InForce in_force(loaded);
  auto relay_deps = register_routes(router, s, usage, exports, in_force, *embedded != nullptr);
  alerts.start();
  RelayCompanions companions(io, s, *relay_deps, ro, std::move(reload_from),
                             ReloadTargets{s.live, s.strategies, relay_deps->slot_waiters, alerts,
                                           *redis.by_worker.front(), instance_name(cfg), s.blocking, reload, in_force});
  companions.start(io, s, *relay_deps);
  auto listening_options = server_options(cfg);
  listening_options.takeover = takeover;
  http_server::Server server(io.executors(), router, std::move(listening_options));
  s.server = &server;
  if (auto listening = server.listen(); !listening) {
    spdlog::error("{}", listening.error().message);
    if (*embedded) (*embedded)->stop();
    return 1;
  }
  ServingGate gate{server, cfg.server.host,
                   fmt::format("{} I/O threads, redis {} at {}", io.size(), *embedded ? "embedded" : "external",
                               ro.address())};
  IdleTrim trim = start_idle_trim(io, server);
  serve_when_ready(io.main(), redis.by_worker,
                   StorePreparation{*redis.by_worker.front(), s.blocking, cfg, s.limits, relay_deps->store_ready,
                                    [&gate](const std::string& why) { gate.refuse(why); }},
                   [&gate] { gate.open(); });

  auto finish = [&] {
    relay_deps->stopping = true;
    trim.stop();
    usage.stop();
    sync.stop();
    companions.stop();
    alerts.stop();
    exports.stop();
    s.blocking.stop();
    for (auto& r : redis.owned) r->stop();
    if (*embedded) (*embedded)->stop();
    io.stop();
  };
  GracefulShutdown shutdown(io.main(), std::chrono::seconds(cfg.server.gracePeriod),
                            shutdown_parts(server, *relay_deps, io, usage, finish));
  shutdown.arm();
  io.run();
  spdlog::info("stopped");
  // Flushed, not shut down: frames still suspended in the io_contexts are destroyed after this
  // (when serve's locals are), and a destructor that logs must find the logger alive.
  spdlog::default_logger()->flush();
  return gate.exit_code;
}

}  // namespace crs::app
