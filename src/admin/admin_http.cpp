#include "admin/admin_http.hpp"

#include <boost/url/parse_query.hpp>

#include "admin/credentials.hpp"
#include "admin/login_throttle.hpp"
#include "admin/session_cookie.hpp"
#include "http/responses.hpp"
#include "query/query_cache.hpp"

namespace crs::admin {
namespace json = boost::json;
using http_server::Exchange;
using store::make_command;

namespace {

json::object error_object(std::string_view error, std::string_view message) {
  return json::object{{"error", error}, {"message", message}};
}

// The token a request sends itself: "Authorization: Bearer <token>" or "x-admin-token: <token>".
std::string_view header_token(const http_server::Request& req) {
  auto auth = req[http::field::authorization];
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) return auth.substr(7);
  return req["x-admin-token"];
}

bool has_token(const http_server::Request& req) {
  return !header_token(req).empty() || !session_cookie_tokens(req).empty();
}

// What the request's token stands for as far as its signature and expiry tell: the header's
// token, else the first of the console's session cookies that verifies (or the first's fault).
std::variant<SessionClaims, TokenError> verify_request(const http_server::Request& req, std::string_view secret) {
  int64_t now = unix_seconds();
  if (auto header = header_token(req); !header.empty()) return verify_session(header, secret, now);
  std::optional<std::variant<SessionClaims, TokenError>> first;
  for (auto token : session_cookie_tokens(req)) {
    auto verified = verify_session(token, secret, now);
    if (std::holds_alternative<SessionClaims>(verified)) return verified;
    if (!first) first = std::move(verified);
  }
  if (first) return *std::move(first);
  return TokenError{TokenProblem::Malformed, "no admin token"};
}

bool changes_state(http::verb method) { return method != http::verb::get && method != http::verb::head; }

// A change made with the console's cookie must come from the console's own page (CSRF).
bool refused_as_cross_site(Exchange& ex, const AdminDeps& deps) {
  const auto& req = ex.request();
  if (!uses_session_cookie(req) || !changes_state(req.method())) return false;
  return !same_origin(req, deps.trusted_proxies.trusts(ex.remote().address()));
}

const char* problem_name(TokenProblem p) {
  if (p == TokenProblem::Malformed) return "Invalid admin token format";
  if (p == TokenProblem::Expired) return "Session expired";
  return "Invalid admin token";
}

}  // namespace

http_server::Response admin_data(json::value data, http::status status) {
  json::object o;
  o["success"] = true;
  o["data"] = std::move(data);
  return http_server::json_response(status, json::serialize(o));
}

http_server::Response read_failure(const Error& e) {
  if (store::is_query_timeout(e)) return admin_error(http::status::gateway_timeout, "Gateway Timeout", e.message);
  return admin_error(http::status::service_unavailable, "Service unavailable", e.message);
}

namespace {
http_server::Response cached_data(const query::CachedValue& cached, const std::string& top_level) {
  std::string body = R"({"success":true,"data":)";
  body += cached.value;
  if (!top_level.empty()) body += ',' + top_level;
  body += '}';
  auto r = http_server::json_response(http::status::ok, std::move(body));
  r.set("x-crs-query-cache", query::outcome_name(cached.outcome));
  return r;
}

Task<Result<std::string>> serialize(const ComputeData& compute) {
  auto data = co_await compute();
  if (!data) co_return data.error();
  co_return json::serialize(*data);
}

// The computation as the cache stores it: serialized JSON. `compute` outlives the call.
query::QueryCache::Compute serialized(const ComputeData& compute) {
  return [&compute] { return serialize(compute); };
}
}  // namespace

Task<Result<query::CachedValue>> cached(const AdminDeps& deps, store::RedisClient& redis, std::string query,
                                        std::vector<std::string> depends, const ComputeData& compute) {
  if (auto* cache = deps.queries.cache()) {
    query::QueryCache::Compute as_text = serialized(compute);
    co_return co_await cache->get(redis, std::move(query), std::move(depends), as_text);
  }
  auto data = co_await compute();
  if (!data) co_return data.error();
  co_return query::CachedValue{json::serialize(*data), query::CacheOutcome::Off};
}

Task<void> send_cached(Exchange& ex, const AdminDeps& deps, std::string query, std::vector<std::string> depends,
                       const ComputeData& compute, ErrorAnswer on_error, std::string top_level) {
  auto got = co_await cached(deps, deps.redis_for(ex), std::move(query), std::move(depends), compute);
  if (!got) {
    co_await ex.send(on_error(got.error()));
    co_return;
  }
  co_await ex.send(cached_data(*got, top_level));
}

http_server::Response admin_message(std::string_view message) {
  json::object o;
  o["success"] = true;
  o["message"] = message;
  return http_server::json_response(http::status::ok, json::serialize(o));
}

http_server::Response admin_error(http::status status, std::string_view error, std::string_view message) {
  return http_server::json_response(status, json::serialize(error_object(error, message)));
}

