#include "stats/api_stats.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "accounts/account.hpp"
#include "admin/admin_http.hpp"
#include "core/time.hpp"
#include "http/responses.hpp"
#include "keys/key_fields.hpp"
#include "keys/key_store.hpp"
#include "usage/aggregator.hpp"
#include "usage/usage_reader.hpp"

namespace crs::stats {
namespace json = boost::json;
using admin::admin_data;
using admin::admin_error;
using admin::string_member;
using http_server::Exchange;
using DepsPtr = std::shared_ptr<StatsDeps>;

namespace {

store::RedisClient& redis_for(const StatsDeps& d, const Exchange& ex) { return *d.redis[ex.worker() % d.redis.size()]; }

keys::KeyStore key_store(const StatsDeps& d, const Exchange& ex) {
  return keys::KeyStore(redis_for(d, ex), d.cfg.security.encryptionKey, d.cfg.security.apiKeyPrefix);
}

double usd(int64_t micro) { return static_cast<double>(micro) / 1e6; }

http_server::Response disabled(const std::string& name) {
  json::object o{{"error", "API key is disabled"},
                 {"message", fmt::format("API key \"{}\" is disabled", name)},
                 {"keyName", name}};
  return http_server::json_response(http::status::forbidden, json::serialize(o));
}

// The bucket of a model-stats period: today, this month, or "" for all time.
std::string bucket_of(const std::string& period, int tz) {
  int64_t now = accounts::now_ms();
  if (period == "daily") return usage::day_bucket(now, tz);
  if (period == "monthly") return usage::month_bucket(now, tz);
  return {};
}

struct Found {
  keys::ApiKey key;
  bool by_secret = false;  // the holder showed the key itself, not only its id
};

// The key a request names, or nullopt after answering with the Node.js service's errors.
// `check_state`: refuse disabled and expired keys (403), as user-stats does.
Task<std::optional<Found>> find_key(Exchange& ex, const StatsDeps& deps, const json::object& body, bool allow_id,
                                    bool check_state) {
  std::string plaintext = string_member(body, "apiKey");
  std::string id = string_member(body, "apiId");
  std::optional<keys::ApiKey> key;
  bool by_secret = !plaintext.empty();
  auto store = key_store(deps, ex);
  if (by_secret) {
    if (plaintext.size() < 10 || plaintext.size() > 512) {
      co_await ex.send(admin_error(http::status::bad_request, "Invalid API key format", "the API key has a wrong length"));
      co_return std::nullopt;
    }
    auto found = co_await store.find_by_digest(store.digest(plaintext));
    if (!found) {
      co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", found.error().message));
      co_return std::nullopt;
    }
    if (!*found) {
      co_await ex.send(admin_error(http::status::unauthorized, "Invalid API key", "API key not found"));
      co_return std::nullopt;
    }
    key = std::move(*found);
  } else if (allow_id && !id.empty()) {
    if (!admin::is_uuid(id)) {
      co_await ex.send(admin_error(http::status::bad_request, "Invalid API ID format", "apiId must be a UUID"));
      co_return std::nullopt;
    }
    auto found = co_await store.get(id);
    if (!found) {
      co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", found.error().message));
      co_return std::nullopt;
    }
    if (!*found) {
      co_await ex.send(admin_error(http::status::not_found, "API key not found", "no API key with this id"));
      co_return std::nullopt;
    }
    key = std::move(*found);
  } else {
    std::string_view what = allow_id ? "apiKey or apiId is required" : "apiKey is required";
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request", what));
    co_return std::nullopt;
  }
  if (check_state && !key->enabled) {
    co_await ex.send(disabled(key->name));
    co_return std::nullopt;
  }
  if (check_state && !key->expires_at.empty() && key->expires_at <= iso8601_utc()) {
    co_await ex.send(admin_error(http::status::forbidden, "API key has expired",
                                 "this API key expired at " + key->expires_at));
    co_return std::nullopt;
  }
  co_return Found{std::move(*key), by_secret};
}

Task<void> get_key_id(Exchange& ex, DepsPtr deps) {
  auto body = co_await admin::read_json_object(ex);
  if (!body) co_return;
  auto found = co_await find_key(ex, *deps, *body, false, false);
  if (!found) co_return;
  json::object data;
  data["id"] = found->key.id;
  co_await ex.send(admin_data(std::move(data)));
}

json::value nullable_ms(int64_t ms) { return ms > 0 ? json::value(ms) : json::value(nullptr); }

json::object limits_json(const keys::ApiKey& k, const limits::Limits::Usage& u, int64_t live_leases, int64_t now_ms) {
  const auto& l = k.limits;
  json::object o{{"tokenLimit", 0},
                 {"totalTokenLimit", l.total_tokens},
                 {"concurrencyLimit", l.concurrency},
                 {"rateLimitWindow", l.rate_window_minutes},
                 {"rateLimitRequests", l.rate_requests},
                 {"rateLimitCost", usd(l.rate_cost_micro)},
                 {"dailyCostLimit", usd(l.daily_cost_micro)},
                 {"weeklyCostLimit", usd(l.weekly_cost_micro)},
                 {"totalCostLimit", usd(l.total_cost_micro)},
                 {"weeklyOpusCostLimit", 0},
                 {"weeklyResetDay", l.weekly_reset_day},
                 {"weeklyResetHour", l.weekly_reset_hour},
                 {"currentWindowRequests", u.window_requests},
                 {"currentWindowTokens", 0},
                 {"currentWindowCost", usd(u.window_cost_micro)},
                 {"currentDailyCost", usd(u.daily_cost_micro)},
                 {"currentWeeklyCost", usd(u.weekly_cost_micro)},
                 {"currentTotalCost", usd(u.total_cost_micro)},
                 {"currentTotalTokens", u.total_tokens},
                 {"currentConcurrency", live_leases},
                 {"weeklyOpusCost", 0},
                 {"windowStartTime", nullable_ms(u.window_start_ms)},
                 {"windowEndTime", nullable_ms(u.window_end_ms)},
                 {"windowRemainingSeconds",
                  u.window_end_ms > 0 ? json::value((u.window_end_ms - now_ms + 999) / 1000) : json::value(nullptr)}};
  return o;
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::string(s));
  return a;
}

json::object user_stats_json(const Found& f, const usage::UsageTotals& total, const limits::Limits::Usage& used,
                             int64_t live_leases, int64_t now_ms) {
  const auto& k = f.key;
  json::object usage_object;
  usage_object["total"] = usage::to_json(total);
  json::object o{{"id", k.id},
                 {"name", k.name},
                 {"isActive", k.enabled},
                 {"createdAt", k.created_at},
                 {"expiresAt", k.expires_at},
                 {"expirationMode", k.expiration_mode},
                 {"isActivated", !k.activated_at.empty()},
                 {"activationDays", k.activation_days},
                 {"activatedAt", k.activated_at},
                 {"permissions", strings(k.permissions)},
                 {"usage", std::move(usage_object)},
                 {"limits", limits_json(k, used, live_leases, now_ms)},
                 {"serviceRates", json::object()}};
  if (f.by_secret) {
    o["description"] = k.description;
    json::value bound = k.bound_account.empty() ? json::value(nullptr) : json::value(k.bound_account);
    o["accounts"] = json::object{{"claudeAccountId", bound}, {"geminiAccountId", nullptr},
                                 {"openaiAccountId", nullptr}, {"details", nullptr}};
    o["restrictions"] = json::object{{"enableModelRestriction", !k.denied_models.empty()},
                                     {"restrictedModels", strings(k.denied_models)},
                                     {"allowedModels", strings(k.allowed_models)},
                                     {"enableClientRestriction", !k.allowed_clients.empty()},
                                     {"allowedClients", strings(k.allowed_clients)}};
  }
  return o;
}

Task<void> user_stats(Exchange& ex, DepsPtr deps) {
  auto body = co_await admin::read_json_object(ex);
  if (!body) co_return;
  auto found = co_await find_key(ex, *deps, *body, true, true);
  if (!found) co_return;
  const std::string& id = found->key.id;
  int64_t now_ms = accounts::now_ms();
  // One round trip: all-time usage, the limit counters and the live concurrency leases.
  std::vector<store::RedisCommand> commands;
  commands.push_back(store::make_command("HGETALL", usage::all_time_key(usage::Subject::Key, id)));
  commands.push_back(store::make_command("HGETALL", limits::Limits::counters_key(id)));
  commands.push_back(store::make_command("ZCOUNT", limits::Limits::leases_key(id), std::to_string(now_ms), "+inf"));
  auto replies = co_await redis_for(*deps, ex).pipeline(std::move(commands));
  if (!replies) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", replies.error().message));
    co_return;
  }
  auto total = usage::totals_of(store::to_record((*replies)[0]), true);
  auto used = deps->limits.current(found->key, store::to_record((*replies)[1]), now_ms);
  int64_t leases = (*replies)[2].as_int().value_or(0);
  co_await ex.send(admin_data(user_stats_json(*found, total, used, leases, now_ms)));
}

