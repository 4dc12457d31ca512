// GET /admin/usage/...: what keys, accounts and models used, per hour, day or month over a
// date range (in usage.timezoneOffset), with the range's sum and the all-time totals.
//   /admin/usage/summary            everything
//   /admin/usage/keys/:keyId        one key, with its models over the range
//   /admin/usage/accounts/:accountId
//   /admin/usage/models             every model over the range
//   /admin/usage/models/:model
// Query: granularity=hour|day|month (day), from, to (YYYY-MM-DD; months also YYYY-MM).
// Defaults: the last 7 days; today for hours; the last 12 months for months.
//   /admin/usage/attempts?requestId=ID   the upstream attempts of a request that failed over
//                                        (relay/attempt_log.hpp)
#include <fmt/format.h>

#include "accounts/account.hpp"
#include "admin/admin_http.hpp"
#include "store/keyspace.hpp"
#include "usage/aggregator.hpp"
#include "usage/usage_reader.hpp"

namespace crs::admin {
namespace json = boost::json;
using http_server::Exchange;
using usage::Granularity;
using usage::Subject;

namespace {

constexpr size_t kMaxBuckets = 800;   // a month of hours, two years of days
constexpr size_t kMaxModels = 200;
constexpr size_t kMaxModelReads = 20000;  // models x periods in one report

struct Range {
  Granularity granularity = Granularity::Day;
  std::string name = "day";
  std::string from, to;
  std::vector<std::string> periods;
};

Result<Range> range_of(std::string_view query, int tz) {
  auto q = query_params(query);
  Range r;
  if (q.count("granularity")) r.name = q["granularity"];
  if (r.name == "hour") r.granularity = Granularity::Hour;
  else if (r.name == "month") r.granularity = Granularity::Month;
  else if (r.name != "day") return Error{"granularity: hour, day or month"};
  int64_t now = accounts::now_ms();
  int64_t day_ms = 86400000;
  r.to = q.count("to") ? q["to"] : usage::day_bucket(now, tz);
  if (q.count("from")) {
    r.from = q["from"];
  } else if (r.granularity == Granularity::Hour) {
    r.from = r.to;
  } else if (r.granularity == Granularity::Day) {
    r.from = usage::day_bucket(now - 6 * day_ms, tz);
  } else {
    r.from = usage::month_bucket(now - 334 * day_ms, tz);
  }
  auto periods = usage::periods(r.granularity, r.from, r.to, kMaxBuckets);
  if (!periods) return periods.error();
  r.periods = std::move(*periods);
  return r;
}

const char* subject_name(Subject s) {
  switch (s) {
    case Subject::Key: return "key";
    case Subject::Account: return "account";
    case Subject::Model: return "model";
    case Subject::Global: return "all";
  }
  return "all";
}

std::string kind_of(Granularity g) { return g == Granularity::Month ? "monthly" : "daily"; }

// Model breakdowns exist per day and per month; hours use the days they fall in.
std::vector<std::string> model_periods(const Range& r) {
  if (r.granularity != Granularity::Hour) return r.periods;
  std::vector<std::string> days;
  for (const auto& p : r.periods) {
    std::string day = p.substr(0, 10);
    if (days.empty() || days.back() != day) days.push_back(day);
  }
  return days;
}

json::object bucket_json(const std::string& period, const usage::UsageTotals& t) {
  json::object o = usage::to_json(t);
  o.emplace("period", period);
  return o;
}

json::object report(const Range& r, int tz, std::string_view subject, const std::string& id,
                    const std::vector<usage::UsageTotals>& buckets, const usage::UsageTotals& all_time) {
  json::array list;
  usage::UsageTotals sum;
  for (size_t i = 0; i < r.periods.size(); ++i) {
    sum.add(buckets[i]);
    if (buckets[i].requests || buckets[i].all || buckets[i].cost_micro) list.push_back(bucket_json(r.periods[i], buckets[i]));
  }
  json::object o{{"subject", subject},     {"granularity", r.name}, {"from", r.from},
                 {"to", r.to},             {"timezoneOffset", tz},  {"buckets", std::move(list)},
                 {"range", usage::to_json(sum)}, {"allTime", usage::to_json(all_time)}};
  if (!id.empty()) o["id"] = id;
  return o;
}

// The hash of a model's usage in one period: of one key, or of the whole relay.
std::string model_hash(const std::string& key_id, const std::string& model, const Range& r, const std::string& period) {
  if (!key_id.empty()) return usage::key_model_key(key_id, model, kind_of(r.granularity), period);
  Granularity g = r.granularity == Granularity::Month ? Granularity::Month : Granularity::Day;
  return usage::bucket_key(Subject::Model, model, g, period);
}

std::string route_param(const Exchange& ex, const std::string& name) {
  return name.empty() ? std::string() : ex.params().at(name);
}

constexpr std::string_view kTooLong = "the range is too long for a breakdown by model; ask for a shorter one";

http_server::Response model_sums_error(const Error& e) {
  if (e.message == kTooLong) return admin_error(http::status::bad_request, "Invalid request", e.message);
  return read_failure(e);
}

// Sums per model over the range: one HGETALL per model and period, through the optimizer.
Task<Result<json::array>> model_sums(const query::QueryRunner& queries, store::RedisClient& redis,
                                     std::vector<std::string> models, const Range& r, std::string key_id) {
  std::sort(models.begin(), models.end());
  if (models.size() > kMaxModels) models.resize(kMaxModels);
  auto periods = model_periods(r);
  if (models.size() * periods.size() > kMaxModelReads)
    co_return Error{std::string(kTooLong)};
  std::vector<std::string> hashes;
  for (const auto& m : models)
    for (const auto& p : periods) hashes.push_back(model_hash(key_id, m, r, p));
  auto totals = co_await usage::read_totals(queries, redis, hashes, false, "usage.models");
  if (!totals) co_return totals.error();
  json::array out;
  for (size_t i = 0; i < models.size(); ++i) {
    usage::UsageTotals sum;
    for (size_t j = 0; j < periods.size(); ++j) sum.add((*totals)[i * periods.size() + j]);
    if (!sum.requests && !sum.all) continue;
    json::object o = usage::to_json(sum);
    o.emplace("model", models[i]);
    out.push_back(std::move(o));
  }
  co_return out;
}

Task<Result<std::vector<std::string>>> members(store::RedisClient& redis, std::string set) {
  auto reply = co_await redis.command(store::make_command("SMEMBERS", std::move(set)));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{reply->str};
  std::vector<std::string> out;
  for (const auto& e : reply->elements) out.push_back(e.str);
  co_return out;
}

// The report of one subject over the range, with its all-time totals (and a key's models).
Task<Result<json::value>> compute_report(const AdminDeps& deps, store::RedisClient& redis, Subject subject,
                                         std::string id, Range range) {
  int tz = deps.cfg.usage.timezoneOffset;
  std::vector<std::string> hashes;
  for (const auto& p : range.periods) hashes.push_back(usage::bucket_key(subject, id, range.granularity, p));
  auto totals = co_await usage::read_totals(deps.queries, redis, hashes, false, "usage.report");
  if (!totals) co_return totals.error();
  // All-time hashes of keys, accounts and the whole relay use the Node.js service's total* names.
  std::vector<std::string> all_time_hash(1, usage::all_time_key(subject, id));
  auto all_time = co_await usage::read_totals(deps.queries, redis, all_time_hash, subject != Subject::Model,
                                              "usage.all_time");
  if (!all_time) co_return all_time.error();
  json::object data = report(range, tz, subject_name(subject), id, *totals, all_time->front());
  if (subject == Subject::Key) {
    auto models = co_await members(redis, usage::key_models_index(id));
    if (!models) co_return models.error();
    auto sums = co_await model_sums(deps.queries, redis, std::move(*models), range, id);
    if (!sums) co_return sums.error();
    data["models"] = std::move(*sums);
  }
  co_return json::value(std::move(data));
}

std::string report_cache_name(Subject subject, const std::string& id, const Range& r, int tz) {
  return fmt::format("usage.report\n{}\n{}\n{}\n{}\n{}\n{}", subject_name(subject), id, r.name, r.from, r.to, tz);
}

std::vector<std::string> usage_only() { return std::vector<std::string>(1, "usage"); }

ComputeData report_computation(AdminDepsPtr deps, store::RedisClient* redis, Subject subject, std::string id, Range r) {
  return [deps, redis, subject, id, r] { return compute_report(*deps, *redis, subject, id, r); };
}

Task<void> usage_report(Exchange& ex, AdminDepsPtr deps, Subject subject, std::string param) {
  int tz = deps->cfg.usage.timezoneOffset;
  auto range = range_of(ex.query(), tz);
  if (!range) {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request", range.error().message));
    co_return;
  }
  std::string id = route_param(ex, param);
  if (subject == Subject::Key && !is_uuid(id)) {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request", "keyId: not a key id"));
    co_return;
  }
  ComputeData compute = report_computation(deps, &deps->redis_for(ex), subject, id, *range);
  co_await send_cached(ex, *deps, report_cache_name(subject, id, *range, tz), usage_only(), compute,
                       model_sums_error);
}

Task<Result<json::value>> compute_models_report(const AdminDeps& deps, store::RedisClient& redis, Range range) {
  auto models = co_await members(redis, usage::kModelsIndex);
  if (!models) co_return models.error();
  auto sums = co_await model_sums(deps.queries, redis, std::move(*models), range, "");
  if (!sums) co_return sums.error();
  json::object data;
  data["granularity"] = range.name;
  data["from"] = range.from;
  data["to"] = range.to;
  data["timezoneOffset"] = deps.cfg.usage.timezoneOffset;
  data["models"] = std::move(*sums);
  co_return json::value(std::move(data));
}

ComputeData models_computation(AdminDepsPtr deps, store::RedisClient* redis, Range r) {
  return [deps, redis, r] { return compute_models_report(*deps, *redis, r); };
}

Task<void> models_report(Exchange& ex, AdminDepsPtr deps) {
  int tz = deps->cfg.usage.timezoneOffset;
  auto range = range_of(ex.query(), tz);
  if (!range) {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request", range.error().message));
    co_return;
  }
  ComputeData compute = models_computation(deps, &deps->redis_for(ex), *range);
  co_await send_cached(ex, *deps, "usage.models\n" + report_cache_name(Subject::Model, "", *range, tz), usage_only(),
                       compute, model_sums_error);
}

// A request id as the relay makes them: letters, digits, '-' and '_', at most 100.
bool is_request_id(std::string_view id) {
  if (id.empty() || id.size() > 100) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

json::object attempts_view(const std::string& request_id, const store::RedisReply& reply) {
  json::array list;
  for (const auto& e : reply.elements) {
    boost::system::error_code ec;
    auto v = json::parse(e.str, ec);
    if (!ec && v.is_object()) list.push_back(std::move(v));
  }
  return json::object{{"requestId", request_id}, {"attempts", std::move(list)}};
}

Task<void> attempts_report(Exchange& ex, AdminDepsPtr deps) {
  auto q = query_params(ex.query());
  std::string id = q["requestId"];
  if (!is_request_id(id)) {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request", "requestId is required (letters, digits, - and _)"));
    co_return;
  }
  auto reply = co_await deps->redis_for(ex).command(
      store::make_command("LRANGE", store::keyspace::usage_attempts(id), "0", "-1"));
  if (!reply || reply->is_error()) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", "Redis is unavailable"));
    co_return;
  }
  if (reply->elements.empty()) {
    co_await ex.send(admin_error(http::status::not_found, "Not found",
                                 "No attempts recorded for this request: it was served at its first attempt (see its "
                                 "usage record), is older than 7 days, or unknown"));
    co_return;
  }
  co_await ex.send(admin_data(attempts_view(id, *reply)));
}

}  // namespace

void register_usage_routes(http_server::Router& router, AdminDepsPtr deps) {
  using http::verb;
  auto route = [&](const char* path, Subject subject, const char* param) {
    add_admin_route(router, verb::get, path, deps, [deps, subject, param](Exchange& ex, const SessionClaims&) {
      return usage_report(ex, deps, subject, param);
    });
  };
  route("/admin/usage/summary", Subject::Global, "");
  route("/admin/usage/keys/:keyId", Subject::Key, "keyId");
  route("/admin/usage/accounts/:accountId", Subject::Account, "accountId");
  route("/admin/usage/models/:model", Subject::Model, "model");
  add_admin_route(router, verb::get, "/admin/usage/models", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return models_report(ex, deps); });
  add_admin_route(router, verb::get, "/admin/usage/attempts", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return attempts_report(ex, deps); });
}

}  // namespace crs::admin
