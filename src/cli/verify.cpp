// `crs verify`: the deployment verification of the v1.1.0 guide, for real, against the running
// relay and its Redis: /health, the admin login, the accounts and a token-free probe of each, an
// export round trip through the admin API, /metrics, the schema version and Redis's persistence.
// A table of checks; exit 0 when none failed or was skipped.
#include <fstream>
#include <iostream>
#include <optional>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "admin/admin_http.hpp"
#include "admin/credentials.hpp"
#include "cli/commands.hpp"
#include "cli/http_client.hpp"
#include "core/crypto.hpp"
#include "ops/schema.hpp"
#include "ops/snapshot.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

struct VerifyArgs {
  std::string url;
  std::string username;
  bool password_stdin = false;
};

struct Login {
  std::string username, password, source;
};

enum class Result { Ok, Warn, Fail, Skip };

struct Check {
  std::string name;
  Result result = Result::Ok;
  std::string detail;
};

const char* result_name(Result r) {
  switch (r) {
    case Result::Ok: return "ok";
    case Result::Warn: return "warn";
    case Result::Fail: return "FAIL";
    case Result::Skip: return "skipped";
  }
  return "?";
}

std::optional<json::object> parse_object(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

std::string top_member(const std::string& body, const char* name) {
  auto o = parse_object(body);
  return o ? admin::string_member(*o, name) : "";
}

// A string member of an admin answer's `data` object ("" when there is none).
std::string data_member(const std::string& body, const char* name) {
  auto o = parse_object(body);
  if (!o) return "";
  auto* data = o->if_contains("data");
  return data && data->is_object() ? admin::string_member(data->as_object(), name) : "";
}

// The admin login to try: given, configured, or the first start's (init.json, before a change).
std::optional<Login> find_login(const VerifyArgs& args, const config::Config& cfg) {
  if (!args.username.empty() && args.password_stdin) {
    Login l{args.username, "", "--password-stdin"};
    std::getline(std::cin, l.password);
    return l;
  }
  if (!cfg.admin.username.empty() && !cfg.admin.password.empty())
    return Login{cfg.admin.username, cfg.admin.password, "the configuration (ADMIN_USERNAME)"};
  std::ifstream in(admin::init_file_path(cfg.server.dataDir));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto init = parse_object(text);
  if (init && !admin::string_member(*init, "adminPassword").empty())
    return Login{admin::string_member(*init, "adminUsername"), admin::string_member(*init, "adminPassword"), "init.json"};
  return std::nullopt;
}

std::string login_body(const Login& l) {
  return json::serialize(json::object{{"username", l.username}, {"password", l.password}});
}

std::string export_body(const std::string& tag) {
  return json::serialize(json::object{{"format", "json"}, {"filters", json::object{{"tags", json::array{json::value(tag)}}}}});
}

class Verifier {
 public:
  Verifier(HttpTarget target, store::RedisClient& redis, const config::Config& cfg)
      : target_(std::move(target)), redis_(redis), cfg_(cfg) {}

  Task<std::vector<Check>> run(std::optional<Login> login) {
    co_await health();
    bool in = co_await log_in(login);
    if (in) {
      co_await accounts();
      co_await export_round_trip();
    } else {
      skip("accounts", "needs the admin login");
      skip("account probes", "needs the admin login");
      skip("export round trip", "needs the admin login");
    }
    co_await metrics();
    co_await schema();
    co_await persistence();
    if (in) co_await call("POST", "/web/auth/logout", "");  // the session ends with the check
    co_return std::move(checks_);
  }

 private:
  void add(std::string name, Result r, std::string detail) { checks_.push_back(Check{std::move(name), r, std::move(detail)}); }
  void skip(std::string name, std::string why) { add(std::move(name), Result::Skip, std::move(why)); }

  Task<HttpResult> call(std::string method, std::string path, std::string body) {
    HttpCall c;
    c.method = std::move(method);
    c.path = std::move(path);
    c.body = std::move(body);
    c.timeout = std::chrono::seconds(20);
    if (!c.body.empty()) c.headers.emplace_back("content-type", "application/json");
    if (!token_.empty()) c.headers.emplace_back("authorization", "Bearer " + token_);
    co_return co_await http_call(target_, std::move(c));
  }

  Task<void> health() {
    auto r = co_await call("GET", "/health", "");
    std::string status = top_member(r.body, "status");
    if (r.status == 200) add("health", status == "healthy" ? Result::Ok : Result::Warn, "/health: " + status);
    else if (r.status == 0) add("health", Result::Fail, target_.base + " does not answer: " + r.error);
    else add("health", Result::Fail, fmt::format("/health answered {} ({})", r.status, status));
  }

  Task<bool> log_in(std::optional<Login> login) {
    if (!login) {
      skip("admin login", "no password to try: give --username U --password-stdin (it changed since the first start)");
      co_return false;
    }
    auto r = co_await call("POST", "/web/auth/login", login_body(*login));
    auto o = parse_object(r.body);
    if (r.status != 200 || !o || admin::string_member(*o, "token").empty()) {
      add("admin login", Result::Fail, fmt::format("as {} from {}: HTTP {}", login->username, login->source, r.status));
      co_return false;
    }
    token_ = admin::string_member(*o, "token");
    auto user = co_await call("GET", "/web/auth/user", "");
    add("admin login", user.status == 200 ? Result::Ok : Result::Fail,
        fmt::format("as {} (from {}); the session {}", login->username, login->source,
                    user.status == 200 ? "is accepted" : "is refused"));
    co_return user.status == 200;
  }

  Task<void> accounts() {
    auto r = co_await call("GET", "/admin/claude-accounts", "");
    auto o = parse_object(r.body);
    const json::value* data = o ? o->if_contains("data") : nullptr;
    if (r.status != 200 || !data || !data->is_array()) {
      add("accounts", Result::Fail, fmt::format("GET /admin/claude-accounts answered {}", r.status));
      skip("account probes", "no account list");
      co_return;
    }
    const auto& list = data->as_array();
    if (list.empty()) {
      add("accounts", Result::Warn, "no upstream account: nothing can be relayed yet");
      co_return;
    }
    add("accounts", Result::Ok, fmt::format("{} listed", list.size()));
    int failing = 0;
    std::string names;
    for (const auto& a : list) {
      std::string id = admin::string_member(a.as_object(), "id");
      auto probe = co_await call("POST", "/admin/accounts/" + id + "/health-check", "");
      auto p = parse_object(probe.body);
      const json::value* d = p ? p->if_contains("data") : nullptr;
      const json::value* verdict = d && d->is_object() ? d->as_object().if_contains("failing") : nullptr;
      bool bad = probe.status != 200 || !verdict || !verdict->is_bool() || verdict->as_bool();
      if (bad) {
        ++failing;
        names += (names.empty() ? "" : ", ") + admin::string_member(a.as_object(), "name");
      }
    }
    if (failing == 0) add("account probes", Result::Ok, fmt::format("{} of {} healthy (no tokens spent)", list.size(), list.size()));
    else add("account probes", Result::Fail, fmt::format("{} of {} failing: {}", failing, list.size(), names));
  }

  Task<void> export_round_trip() {
    std::string tag = "crs-verify-" + crypto::random_hex(6);  // matches no key: an empty, quick export
    auto started = co_await call("POST", "/admin/api-keys/export", export_body(tag));
    if (started.status == 404) {
      add("export round trip", Result::Warn, "exports are off (apiExport.enabled = false)");
      co_return;
    }
    std::string id = data_member(started.body, "id");
    if (started.status != 202 || id.empty()) {
      add("export round trip", Result::Fail, fmt::format("starting an export answered {}", started.status));
      co_return;
    }
    std::string state = co_await wait_for_export(id);
    if (state != "done") {
      add("export round trip", Result::Fail, fmt::format("export {} ended {}", id, state));
      co_return;
    }
    auto file = co_await call("GET", "/admin/exports/" + id + "/download", "");
    boost::system::error_code ec;
    json::parse(file.body, ec);
    auto removed = co_await call("DELETE", "/admin/exports/" + id, "");
    if (file.status == 200 && !ec && removed.status == 200)
      add("export round trip", Result::Ok,
          fmt::format("task {}: written, downloaded ({} bytes, JSON), removed", id, file.body.size()));
    else
      add("export round trip", Result::Fail,
          fmt::format("download {} ({}), removal {}", file.status, ec ? "not JSON" : "JSON", removed.status));
  }

  Task<std::string> wait_for_export(std::string id) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int i = 0; i < 300; ++i) {
      auto r = co_await call("GET", "/admin/exports/" + id, "");
      std::string state = data_member(r.body, "state");
      if (state.empty()) co_return fmt::format("HTTP {}", r.status);
      if (state != "queued" && state != "running") co_return state;
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(use_nothrow);
    }
    co_return std::string("still running after 30 s");
  }

  Task<void> metrics() {
    std::string saved = std::exchange(token_, cfg_.monitoring.metrics.token);
    auto r = co_await call("GET", "/metrics", "");
    token_ = saved;
    if (r.status == 404) add("metrics", Result::Warn, "/metrics is off (monitoring.enabled = false)");
    else if (r.status == 200 && r.body.find("crs_http_requests_total") != std::string::npos)
      add("metrics", Result::Ok, fmt::format("/metrics: {} bytes of Prometheus text", r.body.size()));
    else if (r.status == 403 || r.status == 401)
      add("metrics", Result::Fail, "/metrics refused this client: set METRICS_TOKEN for remote scrapes");
    else add("metrics", Result::Fail, fmt::format("/metrics answered {}", r.status));
  }

  Task<void> schema() {
    auto s = co_await ops::read_schema(redis_);
    if (!s) add("schema", Result::Fail, s.error().message);
    else if (s->stored == ops::kSchemaVersion) add("schema", Result::Ok, fmt::format("version {}", s->stored));
    else if (s->newer) add("schema", Result::Fail, ops::newer_data_message(s->stored));
    else add("schema", Result::Warn, fmt::format("version {}: run `crs data migrate`", s->stored));
  }

  Task<void> persistence();

  HttpTarget target_;
  store::RedisClient& redis_;
  const config::Config& cfg_;
  std::vector<Check> checks_;
  std::string token_;
};

