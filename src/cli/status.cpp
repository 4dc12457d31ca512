// `crs status`: is the server answering /health, is Redis up, how many keys and accounts exist.
#include <iostream>
#include <optional>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "app/serve.hpp"
#include "cli/commands.hpp"
#include "cli/http_client.hpp"
#include "ops/snapshot.hpp"
#include "core/net.hpp"
#include "core/logging.hpp"
#include "store/keyspace.hpp"
#include "store/redis_client.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

constexpr auto kTimeout = std::chrono::seconds(3);


struct RedisStatus {
  bool up = false;
  std::string address;
  std::string error;
  std::string version, memory, clients;
  int64_t keys = 0, accounts = 0;
};

// Outside the coroutine: GCC 12 miscompiles initializer lists inside coroutine frames.
std::vector<store::RedisCommand> status_commands() {
  return {{"INFO", "server"},
          {"INFO", "memory"},
          {"INFO", "clients"},
          {"HLEN", std::string(store::keyspace::kApiKeyHashMap)},
          {"SCARD", std::string(store::keyspace::kAccountIndex)}};
}

Task<RedisStatus> query_redis(store::RedisOptions options) {
  RedisStatus out;
  out.address = options.address();
  auto ex = co_await asio::this_coro::executor;
  options.command_timeout = kTimeout;
  options.connect_timeout = kTimeout;
  store::RedisClient client(ex, options);
  client.start();
  asio::steady_timer wait(ex);
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (!client.connected() && std::chrono::steady_clock::now() < deadline) {
    wait.expires_after(std::chrono::milliseconds(20));
    co_await wait.async_wait(use_nothrow);
  }
  auto replies = co_await client.pipeline(status_commands());
  client.stop();
  if (!replies) {
    out.error = replies.error().message;
    co_return out;
  }
  auto& r = *replies;
  for (const auto& reply : r) {
    if (reply.is_error()) {
      out.error = reply.str;
      co_return out;
    }
  }
  out.up = true;
  out.version = ops::info_field(r[0].str, "redis_version");
  out.memory = ops::info_field(r[1].str, "used_memory_human");
  out.clients = ops::info_field(r[2].str, "connected_clients");
  out.keys = r[3].as_int().value_or(0);
  out.accounts = r[4].as_int().value_or(0);
  co_return out;
}

// The relay to ask: --url, else the one this configuration runs; nothing after saying why.
std::optional<HttpTarget> relay_to_ask(const config::Config& cfg, const std::string& server_url) {
  auto target = parse_http_target(server_url.empty() ? local_base_url(cfg) : server_url);
  if (target) return *target;
  std::cerr << "--url: " << target.error().message << "\n";
  return std::nullopt;
}

HttpCall health_probe() {
  HttpCall probe;
  probe.path = "/health";
  probe.timeout = kTimeout;
  return probe;
}

