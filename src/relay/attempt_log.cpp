#include "relay/attempt_log.hpp"

#include <boost/json.hpp>

#include "metrics/metrics.hpp"
#include "relay/account_choice.hpp"
#include "relay/account_health.hpp"
#include "store/keyspace.hpp"

namespace crs::relay {
namespace json = boost::json;
namespace {

void put_tokens(json::object& o, const usage::Usage& u, int64_t cost_micro) {
  o["inputTokens"] = u.input_tokens;
  o["outputTokens"] = u.output_tokens;
  o["cacheCreateTokens"] = u.cache_creation_input_tokens;
  o["cacheReadTokens"] = u.cache_read_input_tokens;
  o["costMicroUsd"] = cost_micro;
}

json::object record(const RelayedRequest& r, const Picked& p, unsigned status, double ttfb_ms, bool served) {
  return json::object{{"attempt", p.attempt},
                      {"at", accounts::now_ms()},
                      {"keyId", r.key().id},
                      {"accountId", p.account().id},
                      {"model", r.fields.model},
                      {"status", status},
                      {"ttfbMs", ttfb_ms < 0 ? json::value(nullptr) : json::value(static_cast<int64_t>(ttfb_ms))},
                      {"served", served}};
}

void append(RelayedRequest& r, const json::object& o) {
  auto& d = r.d();
  if (d.stopping) return;
  std::string key = store::keyspace::usage_attempts(r.ex.request_id());
  auto* writer = d.usage_writers.at(r.worker);
  writer->append(store::make_command("RPUSH", key, json::serialize(o)), "attempt record of " + r.ex.request_id());
  writer->append(store::make_command("PEXPIRE", key, std::to_string(kAttemptsKeptMs)), "expiry of " + key);
}

}  // namespace

void log_failed_attempt(RelayedRequest& r, const Picked& p, unsigned status, const adapters::ErrorVerdict& v,
                        double ttfb_ms) {
  auto o = record(r, p, status, ttfb_ms, false);
  metrics::upstream_failure(health::outcome_name(outcome_of(v.what)));
  o["class"] = health::outcome_name(outcome_of(v.what));
  o["reason"] = v.reason;
  put_tokens(o, usage::Usage{}, 0);  // the upstream bills no error answered before its first byte
  append(r, o);
}

void log_served_attempt(RelayedRequest& r, const Picked& p, const usage::UsageEvent& e, double ttfb_ms) {
  if (p.attempt <= 1) return;
  auto o = record(r, p, static_cast<unsigned>(e.status), ttfb_ms, true);
  o["class"] = e.status >= 200 && e.status < 300 ? "ok" : "client";
  o["model"] = e.model;
  put_tokens(o, e.usage, e.cost_micro);
  o["partial"] = e.partial;
  append(r, o);
}

void log_client_error_attempt(RelayedRequest& r, const Picked& p, unsigned status, double ttfb_ms) {
  if (p.attempt <= 1) return;
  auto o = record(r, p, status, ttfb_ms, true);
  o["class"] = "client";
  put_tokens(o, usage::Usage{}, 0);
  append(r, o);
}

}  // namespace crs::relay
