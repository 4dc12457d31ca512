#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

#include <boost/json.hpp>

#include "http/responses.hpp"
#include "relay/account_choice.hpp"
#include "relay/admission.hpp"
#include "relay/front.hpp"
#include "relay/openai_filter.hpp"

namespace crs::relay {
namespace json = boost::json;
using http_server::Exchange;

namespace {

// Anthropic's ids end in the model's date (YYYYMMDD).
std::string created_at_of(const std::string& id) {
  std::string date = id.size() > 8 ? id.substr(id.size() - 8) : "";
  if (date.size() == 8 && std::all_of(date.begin(), date.end(), ::isdigit))
    return date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2) + "T00:00:00Z";
  return "2025-01-01T00:00:00Z";
}

json::object model_object(const std::string& id, bool anthropic_fields, bool openai_fields) {
  json::object m;
  std::string created_at = created_at_of(id);
  if (anthropic_fields) {
    m["type"] = "model";
    m["id"] = id;
    m["display_name"] = id;
    m["created_at"] = created_at;
  }
  if (openai_fields) {
    std::tm tm{};
    strptime(created_at.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    m["id"] = id;
    m["object"] = "model";
    m["created"] = static_cast<int64_t>(timegm(&tm));
    m["owned_by"] = "anthropic";
  }
  return m;
}

std::string list_body(const std::set<std::string>& ids, ModelShape shape) {
  bool anthropic = shape == ModelShape::Anthropic;
  json::array data;
  for (const auto& id : ids) data.push_back(model_object(id, anthropic, true));
  json::object list{{"object", "list"}, {"data", std::move(data)}};
  if (anthropic) {
    list["has_more"] = false;
    list["first_id"] = ids.empty() ? "" : *ids.begin();
    list["last_id"] = ids.empty() ? "" : *ids.rbegin();
  }
  return json::serialize(list);
}

// The models the key's usable accounts serve (the built-in price list too when one of them
// serves any model and has told no list), as far as its rules allow.
std::set<std::string> models_for(const RelayDeps& d, const keys::ApiKey& key) {
  std::set<std::string> ids;
  bool serves_anything_unlisted = false;  // an account that serves any model and told no list
  for (const auto& account : *d.accounts.snapshot()) {
    if (!account.enabled || account.needs_admin() || !key_may_use(key, account)) continue;
    auto told = d.model_catalog.models_of(account);
    if (!d.model_catalog.told(account.id) && account.scheduling.models.empty()) serves_anything_unlisted = true;
    ids.merge(told);
  }
  if (ids.empty() || serves_anything_unlisted)
    for (const auto& id : d.pricing.model_ids()) ids.insert(id);
  std::set<std::string> allowed;
  for (const auto& id : ids)
    if (keys::model_allowed(key, id)) allowed.insert(id);
  return allowed;
}

// The permission a model list needs. /api/v1 serves Anthropic and OpenAI clients alike, so a
// key that may use either may list (openai-compat.md §7).
std::string_view family_of(const keys::ApiKey& key, const std::string& prefix, ModelShape shape) {
  if (shape == ModelShape::OpenAi) return "openai";
  auto has = [&key](std::string_view f) {
    return std::find(key.permissions.begin(), key.permissions.end(), f) != key.permissions.end();
  };
  if (prefix == "/api" && !key.permissions.empty() && !has("claude") && has("openai")) return "openai";
  return "claude";
}

http_server::Response model_answer(const RelayDeps& d, const keys::ApiKey& key, const Exchange& ex, ModelShape shape) {
  auto ids = models_for(d, key);
  auto wanted = ex.params().find("id");
  if (wanted == ex.params().end()) return http_server::json_response(http::status::ok, list_body(ids, shape));
  if (!ids.count(wanted->second))
    return http_server::anthropic_error(http::status::not_found, "not_found_error",
                                        "model: " + wanted->second + " is not available to this key");
  auto object = model_object(wanted->second, shape == ModelShape::Anthropic, true);
  return http_server::json_response(http::status::ok, json::serialize(object));
}

Task<void> serve_models(std::shared_ptr<RelayDeps> deps, Exchange& ex, std::string prefix, ModelShape shape) {
  if (shape == ModelShape::OpenAi) ex.set_filter(chat_answer_filter(ex, ChatAnswerFilter::Mode::ErrorsOnly));
  keys::KeyCache::Record key;
  if (auto refusal = co_await authenticate(*deps, ex, key)) {
    co_await ex.send(std::move(*refusal));
    co_return;
  }
  std::string_view family = family_of(*key, prefix, shape);
  if (auto refusal = co_await check_key(*deps, ex, key, family, "", true)) {
    co_await ex.send(std::move(*refusal));
    co_return;
  }
  co_await ex.send(model_answer(*deps, *key, ex, shape));
}

}  // namespace

void register_model_routes(http_server::Router& router, std::shared_ptr<RelayDeps> deps, const std::string& prefix,
                           ModelShape shape) {
  auto handler = [deps, prefix, shape](Exchange& ex) { return serve_models(deps, ex, prefix, shape); };
  router.add(http::verb::get, prefix + "/v1/models", handler);
  router.add(http::verb::get, prefix + "/v1/models/:id", handler);
}

}  // namespace crs::relay
