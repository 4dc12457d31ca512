// /web/auth/*: the admin's login, in the Node.js service's shapes (spec/crs-compat.md §7.1).
#include <spdlog/spdlog.h>

#include "admin/admin_http.hpp"
#include "admin/credentials.hpp"
#include "admin/login_throttle.hpp"
#include "admin/password.hpp"
#include "admin/session_cookie.hpp"
#include "core/crypto.hpp"
#include "core/time.hpp"
#include "http/responses.hpp"

namespace crs::admin {
namespace json = boost::json;
using http_server::Exchange;
using store::make_command;

namespace {

// Checked when no login exists, so an unknown username takes as long as a wrong password.
constexpr const char* kDummyHash =
    "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

// The peer, or behind a trusted reverse proxy the client it names (server.trustedProxies).
std::string client_address(const Exchange& ex, const AdminDeps& deps) {
  return deps.trusted_proxies.client_of(ex.remote().address(), ex.request()).to_string();
}

// Logins waiting for the hashing thread beyond this are refused: scrypt is slow on purpose.
constexpr size_t kMaxQueuedHashes = 8;

http_server::Response busy() {
  auto r = admin_error(http::status::service_unavailable, "Service unavailable",
                       "too many logins at once; try again in a moment");
  r.set(http::field::retry_after, "1");
  return r;
}

SessionClaims new_session(const std::string& username, int64_t version, int ttl) {
  SessionClaims c;
  c.username = username;
  c.jti = crypto::random_hex(16);
  c.issued_at = unix_seconds();
  c.expires_at = c.issued_at + ttl;
  c.version = version;
  return c;
}

// The new session: its token in the body, or for the console (`cookie`) in an HttpOnly
// cookie only, so that no script of the page ever holds it.
http_server::Response token_response(const SessionClaims& c, const AdminDeps& deps, const http_server::Request& req,
                                     bool cookie) {
  std::string token = sign_session(c, deps.cfg.security.jwtSecret);
  json::object o{{"success", true},
                 {"expiresIn", (c.expires_at - c.issued_at) * 1000},
                 {"expiresAt", iso8601_utc(std::chrono::system_clock::time_point(std::chrono::seconds(c.expires_at)))},
                 {"username", c.username}};
  if (!cookie) o["token"] = token;
  auto r = http_server::json_response(http::status::ok, json::serialize(o));
  if (cookie) r.set(http::field::set_cookie, session_cookie(token, c.expires_at - c.issued_at, https_origin(req)));
  r.set(http::field::cache_control, "no-store");
  crypto::wipe(token);
  return r;
}

http_server::Response too_many_attempts(int64_t retry_after) {
  auto r = admin_error(http::status::too_many_requests, "Too many login attempts",
                       "too many wrong passwords; try again in " + std::to_string(retry_after) + " seconds");
  r.set(http::field::retry_after, std::to_string(retry_after));
  return r;
}

http_server::Response invalid_credentials() {
  return admin_error(http::status::unauthorized, "Invalid credentials", "Invalid username or password");
}

// Counts the attempt, then checks the password off the I/O thread. Answers the client itself
// unless the password is right (returns the stored login then).
Task<std::optional<Credentials>> check_password(Exchange& ex, const AdminDeps& deps, std::string username,
                                                std::string password) {
  auto& redis = deps.redis_for(ex);
  std::string ip = client_address(ex, deps);
  std::string group = address_group(ip);
  auto stored = co_await load_credentials(redis);
  if (stored && !*stored) {
    // Redis lost the login while running: restore it from init.json (or make a first one).
    auto restored = co_await ensure_credentials(redis, deps.pool, deps.cfg);
    if (restored) stored = co_await load_credentials(redis);
  }
  if (!stored) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", "Redis is not reachable"));
    co_return std::nullopt;
  }
  std::optional<Credentials> login = *stored;
  bool admin_name = login && crypto::equal_constant_time(username, login->username);
  auto counted = co_await redis.command(count_attempt(deps.cfg.admin, group, username, admin_name));
  if (!counted || counted->is_error()) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", "Redis is not reachable"));
    co_return std::nullopt;
  }
  LoginAttempt attempt = attempt_result(*counted);
  if (!attempt.allowed) {
    spdlog::warn("admin login refused for {}: too many attempts", ip);
    co_await ex.send(too_many_attempts(attempt.retry_after_seconds));
    co_return std::nullopt;
  }
  if (deps.pool.queued() >= kMaxQueuedHashes) {
    co_await ex.send(busy());
    co_return std::nullopt;
  }
  auto check = [login, admin_name, password] {
    bool password_ok = verify_password(password, login ? login->password_hash : kDummyHash);
    return admin_name && password_ok;
  };
  bool ok = co_await deps.pool.run(check);
  if (!ok) {
    spdlog::warn("admin login failed from {}", ip);
    co_await ex.send(invalid_credentials());
    co_return std::nullopt;
  }
  co_await redis.pipeline(login_succeeded(group, username));
  co_await upgrade_imported_hash(redis, deps.pool, deps.cfg.server.dataDir, *login, password);
  co_return login;
}