int status(const GlobalOptions& options, const std::string& server_url) {
  init_cli_logging();
  auto loaded = load_valid_config(options);
  if (!loaded) return 1;
  const auto& cfg = loaded->config;
  auto target = relay_to_ask(cfg, server_url);
  if (!target) return 1;
  std::string base = target->base;

  asio::io_context ctx;
  HttpResult health;
  RedisStatus redis;
  asio::co_spawn(ctx, http_call(*target, health_probe()), [&](std::exception_ptr, HttpResult r) {
    health = std::move(r);
  });
  asio::co_spawn(ctx, query_redis(app::redis_options(cfg)), [&](std::exception_ptr, RedisStatus r) {
    redis = std::move(r);
  });
  ctx.run();

  json::value health_json;
  if (!health.body.empty()) {
    boost::system::error_code ec;
    health_json = json::parse(health.body, ec);
  }
  std::string server_status = health.status == 0 ? "down" : "unknown";
  if (auto* obj = health_json.if_object())
    if (auto* s = obj->if_contains("status"); s && s->is_string()) server_status = std::string(s->get_string());
  bool server_up = health.status == 200;

  if (options.json) {
    json::object out{
        {"ok", server_up && redis.up},
        {"server", json::object{{"url", base},
                                {"up", server_up},
                                {"httpStatus", health.status},
                                {"status", server_status},
                                {"health", health_json}}},
        {"redis", json::object{{"up", redis.up},
                               {"address", redis.address},
                               {"mode", cfg.embedded_redis() ? "embedded" : "external"},
                               {"version", redis.version},
                               {"usedMemory", redis.memory},
                               {"connectedClients", redis.clients},
                               {"error", redis.error}}},
        {"apiKeys", redis.up ? json::value(redis.keys) : json::value(nullptr)},
        {"accounts", redis.up ? json::value(redis.accounts) : json::value(nullptr)},
    };
    if (!health.error.empty()) out["server"].as_object()["error"] = health.error;
    std::cout << json::serialize(out) << "\n";
  } else {
    if (health.status == 0) {
      std::cout << fmt::format("Server    {}  DOWN ({})\n", base, health.error);
    } else {
      std::string detail = server_status;
      if (auto* obj = health_json.if_object()) {
        if (auto* v = obj->if_contains("version"); v && v->is_string())
          detail += fmt::format(", version {}", std::string_view(v->get_string()));
        if (auto* u = obj->if_contains("uptime"); u && u->is_number())
          detail += fmt::format(", uptime {:.0f}s", u->to_number<double>());
      }
      std::cout << fmt::format("Server    {}  {} (HTTP {}, {})\n", base, server_up ? "UP" : "UNHEALTHY", health.status,
                               detail);
    }
    if (redis.up) {
      std::cout << fmt::format("Redis     {}  UP ({}, redis {}, memory {}, {} connected clients)\n", redis.address,
                               cfg.embedded_redis() ? "embedded" : "external", redis.version, redis.memory,
                               redis.clients);
      std::cout << fmt::format("API keys  {}\nAccounts  {}\n", redis.keys, redis.accounts);
    } else {
      std::cout << fmt::format("Redis     {}  DOWN ({})\n", redis.address, redis.error);
    }
  }
  return server_up && redis.up ? 0 : 1;
}


// The container's HEALTHCHECK: exit 0 only when /health answers 200. No Redis, no logging
// setup, no output on success: it runs every 30 s for the life of the container.
int healthcheck(const GlobalOptions& options, const std::string& server_url) {
  auto loaded = load_valid_config(options);
  if (!loaded) return 1;
  auto target = relay_to_ask(loaded->config, server_url);
  if (!target) return 1;
  const std::string& base = target->base;
  asio::io_context ctx;
  HttpResult health;
  asio::co_spawn(ctx, http_call(*target, health_probe()), [&](std::exception_ptr, HttpResult r) { health = std::move(r); });
  ctx.run();
  if (health.status == 200) return 0;
  if (health.status == 0) std::cerr << "unhealthy: " << base << "/health: " << health.error << "\n";
  else std::cerr << "unhealthy: " << base << "/health answered " << health.status << ": " << health.body << "\n";
  return 1;
}

}  // namespace

void add_status_command(CLI::App& app, Context& ctx) {
  auto* status_cmd = app.add_subcommand("status", "Show whether the server and Redis are up, and what they hold");
  auto url = std::make_shared<std::string>();
  status_cmd->add_option("--url", *url, "Server base URL (default: from the configuration)");
  status_cmd->callback([&ctx, url] { ctx.exit_code = status(ctx.global, *url); });
}

void add_healthcheck_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("healthcheck", "Exit 0 if the relay's /health answers 200 (container HEALTHCHECK)");
  auto url = std::make_shared<std::string>();
  cmd->add_option("--url", *url, "Server base URL (default: from the configuration)");
  cmd->callback([&ctx, url] { ctx.exit_code = healthcheck(ctx.global, *url); });
}

}  // namespace crs::cli