std::vector<store::RedisCommand> persistence_reads() {
  std::vector<store::RedisCommand> out;
  out.push_back(store::make_command("INFO", "persistence"));
  out.push_back(store::make_command("INFO", "memory"));
  out.push_back(store::make_command("CONFIG", "GET", "save"));
  return out;
}

// What a Redis restart or memory pressure would do to the relay's data.
Task<void> Verifier::persistence() {
  auto replies = co_await redis_.pipeline(persistence_reads());
  if (!replies || (*replies)[0].is_error()) {
    std::string why;
    if (replies) why = (*replies)[0].str;
    else why = replies.error().message;
    add("redis persistence", Result::Fail, why);
    co_return;
  }
  const auto& info = (*replies)[0].str;
  std::string policy = ops::info_field((*replies)[1].str, "maxmemory_policy");
  bool aof = ops::info_field(info, "aof_enabled") == "1";
  const auto& save = (*replies)[2];
  bool config_readable = !save.is_error() && save.elements.size() == 2;
  bool rdb = config_readable && !save.elements[1].str.empty();
  std::vector<std::string> problems;
  Result r = Result::Ok;
  if (policy != "noeviction") {
    problems.push_back("maxmemory-policy " + policy + " evicts keys and accounts under memory pressure: set noeviction");
    r = Result::Warn;
  }
  if (!aof && config_readable && !rdb) {
    problems.push_back("neither AOF nor RDB snapshots: a Redis restart loses everything");
    r = Result::Warn;
  }
  if (ops::info_field(info, "rdb_last_bgsave_status") == "err" || ops::info_field(info, "aof_last_write_status") == "err") {
    problems.push_back("Redis's last write to disk failed");
    r = Result::Fail;
  }
  std::string save_rules = "(CONFIG not allowed)";
  if (config_readable) save_rules = save.elements[1].str;
  std::string detail =
      fmt::format("appendonly {}, save \"{}\", maxmemory-policy {}", aof ? "yes" : "no", save_rules, policy);
  for (const auto& p : problems) detail += "; " + p;
  add("redis persistence", r, detail);
}

