#pragma once
// What every admin handler shares: its dependencies, the admin JSON shapes
// ({"success":true,"data":…} / {"error","message"}, spec/crs-compat.md §7) and the guard that
// every /admin route passes through (add_admin_route): a valid, unexpired, HS256-signed
// login token whose session was neither ended (logout) nor outdated by a password change.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <boost/json.hpp>

#include "accounts/account_registry.hpp"
#include "admin/session_token.hpp"
#include "config/config.hpp"
#include "config/in_force.hpp"
#include "core/blocking.hpp"
#include "core/crypto.hpp"
#include "http/client_address.hpp"
#include "http/exchange.hpp"
#include "http/router.hpp"
#include "query/query_cache.hpp"
#include "query/query_runner.hpp"
#include "scheduler/status.hpp"
#include "store/redis_client.hpp"

namespace crs::key_export {
class ExportService;
}

namespace crs::admin {

struct AdminDeps {
  const config::Config& cfg;
  std::vector<store::RedisClient*> redis;  // one per I/O thread
  BlockingPool& pool;                      // password hashing, file writes
  const query::QueryRunner& queries;       // every read of many records (queryOptimizer.*)
  const http_server::Router* router = nullptr;
  http_server::TrustedProxies trusted_proxies;  // who may name the client (login throttling)
  asio::ssl::context* tls = nullptr;               // for the accounts' health checks (probes)
  accounts::AccountRegistry* accounts = nullptr;   // this instance's accounts, updated by probes
  key_export::ExportService* exports = nullptr;    // null: API key export is off
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();  // uptime
  std::string instance;                            // host:port, naming this instance in answers
  const config::InForce* in_force = nullptr;       // the configuration in force (settings page)
  // The load balancer's settings in force (SIGHUP changes them); null: the configuration's.
  std::function<scheduler::StatusSettings()> balancer_settings;

  scheduler::StatusSettings balancer() const {
    if (balancer_settings) return balancer_settings();
    return scheduler::StatusSettings{cfg.loadBalancing.enabled, scheduler::strategy_settings(cfg.loadBalancing)};
  }

  store::RedisClient& redis_for(const http_server::Exchange& ex) const { return *redis[ex.worker() % redis.size()]; }
};
using AdminDepsPtr = std::shared_ptr<AdminDeps>;

using AdminHandler = std::function<Task<void>(http_server::Exchange&, const SessionClaims&)>;

// Registers a route that answers 401 unless the request carries a valid admin token
// (Authorization: Bearer, x-admin-token, or the console's session cookie; a change made with
// the cookie must come from the console's own origin, else 403).
void add_admin_route(http_server::Router& router, http::verb method, std::string pattern, AdminDepsPtr deps,
                     AdminHandler handler);

// The session of a request, or nullopt after answering 401 (or 503 when Redis cannot say).
Task<std::optional<SessionClaims>> authenticate(http_server::Exchange& ex, const AdminDeps& deps);
// The session the request's admin token stands for, or the refusal (401, 503) to send.
Task<std::variant<SessionClaims, http_server::Response>> check_session(http_server::Exchange& ex,
                                                                        const AdminDeps& deps);
// Whether the request carries a valid admin token (answers nothing itself).
Task<bool> is_admin_request(http_server::Exchange& ex, const AdminDeps& deps);

http_server::Response admin_data(boost::json::value data, http::status status = http::status::ok);
http_server::Response admin_message(std::string_view message);
http_server::Response admin_error(http::status status, std::string_view error, std::string_view message);

// A read that failed: 504 when the query ran past queryOptimizer.performance.queryTimeout,
// else 503 (Redis unreachable or refusing).
http_server::Response read_failure(const Error& e);

// Answers with `data` computed by `compute`, through the query cache: `query` names the result
// (route and parameters), `depends` the data generations it is computed from ("keys",
// "usage"). The header x-crs-query-cache says hit, shared, miss or off. A failure is answered
// by `on_error`. `top_level` is added beside "data" as is (`"name":value`, or empty).
// (GCC 12 destroys a std::function passed by value to a coroutine twice: make
// `compute` outside the coroutine, keep it in a variable and pass that.)
using ComputeData = std::function<Task<Result<boost::json::value>>()>;
// The serialized data, through the cache (or computed when there is none).
Task<Result<query::CachedValue>> cached(const AdminDeps& deps, store::RedisClient& redis, std::string query,
                                        std::vector<std::string> depends, const ComputeData& compute);
using ErrorAnswer = http_server::Response (*)(const Error&);
Task<void> send_cached(http_server::Exchange& ex, const AdminDeps& deps, std::string query,
                       std::vector<std::string> depends, const ComputeData& compute, ErrorAnswer on_error,
                       std::string top_level = "");

// The request body as a JSON object, or nullopt after answering 400.
Task<std::optional<boost::json::object>> read_json_object(http_server::Exchange& ex);

// A string member of a JSON object, or "" when it is missing or not a string.
std::string string_member(const boost::json::object& o, const char* name);

// Decoded query parameters (%XX and + as a space; the last value wins).
std::map<std::string, std::string> query_params(std::string_view query);

using crypto::is_uuid;

int64_t unix_seconds();

// Whether the request is authenticated by the console's session cookie (no token header).
bool uses_session_cookie(const http_server::Request& req);
// Whether the request comes from the console's own page (session_cookie.hpp's same_origin, with
// X-Forwarded-Host believed from a trusted reverse proxy).
bool from_console_page(http_server::Exchange& ex, const AdminDeps& deps);

// Route groups, each in its own file.
void register_auth_routes(http_server::Router& router, AdminDepsPtr deps);
void register_key_routes(http_server::Router& router, AdminDepsPtr deps);
void register_usage_routes(http_server::Router& router, AdminDepsPtr deps);
void register_account_routes(http_server::Router& router, AdminDepsPtr deps);
void register_export_routes(http_server::Router& router, AdminDepsPtr deps);
void register_dashboard_routes(http_server::Router& router, AdminDepsPtr deps);
void register_settings_routes(http_server::Router& router, AdminDepsPtr deps);
// All of the above plus GET /admin/routes (the route table, for scripts and the auth test).
void register_admin_routes(http_server::Router& router, AdminDepsPtr deps);

}  // namespace crs::admin
