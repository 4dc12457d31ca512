// /admin/api-keys: relay keys for admins (spec/crs-compat.md §7.2). Fields and validation are
// keys::apply_changes', shared with `crs keys`; the plaintext is returned only when a key is
// created or renewed.
#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "admin/admin_http.hpp"
#include "http/responses.hpp"
#include "keys/key_fields.hpp"
#include "keys/key_store.hpp"
#include "usage/usage_reader.hpp"

namespace crs::admin {
namespace json = boost::json;
using http_server::Exchange;

namespace {

keys::KeyStore key_store(const AdminDeps& d, Exchange& ex) {
  return keys::KeyStore(d.redis_for(ex), d.cfg.security.encryptionKey, d.cfg.security.apiKeyPrefix);
}

http_server::Response store_unavailable(const std::string& why) {
  return admin_error(http::status::service_unavailable, "Service unavailable", why);
}
http_server::Response key_not_found() { return admin_error(http::status::not_found, "Not found", "API key not found"); }
http_server::Response invalid(const std::string& why) {
  return admin_error(http::status::bad_request, "Invalid request", why);
}

// The admin view of a key with its all-time usage.
json::object key_view(const keys::ApiKey& k, const usage::UsageTotals& total) {
  json::object o = keys::to_json(k);
  json::object u;
  u["total"] = usage::to_json(total);
  o["usage"] = std::move(u);
  return o;
}

json::object created_view(const keys::NewKey& made) {
  json::object o = keys::to_json(made.key);
  o["apiKey"] = made.plaintext;
  return o;
}

bool tag_match(const keys::ApiKey& k, const std::string& tag) {
  return tag.empty() || std::find(k.tags.begin(), k.tags.end(), tag) != k.tags.end();
}

bool contains_folded(const std::string& text, const std::string& needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                                    std::tolower(static_cast<unsigned char>(b)); });
  return it != text.end();
}

struct ListQuery {
  int64_t page = 1, page_size = 20;
  std::string search, tag, is_active, sort_by = "createdAt";
  bool descending = true;
};

Result<ListQuery> list_query(std::string_view query) {
  auto q = query_params(query);
  ListQuery l;
  auto positive = [&](const char* name, int64_t& out, int64_t max) -> Status {
    if (!q.count(name)) return Ok{};
    char* end = nullptr;
    long long v = std::strtoll(q[name].c_str(), &end, 10);
    if (q[name].empty() || *end || v < 1 || v > max) return Error{fmt::format("{}: a number from 1 to {}", name, max)};
    out = v;
    return Ok{};
  };
  if (auto s = positive("page", l.page, 1000000); !s) return s.error();
  if (auto s = positive("pageSize", l.page_size, 1000); !s) return s.error();
  l.search = q["search"];
  l.tag = q["tag"];
  l.is_active = q["isActive"];
  if (!l.is_active.empty() && l.is_active != "true" && l.is_active != "false")
    return Error{"isActive: true or false"};
  if (q.count("sortBy")) l.sort_by = q["sortBy"];
  static const std::vector<std::string> sortable{"name", "createdAt", "expiresAt", "lastUsedAt", "isActive"};
  if (std::find(sortable.begin(), sortable.end(), l.sort_by) == sortable.end())
    return Error{"sortBy: one of name, createdAt, expiresAt, lastUsedAt, isActive"};
  if (q.count("sortOrder")) {
    if (q["sortOrder"] != "asc" && q["sortOrder"] != "desc") return Error{"sortOrder: asc or desc"};
    l.descending = q["sortOrder"] == "desc";
  }
  return l;
}

std::string sort_value(const keys::ApiKey& k, const std::string& by) {
  if (by == "name") return k.name;
  if (by == "expiresAt") return k.expires_at;
  if (by == "lastUsedAt") return k.last_used_at;
  if (by == "isActive") return k.enabled ? "1" : "0";
  return k.created_at;
}

