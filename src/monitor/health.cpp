#include "monitor/health.hpp"

#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/time.hpp"
#include "http/responses.hpp"

namespace crs::monitor {
namespace {

using namespace asio::experimental::awaitable_operators;
namespace json = boost::json;

constexpr auto kPingTimeout = std::chrono::seconds(2);

struct RedisProbe {
  bool ok = false;
  double latency_ms = 0;
  std::string error;
};

// Built outside the coroutine: GCC 12 miscompiles initializer lists inside coroutine frames.
http_server::Response health_response(const HealthSources& src, const store::RedisClient& redis,
                                      const RedisProbe& probe, bool details) {
  bool slow = probe.ok && probe.latency_ms > static_cast<double>(src.slow_threshold.count());
  std::string status = !probe.ok ? "unhealthy" : slow ? "degraded" : "healthy";
  json::object redis_info;
  redis_info["status"] = status;
  redis_info["connected"] = probe.ok;
  redis_info["mode"] = src.redis_mode;
  if (details) redis_info["address"] = redis.options().address();
  if (probe.ok) {
    redis_info["latency"] = fmt::format("{:.3f}ms", probe.latency_ms);
    redis_info["latencyMicros"] = static_cast<int64_t>(probe.latency_ms * 1000);
  } else if (details) {
    redis_info["error"] = probe.error;  // may name the address
  }
  double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - src.started).count();
  size_t rss = resident_memory_bytes();
  json::object body{
      {"status", status},
      {"service", "claude-relay-service"},
      {"version", CRS_VERSION},
      {"timestamp", iso8601_utc()},
      {"uptime", static_cast<int64_t>(uptime)},
      {"memory", json::object{{"rss", fmt::format("{}MB", rss / (1024 * 1024))}, {"rssBytes", rss}}},
      {"components", json::object{{"redis", std::move(redis_info)}}},
  };
  if (src.accounts && details) {
    auto a = src.accounts();
    body["components"].as_object()["accounts"] =
        json::object{{"total", a.total}, {"usable", a.usable}, {"status", a.usable > 0 ? "healthy" : "degraded"}};
  }
  auto res = http_server::json_response(probe.ok ? http::status::ok : http::status::service_unavailable,
                                        json::serialize(body));
  res.set(http::field::cache_control, "no-store");
  return res;
}

store::RedisCommand ping_command() { return {"PING"}; }

Task<void> handle_health(const HealthSources& src, http_server::Exchange& ex) {
  store::RedisClient& redis = *src.redis.at(ex.worker());
  RedisProbe probe;
  if (!redis.connected()) {
    probe.error = "not connected";
  } else {
    auto begin = std::chrono::steady_clock::now();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(kPingTimeout);
    auto outcome = co_await (redis.command(ping_command()) || timer.async_wait(use_nothrow));
    probe.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
    if (outcome.index() == 1) {
      probe.error = "no reply to PING within 2 s";
    } else if (auto& reply = std::get<0>(outcome); !reply) {
      probe.error = reply.error().message;
    } else if (reply->is_error()) {
      probe.error = reply->str;
    } else {
      probe.ok = true;
    }
  }
  bool details = false;
  if (src.is_admin) details = co_await src.is_admin(ex);
  co_await ex.send(health_response(src, redis, probe, details));
}

}  // namespace

void register_health_routes(http_server::Router& router, HealthSources sources) {
  auto shared = std::make_shared<HealthSources>(std::move(sources));
  auto handler = [shared](http_server::Exchange& ex) { return handle_health(*shared, ex); };
  router.add(http::verb::get, "/health", handler);
  router.add(http::verb::get, "/api/health", handler);
}

}  // namespace crs::monitor
