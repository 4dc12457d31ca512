#include "app/metrics_sources.hpp"

#include <boost/json.hpp>

#include "accounts/account_store.hpp"
#include "health/view.hpp"
#include "scheduler/status.hpp"

namespace crs::app {
namespace json = boost::json;
using metrics::Exposition;

namespace {

std::string text_of(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

double number_of(const json::object& o, const char* name, double fallback) {
  const auto* v = o.if_contains(name);
  return v && v->is_number() ? v->to_number<double>() : fallback;
}

// One account of the balancer's view (scheduler/status.hpp with its health).
void write_account(Exposition& out, const json::object& a) {
  std::string id = text_of(a, "id");
  // Declared with their HELP in declare_accounts.
  out.gauge("crs_account_info", "", {{"account", id}, {"name", text_of(a, "name")}, {"type", text_of(a, "type")}}, 1);
  out.gauge("crs_account_state", "", {{"account", id}, {"state", text_of(a, "status")}}, 1);
  const auto& health = a.at("health").as_object();
  out.gauge("crs_account_health", "", {{"account", id}, {"class", text_of(health, "class")}}, 1);
  out.gauge("crs_account_circuit", "", {{"account", id}, {"state", text_of(health.at("circuit").as_object(), "state")}},
            1);
  if (a.at("inFlight").is_number())
    out.gauge("crs_account_in_flight", "", {{"account", id}}, number_of(a, "inFlight", 0));
  for (auto [window, field] : {std::pair{"5h", "utilization5h"}, std::pair{"7d", "utilization7d"}})
    if (a.at(field).is_number())
      out.gauge("crs_account_utilization", "", {{"account", id}, {"window", window}}, number_of(a, field, 0));
}

void declare_accounts(Exposition& out) {
  out.declare("crs_account_info", "gauge", "An upstream account (1), with its name and kind");
  out.declare("crs_account_state", "gauge", "The account's state (1 for the one it is in)");
  out.declare("crs_account_health", "gauge", "The account's health class (1 for the one it is in)");
  out.declare("crs_account_circuit", "gauge", "The account's circuit breaker (1 for the state it is in)");
  out.declare("crs_account_in_flight", "gauge", "Requests in flight on the account across instances (capped accounts)");
  out.declare("crs_account_utilization", "gauge", "The account's unified rate-limit utilisation (0..1) as last announced");
}

Task<void> write_accounts(const config::Config& cfg, scheduler::StatusSettings settings, Exposition& out,
                          store::RedisClient& redis) {
  declare_accounts(out);
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto all = co_await store.list();
  if (!all) co_return;
  auto view = co_await health::balancer_status(redis, std::move(*all), settings);
  if (!view) co_return;
  for (const auto& a : view->at("accounts").as_array()) write_account(out, a.as_object());
}

void write_cache(const query::QueryCache& cache, Exposition& out) {
  const auto& c = cache.counters();
  out.counter("crs_query_cache_requests_total", "Cached admin reads asked for, by where the answer came from",
              {{"result", "hit"}}, static_cast<double>(c.hits.load()));
  out.counter("crs_query_cache_requests_total", "", {{"result", "shared"}}, static_cast<double>(c.shared_hits.load()));
  out.counter("crs_query_cache_requests_total", "", {{"result", "miss"}}, static_cast<double>(c.misses.load()));
  out.counter("crs_query_cache_evictions_total", "Cached answers evicted (maxSize, memoryLimit), here and in Redis", {},
              static_cast<double>(c.evictions.load()));
  out.gauge("crs_query_cache_entries", "Cached answers held in this process", {},
            static_cast<double>(cache.local_entries()));
  out.gauge("crs_query_cache_bytes", "Bytes of cached answers held in this process", {},
            static_cast<double>(cache.local_bytes()));
}

void write_export_stat(Exposition& out, const std::string& what, const std::string& format, const std::string& value) {
  char* end = nullptr;
  double n = std::strtod(value.c_str(), &end);
  if (value.empty() || *end) return;  // not a number: not ours to show
  std::string metric = what == "exports" ? "crs_export_finished_total" : "crs_export_" + what + "_total";
  out.counter(metric, "Finished exports on every instance (exports, rows, bytes), by format", {{"format", format}}, n);
}

Task<void> write_exports(const key_export::ExportService& exports, Exposition& out, store::RedisClient& redis) {
  out.gauge("crs_export_tasks_queued", "Export tasks queued or running on this instance", {},
            static_cast<double>(exports.queued()));
  auto reply = co_await redis.command(store::make_command("HGETALL", "export:stats:total"));
  if (!reply || reply->is_error()) co_return;
  for (const auto& [name, value] : store::to_record(*reply)) {
    auto colon = name.find(':');
    if (colon == std::string::npos) continue;
    std::string what = name.substr(colon + 1);
    if (what != "exports" && what != "rows" && what != "bytes") continue;
    write_export_stat(out, what, name.substr(0, colon), value);
  }
}

}  // namespace

monitor::MetricsSources metrics_sources(const config::Config& cfg, std::vector<store::RedisClient*> redis,
                                        const query::QueryCache& cache, const key_export::ExportService& exports,
                                        std::function<size_t()> requests_in_flight,
                                        std::function<scheduler::StatusSettings()> balancer) {
  monitor::MetricsSources s;
  s.token = cfg.monitoring.metrics.token;
  if (auto proxies = http_server::TrustedProxies::parse(cfg.server.trustedProxies)) s.proxies = std::move(*proxies);
  s.redis = std::move(redis);
  s.io_threads = s.redis.size();
  s.requests_in_flight = std::move(requests_in_flight);
  s.readers.push_back([&cfg, balancer](Exposition& out, store::RedisClient& r) {
    return write_accounts(cfg, balancer(), out, r);
  });
  s.readers.push_back([&cache](Exposition& out, store::RedisClient&) -> Task<void> {
    write_cache(cache, out);
    co_return;
  });
  s.readers.push_back([&exports](Exposition& out, store::RedisClient& r) { return write_exports(exports, out, r); });
  return s;
}

}  // namespace crs::app