json::object list_page(std::vector<keys::ApiKey> page, const std::vector<usage::UsageTotals>& totals,
                       const ListQuery& q, size_t total, json::array tags) {
  json::array items;
  for (size_t i = 0; i < page.size(); ++i) items.push_back(key_view(page[i], totals[i]));
  int64_t pages = (static_cast<int64_t>(total) + q.page_size - 1) / q.page_size;
  return json::object{{"items", std::move(items)},
                      {"pagination", json::object{{"page", q.page}, {"pageSize", q.page_size},
                                                  {"total", total}, {"totalPages", pages}}},
                      {"availableTags", std::move(tags)}};
}

// The keys that pass the query's filters, in its order.
std::vector<keys::ApiKey> matching_keys(std::vector<keys::ApiKey> all, const ListQuery& q, std::set<std::string>& tags) {
  std::vector<keys::ApiKey> matching;
  for (auto& k : all) {
    tags.insert(k.tags.begin(), k.tags.end());
    bool active_ok = q.is_active.empty() || (q.is_active == "true") == k.enabled;
    bool search_ok = q.search.empty() || contains_folded(k.name, q.search) || k.id == q.search;
    if (active_ok && search_ok && tag_match(k, q.tag)) matching.push_back(std::move(k));
  }
  std::stable_sort(matching.begin(), matching.end(), [&](const keys::ApiKey& a, const keys::ApiKey& b) {
    auto va = sort_value(a, q.sort_by), vb = sort_value(b, q.sort_by);
    return q.descending ? vb < va : va < vb;
  });
  return matching;
}

// One page of the listing with each key's all-time usage: every key is read (through the
// query optimizer), the page's usage only.
Task<Result<json::value>> compute_list(const AdminDeps& deps, store::RedisClient& redis, ListQuery q) {
  keys::KeyStore store(redis, deps.cfg.security.encryptionKey, deps.cfg.security.apiKeyPrefix);
  auto all = co_await store.list(deps.queries);
  if (!all) co_return all.error();
  std::set<std::string> tag_set;
  auto matching = matching_keys(std::move(*all), q, tag_set);
  size_t total = matching.size();
  size_t first = std::min(total, static_cast<size_t>((q.page - 1) * q.page_size));
  size_t last = std::min(total, first + static_cast<size_t>(q.page_size));
  std::vector<keys::ApiKey> page(std::make_move_iterator(matching.begin() + static_cast<ptrdiff_t>(first)),
                                 std::make_move_iterator(matching.begin() + static_cast<ptrdiff_t>(last)));
  std::vector<std::string> hashes;
  for (const auto& k : page) hashes.push_back(usage::all_time_key(usage::Subject::Key, k.id));
  auto totals = co_await usage::read_totals(deps.queries, redis, hashes, true, "keys.list.usage");
  if (!totals) co_return totals.error();
  json::array tags;
  for (const auto& t : tag_set) tags.push_back(json::string(t));
  co_return json::value(list_page(std::move(page), *totals, q, total, std::move(tags)));
}

// The cache's name for a listing: every parameter that changes the answer.
std::string list_cache_name(const ListQuery& q) {
  return fmt::format("keys.list\n{}\n{}\n{}\n{}\n{}\n{}\n{}", q.page, q.page_size, q.search, q.tag, q.is_active,
                     q.sort_by, q.descending);
}

std::vector<std::string> keys_and_usage() { return std::vector<std::string>{"keys", "usage"}; }

ComputeData list_computation(AdminDepsPtr deps, store::RedisClient* redis, ListQuery q) {
  return [deps, redis, q] { return compute_list(*deps, *redis, q); };
}

Task<void> list_keys(Exchange& ex, AdminDepsPtr deps) {
  auto query = list_query(ex.query());
  if (!query) {
    co_await ex.send(invalid(query.error().message));
    co_return;
  }
  ComputeData compute = list_computation(deps, &deps->redis_for(ex), *query);
  co_await send_cached(ex, *deps, list_cache_name(*query), keys_and_usage(), compute, read_failure);
}

