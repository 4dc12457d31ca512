#include "relay/health_check.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "accounts/account_store.hpp"
#include "health/stats.hpp"
#include "health/view.hpp"
#include "relay/account_health.hpp"
#include "core/logging.hpp"
#include "scheduler/selection.hpp"
#include "store/hash_record.hpp"

namespace crs::relay {
namespace json = boost::json;
namespace {

constexpr auto kProbeTimeout = std::chrono::milliseconds(30000);

std::chrono::milliseconds probe_timeout(const config::Config& c) {
  return std::min(kProbeTimeout, std::chrono::milliseconds(c.relay.connectTimeout + c.relay.firstByteTimeout));
}

health::Attempt attempt_of(const ProbeResult& result) {
  health::Attempt a;
  a.at_ms = accounts::now_ms();
  a.outcome = result.outcome;
  a.status = result.status;
  a.ttfb_ms = result.status ? result.ms : -1;
  if (result.ok) a.total_ms = result.ms;
  else a.message = "probe: " + result.verdict.reason;
  return a;
}

// The stats commands of one probe.
std::vector<store::RedisCommand> probe_record(const std::string& account_id, const ProbeResult& result) {
  health::HealthBook::Pending pending;
  pending.account_id = account_id;
  pending.add(attempt_of(result));
  return health::record_commands(pending);
}

// A resting state whose time has passed (rate limit, error) ends with a good answer.
bool rest_is_over(const accounts::Account& a, int64_t now) {
  return a.status != accounts::kStatusActive && !a.needs_admin() && a.unavailable_until_ms <= now;
}

scheduler::Utilization utilization_of(const Result<store::RedisReply>& reply) {
  if (!reply || reply->is_nil()) return {};
  return scheduler::Utilization::decode(reply->str);
}

json::value fraction_or_null(double v) { return v < 0 ? json::value(nullptr) : json::value(v); }

json::object probe_view(const ProbeResult& p) {
  return json::object{{"ok", p.ok},
                      {"outcome", health::outcome_name(p.outcome)},
                      {"status", p.status},
                      {"ms", static_cast<int64_t>(p.ms)},
                      {"reason", p.ok ? std::string() : p.verdict.reason}};
}

json::object check_view(const accounts::Account& a, json::object& health, const scheduler::Utilization& u,
                        const ProbeResult& probe) {
  int64_t now = accounts::now_ms();
  const auto& circuit = health["circuit"].as_object();
  const auto& window = health["window"].as_object();
  std::string health_class(health["class"].as_string());
  bool failing = health_class == "unhealthy" || a.needs_admin();
  return json::object{{"id", a.id},
                      {"name", a.name},
                      {"type", a.type},
                      {"status", a.status},
                      {"statusReason", a.status_reason},
                      {"class", health_class},
                      {"reasons", health["reasons"]},
                      {"circuit", circuit.at("state")},
                      {"nextTryAt", circuit.at("nextTryAt")},
                      {"ttfbP95Ms", window.at("ttfbP95Ms")},
                      {"successRate", window.at("successRate")},
                      {"utilization5h", fraction_or_null(u.five_hour_at(now))},
                      {"utilization7d", fraction_or_null(u.seven_day_at(now))},
                      {"lastError", health["lastError"]},
                      {"probe", probe_view(probe)},
                      {"failing", failing}};
}

}  // namespace

Task<ProbeResult> probe_and_apply(adapters::AdapterContext& context, accounts::Account account) {
  auto result = co_await probe_account(context, account, probe_timeout(context.config));
  auto& redis = context.redis;
  if (auto written = co_await redis.pipeline(probe_record(account.id, result)); !written)
    spdlog::debug("probe of account {} not recorded: {}", account.id, written.error().message);
  int64_t now = accounts::now_ms();
  if (result.ok) {
    if (rest_is_over(account, now)) {
      accounts::AccountStore store(redis, context.config.security.encryptionKey);
      if (co_await store.clear_state(account.id)) {
        context.accounts.set_status(account.id, std::string(accounts::kStatusActive), 0, "");
        load_balancing_log().info("account {} ({}) is active again: its probe succeeded after its rest", account.id,
                                  account.name);
      }
    }
    co_return result;
  }
  co_await apply_announced_state(context.accounts, redis, context.config, account, result.verdict);
  co_return result;
}

Task<Result<json::object>> health_check(adapters::AdapterContext& context, accounts::Account account) {
  auto probe = co_await probe_and_apply(context, account);
  accounts::AccountStore store(context.redis, context.config.security.encryptionKey);
  auto now_stored = co_await store.get(account.id);
  if (now_stored && *now_stored) account = std::move(**now_stored);
  std::vector<std::string> ids;
  ids.push_back(account.id);
  auto views = co_await health::health_views(context.redis, std::move(ids));
  if (!views) co_return views.error();
  auto used = co_await context.redis.command(
      store::make_command("HGET", std::string(scheduler::kUtilizationKey), account.id));
  auto u = utilization_of(used);
  co_return check_view(account, (*views)[account.id], u, probe);
}

}  // namespace crs::relay
