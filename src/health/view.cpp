#include "health/view.hpp"

#include <boost/json.hpp>

#include "core/time.hpp"
#include "health/circuit.hpp"
#include "health/classify.hpp"
#include "health/stats.hpp"
#include "scheduler/selection.hpp"
#include "store/hash_record.hpp"

namespace crs::health {
namespace json = boost::json;
namespace {

constexpr size_t kReadsPerAccount = 3;

json::value time_or_null(int64_t ms) {
  if (ms <= 0) return nullptr;
  return json::value(iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))));
}

int64_t number(const store::HashRecord& r, const std::string& name) {
  return std::atoll(store::field(r, name, "0").c_str());
}

double real(const store::HashRecord& r, const std::string& name, double fallback) {
  auto it = r.find(name);
  return it == r.end() ? fallback : std::atof(it->second.c_str());
}

json::object circuit_view(const Circuit& c) {
  return json::object{{"state", circuit_state_name(c.state)},
                      {"failures", c.failures},
                      {"opens", c.opens},
                      {"openedAt", time_or_null(c.state == CircuitState::Closed ? 0 : c.opened_at_ms)},
                      {"nextTryAt", time_or_null(c.state == CircuitState::Open ? c.next_try_ms : 0)}};
}

json::object window_view(const store::HashRecord& h) {
  return json::object{{"attempts", number(h, "attempts")},  {"judged", number(h, "judged")},
                      {"successRate", real(h, "successRate", 1)}, {"errorRate", real(h, "errorRate", 0)},
                      {"ttfbP50Ms", real(h, "ttfbP50", 0)},     {"ttfbP95Ms", real(h, "ttfbP95", 0)},
                      {"totalP50Ms", real(h, "totalP50", 0)},   {"totalP95Ms", real(h, "totalP95", 0)},
                      {"checkedAt", time_or_null(number(h, "checkedAt"))}};
}

json::object totals_view(const store::HashRecord& s) {
  json::object o{{"requests", number(s, "requests")}, {"successes", number(s, "successes")}};
  for (auto o2 : {Outcome::RateLimited, Outcome::Overloaded, Outcome::Server, Outcome::Network, Outcome::Timeout,
                  Outcome::Auth, Outcome::Client}) {
    std::string name(outcome_name(o2));
    o[name] = number(s, name);
  }
  return o;
}

json::value last_error_view(const store::HashRecord& s) {
  if (!s.count("lastErrorAt")) return nullptr;
  return json::object{{"at", time_or_null(number(s, "lastErrorAt"))},
                      {"class", store::field(s, "lastErrorClass")},
                      {"status", number(s, "lastErrorStatus")},
                      {"message", store::field(s, "lastErrorMessage")}};
}

json::object view(const store::RedisReply* r) {
  auto circuit = Circuit::from_record(store::to_record(r[0]));
  auto h = store::to_record(r[1]);
  auto s = store::to_record(r[2]);
  return json::object{{"class", h.empty() ? std::string("healthy") : store::field(h, "class", "healthy")},
                      {"reasons", store::field(h, "reasons")},
                      {"since", time_or_null(number(h, "since"))},
                      {"circuit", circuit_view(circuit)},
                      {"window", window_view(h)},
                      {"totals", totals_view(s)},
                      {"lastSuccessAt", time_or_null(number(s, "lastSuccessAt"))},
                      {"lastError", last_error_view(s)}};
}

void add_health(json::object& status, std::map<std::string, json::object>& health) {
  for (auto& v : status["accounts"].as_array()) {
    auto& a = v.as_object();
    a["health"] = std::move(health[std::string(a["id"].as_string())]);
  }
}

}  // namespace

Task<Result<std::map<std::string, json::object>>> health_views(store::RedisClient& redis,
                                                              std::vector<std::string> account_ids) {
  std::vector<store::RedisCommand> reads;
  for (const auto& id : account_ids) {
    reads.push_back(store::make_command("HGETALL", circuit_key(id)));
    reads.push_back(store::make_command("HGETALL", health_key(id)));
    reads.push_back(store::make_command("HGETALL", stats_key(id)));
  }
  std::map<std::string, json::object> out;
  if (account_ids.empty()) co_return out;
  auto replies = co_await redis.pipeline(std::move(reads));
  if (!replies) co_return replies.error();
  if (replies->size() < kReadsPerAccount * account_ids.size()) co_return Error{"redis: short reply"};
  for (size_t i = 0; i < account_ids.size(); ++i) out[account_ids[i]] = view(replies->data() + kReadsPerAccount * i);
  co_return out;
}

Task<Result<json::object>> balancer_status(store::RedisClient& redis, std::vector<accounts::Account> accounts,
                                           scheduler::StatusSettings settings) {
  std::vector<std::string> ids;
  for (const auto& a : accounts) ids.push_back(a.id);
  auto status = co_await scheduler::load_balance_status(redis, std::move(accounts), settings);
  if (!status) co_return status.error();
  auto health = co_await health_views(redis, std::move(ids));
  if (!health) co_return health.error();
  add_health(*status, *health);
  co_return std::move(*status);
}

Task<Status> reset_health(store::RedisClient& redis, std::string account_id) {
  std::vector<store::RedisCommand> cmds;
  cmds.push_back(store::make_command("MULTI"));
  store::RedisCommand del{"DEL"};
  for (auto& key : account_state_keys(account_id)) del.push_back(std::move(key));
  cmds.push_back(std::move(del));
  cmds.push_back(store::make_command("PUBLISH", std::string(scheduler::kChangedChannel), "reset:" + account_id));
  cmds.push_back(store::make_command("EXEC"));
  co_return store::transaction_status(co_await redis.pipeline(std::move(cmds)));
}

}  // namespace crs::health