// The key named by the route, or nullopt after answering 404 / 503.
Task<std::optional<keys::ApiKey>> find_key(Exchange& ex, const AdminDeps& deps) {
  std::string id = ex.params().at("keyId");
  if (!is_uuid(id)) {
    co_await ex.send(key_not_found());
    co_return std::nullopt;
  }
  auto store = key_store(deps, ex);
  auto found = co_await store.get(id);
  if (!found) {
    co_await ex.send(store_unavailable(found.error().message));
    co_return std::nullopt;
  }
  if (!*found) co_await ex.send(key_not_found());
  co_return std::move(*found);
}

Task<void> show_key(Exchange& ex, AdminDepsPtr deps) {
  auto key = co_await find_key(ex, *deps);
  if (!key) co_return;
  std::vector<std::string> hashes;
  hashes.push_back(usage::all_time_key(usage::Subject::Key, key->id));
  auto totals = co_await usage::read_totals(deps->queries, deps->redis_for(ex), hashes, true, "keys.show.usage");
  if (!totals) {
    co_await ex.send(read_failure(totals.error()));
    co_return;
  }
  co_await ex.send(admin_data(key_view(*key, totals->front())));
}

// A key may be bound only to an account that exists; otherwise the answer is sent here.
Task<bool> binding_allowed(Exchange& ex, keys::KeyStore& store, std::string bound_account) {
  auto problem = co_await store.binding_problem(std::move(bound_account));
  if (!problem) {
    co_await ex.send(store_unavailable(problem.error().message));
    co_return false;
  }
  if (!problem->empty()) {
    co_await ex.send(invalid(*problem));
    co_return false;
  }
  co_return true;
}

Task<void> create_key(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  keys::ApiKey fields;
  if (auto s = keys::apply_changes(fields, *body); !s) {
    co_await ex.send(invalid(s.error().message));
    co_return;
  }
  if (fields.name.empty()) {
    co_await ex.send(invalid("name: required"));
    co_return;
  }
  auto store = key_store(*deps, ex);
  if (!co_await binding_allowed(ex, store, fields.bound_account)) co_return;
  auto made = co_await store.create(std::move(fields));
  if (!made) {
    co_await ex.send(store_unavailable(made.error().message));
    co_return;
  }
  spdlog::info("admin {} created key {} ({})", session.username, made->key.id, made->key.name);
  co_await ex.send(admin_data(created_view(*made)));
}

// POST /admin/api-keys/batch {baseName, count, ...fields}: `count` keys named baseName_1..N
// with the same fields, each secret in the answer (shown once). Should Redis fail part way,
// the keys made so far are still answered (their secrets exist nowhere else), with a warning.
constexpr int64_t kMaxBatch = 500;