Task<void> login(Exchange& ex, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  std::string username = string_member(*body, "username");
  std::string password = string_member(*body, "password");
  if (username.empty() || password.empty() || username.size() > 256 || password.size() > 1024) {
    co_await ex.send(admin_error(http::status::bad_request, "Missing credentials", "Username and password are required"));
    co_return;
  }
  // The console asks for its session in a cookie: only from its own page (login CSRF).
  bool cookie = string_member(*body, "session") == "cookie";
  if (cookie && !from_console_page(ex, *deps)) {
    co_await ex.send(admin_error(http::status::forbidden, "Forbidden", "a console login must come from the console's own page"));
    co_return;
  }
  auto login = co_await check_password(ex, *deps, username, password);
  crypto::wipe(password);
  if (!login) co_return;
  co_await deps->redis_for(ex).command(
      make_command("HSET", std::string(kCredentialsKey), "lastLogin", iso8601_utc()));
  spdlog::info("admin {} logged in from {}", login->username, client_address(ex, *deps));
  co_await ex.send(token_response(new_session(login->username, login->version, deps->cfg.admin.sessionTtl), *deps,
                                  ex.request(), cookie));
}

// Ends a session; NX makes it happen once, so a token refreshes into one new token only.
store::RedisCommand revoke(const SessionClaims& s) {
  int64_t left = std::max<int64_t>(1, s.expires_at - unix_seconds());
  return make_command("SET", revoked_session_key(s.jti), "1", "EX", std::to_string(left), "NX");
}

Task<void> logout(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto r = co_await deps->redis_for(ex).command(revoke(session));
  if (!r || r->is_error()) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", "Redis is not reachable"));
    co_return;
  }
  auto answer = admin_message("Logout successful");
  if (uses_session_cookie(ex.request()))
    answer.set(http::field::set_cookie, cleared_session_cookie(https_origin(ex.request())));
  co_await ex.send(std::move(answer));
}

Task<void> refresh(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto r = co_await deps->redis_for(ex).command(revoke(session));
  if (!r || r->is_error()) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", "Redis is not reachable"));
    co_return;
  }
  if (r->is_nil()) {  // a parallel refresh or a logout was first
    co_await ex.send(admin_error(http::status::unauthorized, "Invalid session", "this session was ended; log in again"));
    co_return;
  }
  co_await ex.send(token_response(new_session(session.username, session.version, deps->cfg.admin.sessionTtl), *deps,
                                  ex.request(), uses_session_cookie(ex.request())));
}

json::object user_json(const SessionClaims& s) {
  auto iso = [](int64_t seconds) {
    return iso8601_utc(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
  };
  return json::object{{"username", s.username}, {"loginTime", iso(s.issued_at)}, {"expiresAt", iso(s.expires_at)}};
}

bool valid_username(const std::string& u) {
  if (u.empty() || u.size() > 100) return false;
  for (unsigned char c : u)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '@')) return false;
  return true;
}

Task<void> change_password(Exchange& ex, const SessionClaims& session, AdminDepsPtr deps) {
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  std::string current = string_member(*body, "currentPassword");
  std::string next = string_member(*body, "newPassword");
  std::string username = string_member(*body, "newUsername");
  if (username.empty()) username = session.username;
  if (current.empty() || next.size() < 8 || next.size() > 1024) {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request",
                                 "currentPassword is required and newPassword must be 8 to 1024 characters"));
    co_return;
  }
  if (!valid_username(username)) {
    co_await ex.send(admin_error(http::status::bad_request, "Invalid request",
                                 "newUsername: 1 to 100 letters, digits or _ - . @"));
    co_return;
  }
  auto login = co_await check_password(ex, *deps, session.username, current);
  crypto::wipe(current);
  if (!login) co_return;
  auto hashing = [next] { return hash_password(next); };
  std::string hash = co_await deps->pool.run(hashing);
  crypto::wipe(next);
  auto replaced =
      co_await replace_credentials(deps->redis_for(ex), deps->pool, deps->cfg.server.dataDir, username, hash);
  if (!replaced) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", replaced.error().message));
    co_return;
  }
  spdlog::info("admin login changed by {} (now {}); every session ended", session.username, username);
  auto answer = admin_message("Password changed successfully. Please log in again.");
  if (uses_session_cookie(ex.request()))
    answer.set(http::field::set_cookie, cleared_session_cookie(https_origin(ex.request())));
  co_await ex.send(std::move(answer));
}

}  // namespace

void register_auth_routes(http_server::Router& router, AdminDepsPtr deps) {
  router.add(http::verb::post, "/web/auth/login", [deps](Exchange& ex) { return login(ex, deps); },
             http_server::BodyRule{http_server::kSmallBodyLimit});
  add_admin_route(router, http::verb::post, "/web/auth/logout", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return logout(ex, s, deps); });
  add_admin_route(router, http::verb::post, "/web/auth/refresh", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return refresh(ex, s, deps); });
  add_admin_route(router, http::verb::post, "/web/auth/change-password", deps,
                  [deps](Exchange& ex, const SessionClaims& s) { return change_password(ex, s, deps); });
  add_admin_route(router, http::verb::get, "/web/auth/user", deps, [](Exchange& ex, const SessionClaims& s) {
    json::object o{{"success", true}, {"user", user_json(s)}};
    return ex.send(http_server::json_response(http::status::ok, json::serialize(o)));
  });
}

}  // namespace crs::admin
