#include "relay/key_rules.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

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

bool contains(const std::vector<std::string>& items, std::string_view value) {
  return std::find(items.begin(), items.end(), value) != items.end();
}

}  // namespace

std::optional<Refusal> check_key_rules(const keys::ApiKey& key, const RequestFacts& facts) {
  if (!key.enabled) return Refusal{http::status::forbidden, "API key is disabled", {}};
  if (!key.expires_at.empty() && key.expires_at <= facts.now_iso) {
    json::object extra;
    extra["expiresAt"] = key.expires_at;
    return Refusal{http::status::forbidden, "API key has expired (" + key.expires_at + ")", std::move(extra)};
  }
  if (!key.permissions.empty() && !contains(key.permissions, facts.family)) {
    json::object extra;
    extra["permissions"] = strings(key.permissions);
    return Refusal{http::status::forbidden,
                   fmt::format("This API key has no permission for {} routes (it may use: {})", facts.family,
                               joined(key.permissions)),
                   std::move(extra)};
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
      return Refusal{http::status::forbidden,
                     fmt::format("Your client is not allowed to use this API key (allowed: {})", rules),
                     std::move(extra)};
    }
  }
  if (!facts.model.empty() && !keys::model_allowed(key, facts.model)) {
    json::object extra;
    extra["model"] = facts.model;
    return Refusal{http::status::forbidden, fmt::format("Model {} is not allowed for this API key", facts.model),
                   std::move(extra)};
  }
  return std::nullopt;
}

http_server::Response refusal_response(const Refusal& r) {
  json::object body;
  body["type"] = "error";
  json::object error;
  error["type"] = http_server::anthropic_error_type(r.status);
  error["message"] = r.message;
  body["error"] = std::move(error);
  for (const auto& member : r.extra) body[member.key()] = member.value();
  return http_server::json_response(r.status, json::serialize(body));
}

}  // namespace crs::relay