json::object model_json(const std::string& model, const usage::UsageTotals& t) {
  json::object o = usage::to_json(t);
  o.emplace("model", model);
  return o;
}

Task<void> user_model_stats(Exchange& ex, DepsPtr deps) {
  auto body = co_await admin::read_json_object(ex);
  if (!body) co_return;
  std::string period = string_member(*body, "period");
  if (period.empty()) period = "monthly";
  if (period != "daily" && period != "monthly" && period != "alltime") {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request", "period: daily, monthly or alltime"));
    co_return;
  }
  auto found = co_await find_key(ex, *deps, *body, true, true);
  if (!found) co_return;
  const std::string& id = found->key.id;
  auto& redis = redis_for(*deps, ex);
  auto models = co_await redis.command(store::make_command("SMEMBERS", usage::key_models_index(id)));
  if (!models || models->is_error()) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", "Redis is not reachable"));
    co_return;
  }
  std::string bucket = bucket_of(period, deps->cfg.usage.timezoneOffset);
  std::vector<std::string> names, hashes;
  for (const auto& m : models->elements) {
    names.push_back(m.str);
    hashes.push_back(usage::key_model_key(id, m.str, period, bucket));
  }
  auto totals = co_await usage::read_totals(deps->queries, redis, hashes, false, "stats.models");
  if (!totals) {
    co_await ex.send(admin::read_failure(totals.error()));
    co_return;
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < names.size(); ++i)
    if ((*totals)[i].requests || (*totals)[i].all) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*totals)[a].all > (*totals)[b].all; });
  json::array list;
  for (size_t i : order) list.push_back(model_json(names[i], (*totals)[i]));
  json::object o;
  o["success"] = true;
  o["data"] = std::move(list);
  o["period"] = period;
  co_await ex.send(http_server::json_response(http::status::ok, json::serialize(o)));
}

}  // namespace

void register_api_stats_routes(http_server::Router& router, std::shared_ptr<StatsDeps> deps) {
  // Bodies of a key or an id: refused past a few KiB before they are parsed.
  http_server::BodyRule small{http_server::kSmallBodyLimit};
  router.add(http::verb::post, "/apiStats/api/get-key-id", [deps](Exchange& ex) { return get_key_id(ex, deps); },
             small);
  router.add(http::verb::post, "/apiStats/api/user-stats", [deps](Exchange& ex) { return user_stats(ex, deps); },
             small);
  router.add(http::verb::post, "/apiStats/api/user-model-stats",
             [deps](Exchange& ex) { return user_model_stats(ex, deps); }, small);
}

}  // namespace crs::stats
