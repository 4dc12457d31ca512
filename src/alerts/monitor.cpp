#include "alerts/monitor.hpp"

#include <fstream>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "accounts/account_store.hpp"
#include "core/time.hpp"
#include "health/view.hpp"
#include "metrics/metrics.hpp"
#include "scheduler/status.hpp"
#include "store/redis_script.hpp"

namespace crs::alerts {
namespace json = boost::json;

MonitorSettings monitor_settings(const config::Config& cfg, std::string instance) {
  const auto& a = cfg.monitoring.alerts;
  MonitorSettings s;
  s.interval = std::chrono::seconds(a.checkInterval);
  s.utilization_threshold = a.utilizationThreshold;
  s.memory_threshold = cfg.monitoring.metrics.memoryAlertThreshold;
  s.memory_limit = static_cast<uint64_t>(a.memoryLimit);
  s.error_rate_threshold = cfg.loadBalancing.healthCheck.errorRateThreshold;
  s.instance = std::move(instance);
  return s;
}

uint64_t memory_limit(uint64_t configured) {
  if (configured) return configured;
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  std::string v;
  if (cgroup >> v && v != "max") return std::stoull(v);
  std::ifstream meminfo("/proc/meminfo");
  for (std::string name; meminfo >> name;) {
    uint64_t kb = 0;
    meminfo >> kb;
    if (name == "MemTotal:") return kb * 1024;
    meminfo.ignore(256, '\n');
  }
  return 0;
}

namespace {

using Alerts = std::map<std::string, Alert>;

Alert make(std::string id, std::string kind, std::string severity, std::string title, std::string message,
           json::object details, const std::string& instance) {
  return Alert{std::move(id), std::move(kind), std::move(severity), std::move(title), std::move(message),
               std::move(details), false, iso8601_utc(), instance};
}

std::string text(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// ---- what every instance sees: the accounts ----

void account_alerts(const json::object& a, const MonitorSettings& s, Alerts& out) {
  std::string id = text(a, "id"), name = text(a, "name"), status = text(a, "status");
  json::object who{{"accountId", id}, {"accountName", name}, {"type", text(a, "type")}};
  if (status == "unauthorized" || status == "blocked") {
    std::string what = status == "blocked" ? "blocked by the upstream" : "unauthorized";
    out.emplace("account_" + status + ":" + id,
                make("account_" + status + ":" + id, "account_" + status, "critical",
                     fmt::format("Account '{}' is {}", name, what),
                     "It gets no traffic until an admin acts (re-authorize, replace the credential or reset it).",
                     who, s.instance));
  }
  const auto& health = a.at("health").as_object();
  if (text(health.at("circuit").as_object(), "state") == "open") {
    out.emplace("circuit_open:" + id,
                make("circuit_open:" + id, "circuit_open", "warning", fmt::format("Account '{}': circuit open", name),
                     "Its requests failed in a row; it gets no traffic until a trial request succeeds.", who,
                     s.instance));
  }
  for (auto [window, field] : {std::pair{"5h", "utilization5h"}, std::pair{"7d", "utilization7d"}}) {
    const auto* u = a.if_contains(field);
    if (!u || !u->is_number() || u->to_number<double>() < s.utilization_threshold) continue;
    json::object d = who;
    d["window"] = window;
    d["utilization"] = u->to_number<double>();
    d["threshold"] = s.utilization_threshold;
    std::string aid = fmt::format("utilization_{}:{}", window, id);
    out.emplace(aid, make(aid, "utilization", "warning",
                          fmt::format("Account '{}' used {:.0f}% of its {} limit", name, u->to_number<double>() * 100,
                                      window),
                          "Its unified rate-limit window is nearly spent: the balancer moves traffic away from it.",
                          std::move(d), s.instance));
  }
}

Task<Result<Alerts>> shared_conditions(store::RedisClient& redis, const config::Config& cfg, const MonitorSettings& s) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto all = co_await store.list();
  if (!all) co_return all.error();
  const auto& lb = cfg.loadBalancing;
  scheduler::StatusSettings settings{lb.enabled, scheduler::strategy_settings(lb)};
  auto view = co_await health::balancer_status(redis, std::move(*all), settings);
  if (!view) co_return view.error();
  Alerts out;
  for (const auto& a : view->at("accounts").as_array()) account_alerts(a.as_object(), s, out);
  co_return out;
}

// ---- this instance's own ----

struct Previous {
  std::array<uint64_t, 6> messages{};
  uint64_t failed_exports = 0;
  bool error_rate_high = false;
};

void memory_alert(const MonitorSettings& s, Alerts& out) {
  uint64_t limit = memory_limit(s.memory_limit), rss = resident_memory_bytes();
  if (!limit || static_cast<double>(rss) < s.memory_threshold * static_cast<double>(limit)) return;
  json::object d{{"residentBytes", rss}, {"limitBytes", limit}, {"threshold", s.memory_threshold}};
  std::string id = "memory:" + s.instance;
  out.emplace(id, make(id, "memory", "warning",
                       fmt::format("Memory use {:.0f}% of the limit on {}", 100.0 * rss / limit, s.instance),
                       fmt::format("The relay holds {} MB of {} MB.", rss >> 20, limit >> 20), std::move(d),
                       s.instance));
}

void error_rate_alert(const MonitorSettings& s, Previous& prev, Alerts& out) {
  // Client errors (a wrong key, a limit) say nothing of the relay and anyone can send them: they
  // are left out, so they cannot dilute the share of 5xx either.
  auto now = metrics::http_counts(metrics::Family::Messages);
  uint64_t total = 0, errors = now[5] - prev.messages[5];
  for (size_t c : {1, 2, 3, 5}) total += now[c] - prev.messages[c];
  prev.messages = now;
  if (total >= 5) prev.error_rate_high = static_cast<double>(errors) / static_cast<double>(total) > s.error_rate_threshold;
  else if (total == 0) prev.error_rate_high = false;  // no traffic: nothing fails
  if (!prev.error_rate_high) return;
  json::object d{{"requests", total}, {"errors", errors}, {"threshold", s.error_rate_threshold}};
  std::string id = "error_rate:" + s.instance;
  out.emplace(id, make(id, "error_rate", "critical", fmt::format("Relayed requests failing on {}", s.instance),
                       fmt::format("{} of the last {} requests were answered with a 5xx.", errors, total),
                       std::move(d), s.instance));
}

Alerts local_conditions(store::RedisClient& redis, const MonitorSettings& s, Previous& prev) {
  Alerts out;
  if (!redis.connected()) {
    std::string id = "redis_unreachable:" + s.instance;
    out.emplace(id, make(id, "redis_unreachable", "critical", "Redis unreachable from " + s.instance,
                         "Requests are refused (or admitted and spooled) until it is back.",
                         json::object{{"address", redis.options().address()}}, s.instance));
  }
  memory_alert(s, out);
  error_rate_alert(s, prev, out);
  return out;
}

// ---- deduplication ----

constexpr const char* kActiveIndex = "alerts:active";
std::string active_key(const std::string& id) { return std::string("alerts:active:") + id; }

Alert recovery_of(Alert a) {
  a.recovered = true;
  a.at = iso8601_utc();
  return a;
}

json::object alert_json(const Alert& a) {
  return json::object{{"id", a.id},       {"kind", a.kind},       {"severity", a.severity},
                      {"title", a.title}, {"message", a.message}, {"details", a.details},
                      {"at", a.at},       {"instance", a.instance}};
}

std::optional<Alert> alert_from(const std::string& text_json) {
  boost::system::error_code ec;
  auto v = json::parse(text_json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  Alert a{text(o, "id"), text(o, "kind"), text(o, "severity"), text(o, "title"), text(o, "message"),
          o.contains("details") && o.at("details").is_object() ? o.at("details").as_object() : json::object{},
          false, text(o, "at"), text(o, "instance")};
  return a;
}

// KEYS: the claim, the index. ARGV: the alert's id, its JSON, the claim's TTL (ms).
// Returns 1 when this call claimed it (its caller tells it), 0 when it was claimed already
// (its TTL is renewed). Claim and index change together.
const store::Script& claim_script() {
  static const store::Script s(R"LUA(
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then
  redis.call('SADD', KEYS[2], ARGV[1])
  return 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0
)LUA");
  return s;
}

// KEYS: the claim, the index. ARGV: the alert's id. Returns the claim's JSON (its caller tells
// the recovery) or nil; the claim and its index entry go together.
const store::Script& release_script() {
  static const store::Script s(R"LUA(
local raised = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return raised
)LUA");
  return s;
}

std::vector<std::string> claim_keys(const std::string& id) {
  return std::vector<std::string>{active_key(id), kActiveIndex};
}

std::vector<std::string> claim_args(const Alert& a, std::chrono::milliseconds ttl) {
  return std::vector<std::string>{a.id, json::serialize(alert_json(a)), std::to_string(ttl.count())};
}

// Raises what newly holds (the instance that claims it tells it), keeps the claims of what still
// holds, and tells the recovery of what no longer does (the release script gives the claim to
// exactly one instance).
Task<void> settle_shared(store::RedisClient& redis, const Alerts& now, std::chrono::milliseconds ttl,
                         AlertSender& sender) {
  for (const auto& [id, alert] : now) {
    auto call = claim_script().call(claim_keys(id), claim_args(alert, ttl));
    auto claimed = co_await store::run_script(redis, claim_script(), std::move(call));
    if (!claimed || claimed->is_error()) co_return;
    if (claimed->integer == 1) sender.send(alert);
  }
  auto active = co_await redis.command(store::make_command("SMEMBERS", kActiveIndex));
  if (!active || active->is_error()) co_return;
  for (const auto& e : active->elements) {
    if (now.count(e.str)) continue;
    auto call = release_script().call(claim_keys(e.str), std::vector<std::string>(1, e.str));
    auto got = co_await store::run_script(redis, release_script(), std::move(call));
    if (!got || got->type != store::RedisReply::Type::String) continue;
    if (auto raised = alert_from(got->str)) sender.send(recovery_of(*raised));
  }
}

void settle_local(const Alerts& now, Alerts& active, AlertSender& sender) {
  for (const auto& [id, alert] : now)
    if (!active.count(id)) sender.send(alert);
  for (const auto& [id, alert] : active)
    if (!now.count(id)) sender.send(recovery_of(alert));
  active = now;
}

void export_failures(const MonitorSettings& s, Previous& prev, AlertSender& sender) {
  uint64_t failed = metrics::exports_ended("failed");
  if (failed > prev.failed_exports) {
    uint64_t n = failed - prev.failed_exports;
    std::string id = fmt::format("export_failed:{}:{}", s.instance, failed);
    sender.send(make(id, "export_failed", "warning", fmt::format("{} export task(s) failed on {}", n, s.instance),
                     "See the api-export log and GET /admin/exports for the reason.",
                     json::object{{"failed", n}}, s.instance));
  }
  prev.failed_exports = failed;
}

}  // namespace

struct AlertMonitor::State : std::enable_shared_from_this<AlertMonitor::State> {
  State(asio::any_io_executor ex, store::RedisClient& r, const config::Config& c, MonitorSettings s, AlertSender& a)
      : redis(r), cfg(c), settings(std::move(s)), sender(a), timer(ex) {}
  store::RedisClient& redis;
  const config::Config& cfg;
  MonitorSettings settings;
  AlertSender& sender;
  asio::steady_timer timer;
  bool stopped = false;
  Alerts local_active;
  Previous previous;

