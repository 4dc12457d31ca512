#include "relay/key_rules.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/time.hpp"
#include "http/responses.hpp"
#include "keys/key_fields.hpp"

namespace crs::relay {
namespace json = boost::json;

namespace {

json::array strings(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Refusal forbidden(std::string message, json::object extra = {}) {
  Refusal r{http::status::forbidden, std::move(message), std::move(extra), "", 0};
  return r;
}

bool contains(const std::vector<std::string>& items, std::string_view value) {
  return std::find(items.begin(), items.end(), value) != items.end();
}

}  // namespace

std::optional<Refusal> check_key_rules(const keys::ApiKey& key, const RequestFacts& facts) {
  if (!key.enabled) return forbidden("API key is disabled");
  if (!key.expires_at.empty() && key.expires_at <= facts.now_iso) {
    json::object extra;
    extra["expiresAt"] = key.expires_at;
    return forbidden("API key has expired (" + key.expires_at + ")", std::move(extra));
  }
  if (!key.permissions.empty() && !contains(key.permissions, facts.family)) {
    json::object extra;
    extra["permissions"] = strings(key.permissions);
    return forbidden(fmt::format("This API key has no permission for {} routes (it may use: {})", facts.family,
                                 joined(key.permissions)),
                     std::move(extra));
  }
  if (!facts.any_client && !key.allowed_clients.empty()) {
    std::string family = keys::client_family(facts.user_agent);
    if (!contains(key.allowed_clients, family)) {
      json::object extra;
      extra["allowedClients"] = strings(key.allowed_clients);
      extra["userAgent"] = facts.user_agent;
      std::string rules;
      for (const auto& rule : keys::client_rules())
        if (contains(key.allowed_clients, rule.id)) rules += (rules.empty() ? "" : "; ") + std::string(rule.description);
      return forbidden(fmt::format("Your client is not allowed to use this API key (allowed: {})", rules),
                       std::move(extra));
    }
  }
  if (!facts.model.empty() && !keys::model_allowed(key, facts.model)) {
    json::object extra;
    extra["model"] = facts.model;
    return forbidden(fmt::format("Model {} is not allowed for this API key", facts.model), std::move(extra));
  }
  return std::nullopt;
}

Refusal limit_refusal(const limits::Decision& d, const keys::ApiKey& key, int64_t now_ms) {
  auto usd = [](int64_t micro) { return fmt::format("${}", keys::format_usd(micro)); };
  auto usd_number = [](int64_t micro) { return json::value(static_cast<double>(micro) / 1e6); };
  std::string reset_iso =
      d.reset_at_ms > 0 ? iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(d.reset_at_ms)))
                        : "";
  int64_t wait_s = d.reset_at_ms > now_ms ? (d.reset_at_ms - now_ms + 999) / 1000 : 1;
  Refusal r{http::status::too_many_requests, "", {}, "", 0};
  if (d.limit == "concurrency") {
    r.message = fmt::format("Concurrency limit exceeded: this key already has {} requests in flight (limit {})",
                            d.current, d.maximum);
    r.extra["currentConcurrency"] = d.current;
    r.extra["concurrencyLimit"] = d.maximum;
    r.retry_after_s = 1;
    return r;
  }
  if (d.limit == "window_requests" || d.limit == "window_cost") {
    bool requests = d.limit == "window_requests";
    r.message = fmt::format("Rate limit exceeded: {} in this key's {}-minute window (limit {}); the window resets at {}",
                            requests ? fmt::format("{} requests", d.current) : usd(d.current) + " spent",
                            key.limits.rate_window_minutes, requests ? std::to_string(d.maximum) : usd(d.maximum),
                            reset_iso);
    if (requests) {
      r.extra["currentRequests"] = d.current;
      r.extra["requestLimit"] = d.maximum;
    } else {
      r.extra["currentCost"] = usd_number(d.current);
      r.extra["costLimit"] = usd_number(d.maximum);
    }
    r.extra["resetAt"] = reset_iso;
    r.extra["remainingMinutes"] = (wait_s + 59) / 60;
    r.retry_after_s = wait_s;
    return r;
  }
  r.status = http::status::payment_required;
  if (d.limit == "total_tokens") {
    r.message = fmt::format("Token limit reached: {} tokens used (limit {})", d.current, d.maximum);
    r.code = "token_limit_exceeded";
    r.extra["currentTokens"] = d.current;
    r.extra["tokenLimit"] = d.maximum;
    return r;
  }
  const char* what = d.limit == "daily_cost" ? "Daily" : d.limit == "weekly_cost" ? "Weekly" : "Total";
  const char* when = d.limit == "daily_cost" ? " today" : d.limit == "weekly_cost" ? " this week" : "";
  r.message = fmt::format("{} cost limit reached: {} spent{} (limit {}){}", what, usd(d.current), when, usd(d.maximum),
                          reset_iso.empty() ? "" : "; resets at " + reset_iso);
  r.code = d.limit == "daily_cost" ? "daily_cost_limit_exceeded"
           : d.limit == "weekly_cost" ? "weekly_cost_limit_exceeded"
                                      : "total_cost_limit_exceeded";
  r.extra["currentCost"] = usd_number(d.current);
  r.extra["costLimit"] = usd_number(d.maximum);
  if (!reset_iso.empty()) r.extra["resetAt"] = reset_iso;
  return r;
}

http_server::Response refusal_response(const Refusal& r) {
  json::object body;
  body["type"] = "error";
  json::object error;
  error["type"] = http_server::anthropic_error_type(r.status);
  error["message"] = r.message;
  if (!r.code.empty()) error["code"] = r.code;
  body["error"] = std::move(error);
  for (const auto& member : r.extra) body[member.key()] = member.value();
  auto res = http_server::json_response(r.status, json::serialize(body));
  if (r.retry_after_s > 0) res.set(http::field::retry_after, std::to_string(r.retry_after_s));
  return res;
}

}  // namespace crs::relay