// The batch's size: a JSON integer, or digits in a string as the Node.js service accepts; 0 if neither.
int64_t batch_count(const json::value* v) {
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (!v->is_string() || v->as_string().empty() || v->as_string().size() > 6) return 0;
  int64_t n = 0;
  for (char c : v->as_string()) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

Task<void> create_batch(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  std::string base = string_member(*body, "baseName");
  int64_t count = batch_count(body->if_contains("count"));
  if (base.empty() || count < 1 || count > kMaxBatch) {
    co_await ex.send(invalid("baseName (text) and count (1 to 500) are required"));
    co_return;
  }
  body->erase("baseName");
  body->erase("count");
  body->erase("name");
  keys::ApiKey fields;
  fields.name = base + "_" + std::to_string(count);  // the longest name, for the checks
  if (auto s = keys::apply_changes(fields, *body); !s) {
    co_await ex.send(invalid(s.error().message));
    co_return;
  }
  if (fields.name.size() > 100) {
    co_await ex.send(invalid("baseName: at most 100 characters with its _N suffix"));
    co_return;
  }
  auto store = key_store(*deps, ex);
  if (!co_await binding_allowed(ex, store, fields.bound_account)) co_return;
  json::array made;
  std::string failure;
  for (int64_t i = 1; i <= count && failure.empty(); ++i) {
    keys::ApiKey one = fields;
    one.name = base + "_" + std::to_string(i);
    auto created = co_await store.create(std::move(one));
    if (created) made.push_back(created_view(*created));
    else failure = created.error().message;
  }
  spdlog::info("admin {} created {} of {} keys named {}_N", session.username, made.size(), count, base);
  if (made.empty()) {
    co_await ex.send(store_unavailable(failure));
    co_return;
  }
  json::object o;
  o["success"] = true;
  if (!failure.empty()) o["warning"] = fmt::format("only {} of {} keys were created: {}", made.size(), count, failure);
  o["data"] = std::move(made);
  co_await ex.send(http_server::json_response(http::status::ok, json::serialize(o)));
}

Task<void> update_key(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  auto key = co_await find_key(ex, *deps);
  if (!key) co_return;
  if (body->empty()) {
    co_await ex.send(invalid("nothing to change"));
    co_return;
  }
  keys::ApiKey probe = *key;
  if (auto s = keys::apply_changes(probe, *body); !s) {
    co_await ex.send(invalid(s.error().message));
    co_return;
  }
  auto store = key_store(*deps, ex);
  if (probe.bound_account != key->bound_account) {
    if (!co_await binding_allowed(ex, store, probe.bound_account)) co_return;
  }
  auto changed = co_await store.update(key->id, std::move(*body));
  if (!changed) {
    co_await ex.send(store_unavailable(changed.error().message));
    co_return;
  }
  spdlog::info("admin {} updated key {}", session.username, key->id);
  json::object o;
  o["success"] = true;
  o["message"] = "API key updated successfully";
  o["data"] = keys::to_json(*changed);
  co_await ex.send(http_server::json_response(http::status::ok, json::serialize(o)));
}

Task<void> renew_key(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto key = co_await find_key(ex, *deps);
  if (!key) co_return;
  auto store = key_store(*deps, ex);
  auto made = co_await store.renew(key->id);
  if (!made) {
    co_await ex.send(store_unavailable(made.error().message));
    co_return;
  }
  spdlog::info("admin {} renewed the secret of key {}", session.username, key->id);
  co_await ex.send(admin_data(created_view(*made)));
}

Task<void> delete_key(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto key = co_await find_key(ex, *deps);
  if (!key) co_return;
  auto store = key_store(*deps, ex);
  auto removed = co_await store.remove(key->id);
  if (auto& s = removed; !s) {
    co_await ex.send(store_unavailable(s.error().message));
    co_return;
  }
  spdlog::info("admin {} deleted key {}", session.username, key->id);
  co_await ex.send(admin_message("API key deleted successfully"));
}

}  // namespace

void register_key_routes(http_server::Router& router, AdminDepsPtr deps) {
  using http::verb;
  add_admin_route(router, verb::get, "/admin/api-keys", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return list_keys(ex, deps); });
  add_admin_route(router, verb::post, "/admin/api-keys", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return create_key(ex, s, deps); });
  add_admin_route(router, verb::post, "/admin/api-keys/batch", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return create_batch(ex, s, deps); });
  add_admin_route(router, verb::get, "/admin/api-keys/:keyId", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return show_key(ex, deps); });
  add_admin_route(router, verb::put, "/admin/api-keys/:keyId", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return update_key(ex, s, deps); });
  add_admin_route(router, verb::delete_, "/admin/api-keys/:keyId", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return delete_key(ex, s, deps); });
  add_admin_route(router, verb::post, "/admin/api-keys/:keyId/renew", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return renew_key(ex, s, deps); });
}

}  // namespace crs::admin