  std::chrono::milliseconds claim_ttl() const {
    return std::max<std::chrono::milliseconds>(settings.interval * 10, std::chrono::minutes(5));
  }

  Task<void> round() {
    metrics::alert_check();
    settle_local(local_conditions(redis, settings, previous), local_active, sender);
    export_failures(settings, previous, sender);
    if (!redis.connected()) co_return;
    auto shared = co_await shared_conditions(redis, cfg, settings);
    if (!shared) {
      spdlog::warn("alerts: accounts not checked: {}", shared.error().message);
      co_return;
    }
    co_await settle_shared(redis, *shared, claim_ttl(), sender);
  }

  Task<void> loop() {
    auto self = shared_from_this();
    previous.messages = metrics::http_counts(metrics::Family::Messages);
    previous.failed_exports = metrics::exports_ended("failed");
    while (!stopped) {
      timer.expires_after(settings.interval);
      co_await timer.async_wait(use_nothrow);
      if (stopped) break;
      co_await round();
    }
  }
};

AlertMonitor::AlertMonitor(asio::any_io_executor executor, store::RedisClient& redis, const config::Config& cfg,
                           MonitorSettings settings, AlertSender& sender)
    : state_(std::make_shared<State>(executor, redis, cfg, std::move(settings), sender)) {}

AlertMonitor::~AlertMonitor() { stop(); }

void AlertMonitor::start() { asio::co_spawn(state_->timer.get_executor(), state_->loop(), asio::detached); }

void AlertMonitor::stop() {
  auto s = state_;
  asio::dispatch(s->timer.get_executor(), [s] {
    s->stopped = true;
    s->timer.cancel();
  });
}

}  // namespace crs::alerts

namespace crs::alerts {

Result<std::unique_ptr<Alerting>> Alerting::make(asio::any_io_executor executor, store::RedisClient& redis,
                                                 const config::Config& cfg, std::string instance) {
  auto settings = sender_settings(cfg);
  if (!settings) return settings.error();
  bool on = cfg.monitoring.enabled && cfg.monitoring.alerts.enabled && !settings->channels.empty();
  return std::unique_ptr<Alerting>(new Alerting(std::move(*settings), executor, redis, cfg,
                                                monitor_settings(cfg, std::move(instance)), on));
}

Alerting::Alerting(SenderSettings settings, asio::any_io_executor executor, store::RedisClient& redis,
                   const config::Config& cfg, MonitorSettings monitor, bool on)
    : sender_(std::move(settings)), monitor_(executor, redis, cfg, std::move(monitor), sender_), on_(on) {}

void Alerting::start() {
  if (!on_) return;
  sender_.start();
  monitor_.start();
}

void Alerting::stop() {
  monitor_.stop();
  sender_.stop();
}

void Alerting::stop_checking() { monitor_.stop(); }

void Alerting::finish_sending(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& cut) {
  if (on_) sender_.drain(deadline, cut);
  sender_.stop();
}

}  // namespace crs::alerts
