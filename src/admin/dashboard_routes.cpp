// What the console's dashboard reads (the Node.js service's field names where they exist):
//   GET /admin/dashboard     keys, accounts by state and platform, requests/tokens/cost today
//                            and in total, rates, requests in flight, errors, and each
//                            account's state at a glance
//   GET /admin/usage-trend?granularity=day|hour&days=N[&hours=N]
//                            the whole relay's usage per day (N <= 366, default 7) or per hour
//                            (the last `hours`, default 24, or days*24; at most 168: hourly
//                            buckets are kept 7 days)
// Everything goes through the query optimizer. The key summary and the trend are cached
// (query_cache.hpp); accounts, in-flight counts and today's totals are read live: they move
// with every request.
#include <fmt/format.h>

#include "accounts/account_store.hpp"
#include "admin/admin_http.hpp"
#include "core/time.hpp"
#include "health/view.hpp"
#include "keys/key_store.hpp"
#include "scheduler/status.hpp"
#include "store/keyspace.hpp"
#include "usage/aggregator.hpp"
#include "usage/usage_reader.hpp"

namespace crs::admin {
namespace json = boost::json;
using http_server::Exchange;

namespace {

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;

std::string iso_at(int64_t ms) {
  return iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

// ---- keys: a cached summary, exact at any moment within its TTL ----

// Enabled keys unexpired when the summary was made, and the expiries of those that expire
// within the cache's TTL: the count of active keys is then exact whenever the summary is read.
json::object key_summary(const std::vector<keys::ApiKey>& all, int64_t now_ms, int64_t ttl_ms) {
  std::string now = iso_at(now_ms), horizon = iso_at(now_ms + ttl_ms);
  int64_t enabled = 0;
  json::array soon;
  for (const auto& k : all) {
    if (!k.enabled || (!k.expires_at.empty() && k.expires_at <= now)) continue;
    ++enabled;
    if (!k.expires_at.empty() && k.expires_at <= horizon) soon.emplace_back(k.expires_at);
  }
  return json::object{{"total", static_cast<int64_t>(all.size())}, {"enabled", enabled}, {"expiringSoon", soon}};
}

int64_t active_keys(const json::object& summary, const std::string& now_iso) {
  int64_t active = summary.at("enabled").as_int64();
  for (const auto& e : summary.at("expiringSoon").as_array())
    if (std::string_view(e.as_string()) <= now_iso) --active;
  return active;
}

Task<Result<json::value>> compute_key_summary(const AdminDeps& deps, store::RedisClient& redis) {
  keys::KeyStore store(redis, deps.cfg.security.encryptionKey, deps.cfg.security.apiKeyPrefix);
  auto all = co_await store.list(deps.queries);
  if (!all) co_return all.error();
  int64_t ttl_ms = int64_t{deps.cfg.queryOptimizer.cache.ttl} * 1000;
  co_return json::value(key_summary(*all, accounts::now_ms(), ttl_ms));
}

ComputeData key_summary_computation(const AdminDeps& deps, store::RedisClient& redis) {
  return [&deps, &redis] { return compute_key_summary(deps, redis); };
}

Task<Result<json::object>> cached_key_summary(const AdminDeps& deps, store::RedisClient& redis) {
  ComputeData compute = key_summary_computation(deps, redis);
  auto got = co_await cached(deps, redis, "dashboard.keys", std::vector<std::string>(1, "keys"), compute);
  if (!got) co_return got.error();
  co_return json::parse(got->value).as_object();
}

// ---- usage: today's, this hour's and all-time totals, live ----

struct LiveUsage {
  int64_t created_today = 0;
  usage::UsageTotals total, today, hour;
};

std::vector<store::RedisCommand> live_reads(int64_t now_ms, int tz) {
  // Local midnight in ms: the day bucket's start (tz offsets are whole hours).
  int64_t local = now_ms + int64_t{tz} * kHourMs;
  int64_t midnight = local - local % kDayMs - int64_t{tz} * kHourMs;
  std::vector<store::RedisCommand> cmds;
  cmds.push_back(store::make_command("ZCOUNT", std::string(store::keyspace::kApiKeysByCreation),
                                     std::to_string(midnight), "+inf"));
  cmds.push_back(store::make_command("HGETALL", usage::all_time_key(usage::Subject::Global, "")));
  cmds.push_back(store::make_command(
      "HGETALL", usage::bucket_key(usage::Subject::Global, "", usage::Granularity::Day, usage::day_bucket(now_ms, tz))));
  cmds.push_back(store::make_command(
      "HGETALL", usage::bucket_key(usage::Subject::Global, "", usage::Granularity::Hour, usage::hour_bucket(now_ms, tz))));
  return cmds;
}

Task<Result<LiveUsage>> live_usage(const AdminDeps& deps, store::RedisClient& redis, int64_t now_ms) {
  auto replies = co_await deps.queries.run(redis, "dashboard.usage", live_reads(now_ms, deps.cfg.usage.timezoneOffset));
  if (!replies) co_return replies.error();
  for (const auto& r : *replies)
    if (r.is_error()) co_return Error{"redis: " + r.str};
  LiveUsage u;
  u.created_today = (*replies)[0].integer;
  u.total = usage::totals_of(store::to_record((*replies)[1]), true);
  u.today = usage::totals_of(store::to_record((*replies)[2]), false);
  u.hour = usage::totals_of(store::to_record((*replies)[3]), false);
  co_return u;
}

// ---- accounts: live, from the load balancer's view with health ----

std::string platform_of(std::string_view type) { return type == accounts::kClaudeOauth ? "claude" : std::string(type); }

std::string_view member_string(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// "abnormal" (needs an admin or disabled), "paused", "rateLimited" or "normal", as the Node.js
// dashboard counts them.
std::string account_condition(const json::object& a) {
  auto status = member_string(a, "status");
  if (status == accounts::kStatusUnauthorized || status == accounts::kStatusBlocked || status == accounts::kStatusError)
    return "abnormal";
  if (!a.at("schedulable").as_bool()) return "paused";
  if (status == accounts::kStatusRateLimited || status == accounts::kStatusOverloaded) return "rateLimited";
  return "normal";
}

struct AccountCounts {
  json::object by_platform;
  std::map<std::string, int64_t> totals;  // total, normal, abnormal, paused, rateLimited
  int64_t in_flight = 0;
  int64_t errors = 0;
  json::object errors_by_class;
  json::array glance;
};

void count_errors(const json::object& health, AccountCounts& c) {
  const auto* totals = health.if_contains("totals");
  if (!totals || !totals->is_object()) return;
  for (const auto& [name, value] : totals->as_object()) {
    if (name == "requests" || name == "successes" || name == "client" || !value.is_int64()) continue;
    c.errors += value.as_int64();
    auto& slot = c.errors_by_class[name];
    slot = (slot.is_int64() ? slot.as_int64() : 0) + value.as_int64();
  }
}

json::object glance_of(const json::object& a) {
  const auto& health = a.at("health").as_object();
  json::object o;
  for (const char* name : {"id", "name", "type", "status", "schedulable", "inFlight", "maxConcurrency",
                           "utilization5h", "utilization7d"})
    if (const auto* v = a.if_contains(name)) o[name] = *v;
  o["health"] = health.at("class");
  o["circuit"] = health.at("circuit").as_object().at("state");
  o["condition"] = account_condition(a);
  return o;
}

AccountCounts count_accounts(const json::array& accounts) {
  AccountCounts c;
  for (const auto& v : accounts) {
    const auto& a = v.as_object();
    std::string condition = account_condition(a);
    auto& platform = c.by_platform[platform_of(member_string(a, "type"))];
    if (!platform.is_object()) platform = json::object{{"total", 0}, {"normal", 0}, {"abnormal", 0}, {"paused", 0}, {"rateLimited", 0}};
    auto& p = platform.as_object();
    p["total"] = p["total"].as_int64() + 1;
    p[condition] = p[condition].as_int64() + 1;
    ++c.totals["total"];
    ++c.totals[condition];
    if (a.at("inFlight").is_int64()) c.in_flight += a.at("inFlight").as_int64();
    count_errors(a.at("health").as_object(), c);
    c.glance.push_back(glance_of(a));
  }
  return c;
}

// ---- the answer ----

struct Rates {
  double rpm = 0, tpm = 0, window_minutes = 1;
};

Rates rates(const usage::UsageTotals& t, double minutes) {
  minutes = std::max(1.0, minutes);
  return Rates{t.requests / minutes, t.all / minutes, minutes};
}

double rounded(double v) { return std::round(v * 100) / 100; }

json::object overview(const json::object& keys, const std::string& now_iso, const AccountCounts& a, const LiveUsage& u) {
  auto total = [&](const char* n) { return a.totals.count(n) ? a.totals.at(n) : 0; };
  json::object o{{"totalApiKeys", keys.at("total")},
                 {"activeApiKeys", active_keys(keys, now_iso)},
                 {"totalAccounts", total("total")},
                 {"normalAccounts", total("normal")},
                 {"abnormalAccounts", total("abnormal")},
                 {"pausedAccounts", total("paused")},
                 {"rateLimitedAccounts", total("rateLimited")},
                 {"activeAccounts", total("normal")},
                 {"accountsByPlatform", a.by_platform},
                 {"totalRequestsUsed", u.total.requests},
                 {"totalInputTokensUsed", u.total.input},
                 {"totalOutputTokensUsed", u.total.output},
                 {"totalCacheCreateTokensUsed", u.total.cache_create},
                 {"totalCacheReadTokensUsed", u.total.cache_read},
                 {"totalAllTokensUsed", u.total.all},
                 {"totalTokensUsed", u.total.all},
                 {"totalCost", static_cast<double>(u.total.cost_micro) / 1e6},
                 {"totalCostMicroUsd", u.total.cost_micro}};
  return o;
}

json::object recent_activity(const LiveUsage& u) {
  return json::object{{"apiKeysCreatedToday", u.created_today},
                      {"requestsToday", u.today.requests},
                      {"tokensToday", u.today.input + u.today.output},
                      {"inputTokensToday", u.today.input},
                      {"outputTokensToday", u.today.output},
                      {"cacheCreateTokensToday", u.today.cache_create},
                      {"cacheReadTokensToday", u.today.cache_read},
                      {"allTokensToday", u.today.all},
                      {"costToday", static_cast<double>(u.today.cost_micro) / 1e6},
                      {"costMicroUsdToday", u.today.cost_micro}};
}

json::object dashboard_view(const AdminDeps& deps, const json::object& keys, const json::object& balancer,
                            const LiveUsage& u, int64_t now_ms) {
  int tz = deps.cfg.usage.timezoneOffset;
  int64_t local = now_ms + int64_t{tz} * kHourMs;
  auto day = rates(u.today, static_cast<double>(local % kDayMs) / 60000.0);
  auto hour = rates(u.hour, static_cast<double>(local % kHourMs) / 60000.0);
  auto counts = count_accounts(balancer.at("accounts").as_array());
  double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - deps.started).count();
  json::object data;
  data["overview"] = overview(keys, iso_at(now_ms), counts, u);
  data["recentActivity"] = recent_activity(u);
  data["systemAverages"] = json::object{{"rpm", rounded(day.rpm)}, {"tpm", rounded(day.tpm)}};
  data["realtimeMetrics"] = json::object{{"rpm", rounded(hour.rpm)}, {"tpm", rounded(hour.tpm)},
                                         {"windowMinutes", static_cast<int64_t>(hour.window_minutes)},
                                         {"isHistorical", false}};
  data["systemHealth"] = json::object{{"redisConnected", true},
                                      {"claudeAccountsHealthy", counts.totals["abnormal"] == 0},
                                      {"uptime", static_cast<int64_t>(uptime)}};
  data["systemTimezone"] = tz;
  data["inFlight"] = counts.in_flight;  // accounts with a concurrency cap share theirs
  data["errors"] = json::object{{"total", counts.errors}, {"byClass", counts.errors_by_class}};
  data["loadBalancing"] = balancer.at("strategy");
  data["accounts"] = std::move(counts.glance);
  return data;
}

Task<void> dashboard(Exchange& ex, AdminDepsPtr deps) {
  auto& redis = deps->redis_for(ex);
  int64_t now = accounts::now_ms();
  auto keys = co_await cached_key_summary(*deps, redis);
  if (!keys) {
    co_await ex.send(read_failure(keys.error()));
    co_return;
  }
  auto usage = co_await live_usage(*deps, redis, now);
  if (!usage) {
    co_await ex.send(read_failure(usage.error()));
    co_return;
  }
  accounts::AccountStore store(redis, deps->cfg.security.encryptionKey);
  auto all = co_await store.list();
  Result<json::object> balancer = Error{"no accounts"};
  if (all) {
    balancer = co_await health::balancer_status(redis, std::move(*all), deps->balancer());
  } else {
    balancer = all.error();
  }
  if (!balancer) {
    co_await ex.send(read_failure(balancer.error()));
    co_return;
  }
  co_await ex.send(admin_data(dashboard_view(*deps, *keys, *balancer, *usage, now)));
}

// ---- the trend ----

struct Trend {
  bool hourly = false;
  std::vector<std::string> buckets;  // "2026-12-04" or "2026-12-04:05"
  std::vector<int64_t> starts_ms;    // hours: each bucket's start
};

Result<int64_t> count_param(std::map<std::string, std::string>& q, const char* name, int64_t fallback, int64_t max) {
  if (!q.count(name)) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(q[name].c_str(), &end, 10);
  if (q[name].empty() || *end || v < 1 || v > max) return Error{fmt::format("{}: a number from 1 to {}", name, max)};
  return v;
}

Result<Trend> trend_of(std::string_view query, int tz, int64_t now_ms) {
  auto q = query_params(query);
  std::string granularity = q.count("granularity") ? q["granularity"] : "day";
  Trend t;
  if (granularity == "day") {
    auto days = count_param(q, "days", 7, 366);
    if (!days) return days.error();
    for (int64_t k = *days - 1; k >= 0; --k) t.buckets.push_back(usage::day_bucket(now_ms - k * kDayMs, tz));
    return t;
  }
  if (granularity != "hour") return Error{"granularity: day or hour"};
  t.hourly = true;
  auto days = count_param(q, "days", 1, 7);
  if (!days) return days.error();
  auto hours = count_param(q, "hours", *days * 24, 168);
  if (!hours) return hours.error();
  int64_t this_hour = now_ms - now_ms % kHourMs;
  for (int64_t k = *hours - 1; k >= 0; --k) {
    t.buckets.push_back(usage::hour_bucket(this_hour - k * kHourMs, tz));
    t.starts_ms.push_back(this_hour - k * kHourMs);
  }
  return t;
}

json::object trend_point(const Trend& t, size_t i, const usage::UsageTotals& u) {
  json::object o;
  const std::string& b = t.buckets[i];
  if (t.hourly) {
    o["hour"] = iso_at(t.starts_ms[i]);
    o["label"] = fmt::format("{}/{} {}:00", b.substr(5, 2), b.substr(8, 2), b.substr(11, 2));
  } else {
    o["date"] = b;
    o["label"] = fmt::format("{}/{}", b.substr(5, 2), b.substr(8, 2));
  }
  o["requests"] = u.requests;
  o["inputTokens"] = u.input;
  o["outputTokens"] = u.output;
  o["cacheCreateTokens"] = u.cache_create;
  o["cacheReadTokens"] = u.cache_read;
  o["totalTokens"] = u.all;
  o["cost"] = static_cast<double>(u.cost_micro) / 1e6;
  o["costMicroUsd"] = u.cost_micro;
  o["formattedCost"] = fmt::format("${}.{:06}", u.cost_micro / 1000000, u.cost_micro % 1000000);
  return o;
}

Task<Result<json::value>> compute_trend(const AdminDeps& deps, store::RedisClient& redis, Trend t) {
  auto g = t.hourly ? usage::Granularity::Hour : usage::Granularity::Day;
  std::vector<std::string> hashes;
  for (const auto& b : t.buckets) hashes.push_back(usage::bucket_key(usage::Subject::Global, "", g, b));
  auto totals = co_await usage::read_totals(deps.queries, redis, hashes, false, "usage.trend");
  if (!totals) co_return totals.error();
  json::array points;
  for (size_t i = 0; i < t.buckets.size(); ++i) points.push_back(trend_point(t, i, (*totals)[i]));
  co_return json::value(std::move(points));
}

ComputeData trend_computation(AdminDepsPtr deps, store::RedisClient* redis, Trend t) {
  return [deps, redis, t] { return compute_trend(*deps, *redis, t); };
}

std::string trend_cache_name(const Trend& t) {
  return fmt::format("usage.trend\n{}\n{}\n{}", t.hourly, t.buckets.front(), t.buckets.size());
}

std::vector<std::string> usage_only() { return std::vector<std::string>(1, "usage"); }

// The Node.js service answers {success, data: [...], granularity}.
std::string granularity_member(const Trend& t) {
  return fmt::format(R"("granularity":"{}")", t.hourly ? "hour" : "day");
}

Task<void> usage_trend(Exchange& ex, AdminDepsPtr deps) {
  auto trend = trend_of(ex.query(), deps->cfg.usage.timezoneOffset, accounts::now_ms());
  if (!trend) {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request", trend.error().message));
    co_return;
  }
  ComputeData compute = trend_computation(deps, &deps->redis_for(ex), *trend);
  co_await send_cached(ex, *deps, trend_cache_name(*trend), usage_only(), compute, read_failure,
                       granularity_member(*trend));
}

}  // namespace

void register_dashboard_routes(http_server::Router& router, AdminDepsPtr deps) {
  add_admin_route(router, http::verb::get, "/admin/dashboard", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return dashboard(ex, deps); });
  add_admin_route(router, http::verb::get, "/admin/usage-trend", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return usage_trend(ex, deps); });
}

}  // namespace crs::admin