Task<std::optional<json::object>> read_json_object(Exchange& ex) {
  boost::system::error_code ec;
  auto v = json::parse(ex.request().body(), ec);
  if (ec || !v.is_object()) {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request", "the body must be a JSON object"));
    co_return std::nullopt;
  }
  co_return std::move(v.as_object());
}

std::string string_member(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::map<std::string, std::string> query_params(std::string_view query) {
  std::map<std::string, std::string> out;
  auto parsed = boost::urls::parse_query(query);
  if (!parsed) return out;
  // Decoded: %XX escapes, and + as a space (what browsers' forms and URLSearchParams send).
  boost::urls::encoding_opts form;
  form.space_as_plus = true;
  for (auto p : *parsed) out[p.key.decode(form)] = p.value.decode(form);
  return out;
}

bool uses_session_cookie(const http_server::Request& req) {
  return header_token(req).empty() && !session_cookie_tokens(req).empty();
}

bool from_console_page(Exchange& ex, const AdminDeps& deps) {
  return same_origin(ex.request(), deps.trusted_proxies.trusts(ex.remote().address()));
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Task<std::variant<SessionClaims, http_server::Response>> check_session(Exchange& ex, const AdminDeps& deps) {
  if (!has_token(ex.request()))
    co_return admin_error(http::status::unauthorized, "Missing admin token", "Please provide an admin token");
  if (refused_as_cross_site(ex, deps))
    co_return admin_error(http::status::forbidden, "Forbidden",
                          "a change made with the console's session cookie must come from the console's own page");
  auto verified = verify_request(ex.request(), deps.cfg.security.jwtSecret);
  if (auto* problem = std::get_if<TokenError>(&verified))
    co_return admin_error(http::status::unauthorized, problem_name(problem->problem), problem->message);
  SessionClaims claims = std::get<SessionClaims>(std::move(verified));
  // Logout and password changes are in Redis: one round trip for both.
  std::vector<store::RedisCommand> commands;
  commands.push_back(make_command("HGET", std::string(kCredentialsKey), "version"));
  commands.push_back(make_command("EXISTS", revoked_session_key(claims.jti)));
  auto replies = co_await deps.redis_for(ex).pipeline(std::move(commands));
  if (!replies || (*replies)[0].is_error() || (*replies)[1].is_error())
    co_return admin_error(http::status::service_unavailable, "Service unavailable",
                          "cannot check the session: Redis is not reachable");
  bool current = (*replies)[0].as_int().value_or(-1) == claims.version;
  bool revoked = (*replies)[1].as_int().value_or(1) != 0;
  if (!current || revoked) {
    std::string_view why = revoked ? "this session was ended; log in again"
                                   : "the admin login changed since this session began; log in again";
    co_return admin_error(http::status::unauthorized, "Invalid session", why);
  }
  co_return claims;
}

Task<std::optional<SessionClaims>> authenticate(Exchange& ex, const AdminDeps& deps) {
  auto session = co_await check_session(ex, deps);
  if (auto* refusal = std::get_if<http_server::Response>(&session)) {
    co_await ex.send(std::move(*refusal));
    co_return std::nullopt;
  }
  co_return std::get<SessionClaims>(std::move(session));
}

Task<bool> is_admin_request(Exchange& ex, const AdminDeps& deps) {
  if (!has_token(ex.request())) co_return false;  // no Redis round trip for anonymous probes
  auto session = co_await check_session(ex, deps);
  co_return std::holds_alternative<SessionClaims>(session);
}

// Admin bodies are a key's fields or a password change: a megabyte is far more than any needs.
constexpr uint64_t kAdminBodyLimit = 1 << 20;

void add_admin_route(http_server::Router& router, http::verb method, std::string pattern, AdminDepsPtr deps,
                     AdminHandler handler) {
  // The token is checked before a byte of the body is read.
  http_server::BodyRule body{kAdminBodyLimit, true};
  router.add(method, std::move(pattern), [deps, handler](Exchange& ex) -> Task<void> {
    auto session = co_await authenticate(ex, *deps);
    if (!session) co_return;
    if (auto refusal = co_await ex.read_body(kAdminBodyLimit)) {
      co_await ex.send(std::move(*refusal));
      co_return;
    }
    co_await handler(ex, *session);
  }, body);
}

namespace {

json::array route_table(const http_server::Router& router) {
  json::array out;
  for (const auto& r : router.routes())
    out.push_back(json::object{{"method", std::string(http::to_string(r.method))}, {"path", r.pattern}});
  return out;
}

}  // namespace

void register_admin_routes(http_server::Router& router, AdminDepsPtr deps) {
  deps->router = &router;
  register_auth_routes(router, deps);
  register_key_routes(router, deps);
  register_usage_routes(router, deps);
  register_account_routes(router, deps);
  register_export_routes(router, deps);
  register_dashboard_routes(router, deps);
  register_settings_routes(router, deps);
  add_admin_route(router, http::verb::get, "/admin/routes", deps, [deps](Exchange& ex, const SessionClaims&) {
    return ex.send(admin_data(route_table(*deps->router)));
  });
}

}  // namespace crs::admin