void print(const std::vector<Check>& checks) {
  std::cout << fmt::format("{:<20} {:<8} {}\n", "CHECK", "RESULT", "DETAIL");
  for (const auto& c : checks) std::cout << fmt::format("{:<20} {:<8} {}\n", c.name, result_name(c.result), c.detail);
}

json::value checks_json(const std::vector<Check>& checks, bool passed) {
  json::array out;
  for (const auto& c : checks)
    out.push_back(json::object{{"check", c.name}, {"result", result_name(c.result)}, {"detail", c.detail}});
  return json::object{{"passed", passed}, {"checks", std::move(out)}};
}

Task<int> verify(GlobalOptions options, VerifyArgs args, store::RedisClient& redis, const config::Config& cfg) {
  std::string base = args.url;
  if (base.empty()) base = local_base_url(cfg);
  auto target = parse_http_target(base);
  if (!target) co_return fail(options, target.error().message);
  Verifier verifier(*target, redis, cfg);
  auto checks = co_await verifier.run(find_login(args, cfg));
  bool passed = std::none_of(checks.begin(), checks.end(),
                             [](const Check& c) { return c.result == Result::Fail || c.result == Result::Skip; });
  if (options.json) std::cout << json::serialize(checks_json(checks, passed)) << "\n";
  else print(checks);
  co_return passed ? 0 : 1;
}

}  // namespace

void add_verify_command(CLI::App& app, Context& ctx) {
  auto* v = app.add_subcommand("verify", "Verify a deployment: health, admin login, accounts, export, metrics, Redis");
  auto args = std::make_shared<VerifyArgs>();
  v->add_option("--url", args->url, "The relay's base URL (default: from the configuration)");
  v->add_option("--username", args->username, "Admin username (with --password-stdin)");
  v->add_flag("--password-stdin", args->password_stdin, "Read the admin password from stdin");
  v->callback([&ctx, args] {
    auto body = [&ctx, args](store::RedisClient& redis, const config::Config& cfg) {
      return verify(ctx.global, *args, redis, cfg);
    };
    ctx.exit_code = with_redis(ctx.global, false, body);
  });
}

}  // namespace crs::cli
