// What every CLI command shares: loading the configuration, reaching Redis, reporting errors.
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include <boost/json.hpp>

#include "app/serve.hpp"
#include "cli/commands.hpp"
#include "core/logging.hpp"
#include "store/embedded_redis.hpp"

namespace crs::cli {

config::Loaded load_config(const GlobalOptions& options) {
  return config::load(config::default_load_options(options.config_path));
}

std::optional<config::Loaded> load_valid_config(const GlobalOptions& options) {
  auto loaded = load_config(options);
  if (loaded.ok()) return loaded;
  for (const auto& e : loaded.errors) std::cerr << "config error: " << e << "\n";
  return std::nullopt;
}

int fail(const GlobalOptions& options, const std::string& message) {
  if (options.json) std::cout << boost::json::serialize(boost::json::object{{"error", message}}) << "\n";
  else std::cerr << "error: " << message << "\n";
  return 1;
}

void add_serve_command(CLI::App& app, Context& ctx) {
  auto* serve = app.add_subcommand("serve", "Run the relay server (HTTP API, embedded Redis unless configured)");
  auto takeover = std::make_shared<bool>(false);
  serve->add_flag("--takeover", *takeover,
                  "Listen beside the crs already on this port and take its new connections (zero-downtime upgrade: "
                  "then stop the old one with SIGTERM); needs an external Redis");
  serve->callback([&ctx, takeover] {
    auto loaded = load_valid_config(ctx.global);
    if (loaded && *takeover && loaded->config.embedded_redis()) {
      std::cerr << "error: --takeover needs an external Redis (REDIS_HOST / REDIS_URL): the embedded one stops with "
                   "the process it belongs to\n";
      ctx.exit_code = 1;
      return;
    }
    ctx.exit_code =
        loaded ? app::serve(std::move(*loaded), config::default_load_options(ctx.global.config_path), *takeover) : 1;
  });
}

namespace {

// Whether anything accepts connections on 127.0.0.1:port (a redis-server still loading its AOF
// accepts before it answers: that one must not get a second server beside it).
bool port_taken(int port) {
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
  return !ec;
}

// The embedded Redis's data belongs to the relay's user: a command run as another (root, beside
// a systemd service) would leave files the relay cannot open.
Status check_data_owner(const std::string& data_dir) {
  struct stat st{};
  if (::stat(data_dir.c_str(), &st) != 0) return Error{"no data directory at " + data_dir + ": has the relay run here?"};
  if (st.st_uid != ::geteuid())
    return Error{"the data directory " + data_dir + " belongs to another user: run this command as that user"};
  return Ok{};
}

void wait_connected(asio::io_context& io, store::RedisClient& redis, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!redis.connected() && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(20));
}

}  // namespace

int with_redis(const GlobalOptions& options, bool need_secrets,
               std::function<Task<int>(store::RedisClient&, const config::Config&)> body, bool start_embedded) {
  init_cli_logging();
  auto loaded = load_valid_config(options);
  if (!loaded) return 1;
  const auto& cfg = loaded->config;
  if (need_secrets && cfg.security.encryptionKey.empty())
    return fail(options, "ENCRYPTION_KEY is not set and none was generated yet: start `crs serve` once in this "
                         "directory (it generates one into " + cfg.server.dataDir + "/secrets.env) or set ENCRYPTION_KEY");
  auto redis_options = app::redis_options(cfg);
  asio::io_context io;
  store::RedisClient redis(io.get_executor(), redis_options);
  redis.start();
  std::unique_ptr<store::EmbeddedRedis> embedded;
  if (start_embedded && cfg.embedded_redis()) {
    // The relay is stopped (a restore is done so): run its embedded redis-server for this command.
    wait_connected(io, redis, std::chrono::milliseconds(1000));
    if (!redis.connected() && !port_taken(cfg.redis.embeddedPort)) {
      if (auto owner = check_data_owner(cfg.server.dataDir); !owner) return fail(options, owner.error().message);
      auto started = app::start_embedded_redis(cfg, io);
      if (!started) return fail(options, started.error().message);
      embedded = std::move(*started);
      std::cerr << "the relay is not running: started its embedded Redis (" << cfg.server.dataDir
                << "/redis) for this command\n";
    }
  }
  wait_connected(io, redis, redis_options.connect_timeout);
  if (!redis.connected()) {
    if (embedded) embedded->stop();
    std::string hint = cfg.embedded_redis() ? " (the embedded Redis runs while `crs serve` runs)" : "";
    return fail(options, "cannot reach Redis at " + redis_options.address() + hint);
  }
  int code = 1;
  bool done = false;
  asio::co_spawn(io, body(redis, cfg), [&](std::exception_ptr e, int result) {
    done = true;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        code = fail(options, ex.what());
      }
    } else {
      code = result;
    }
  });
  while (!done) io.run_one();
  redis.stop();
  if (embedded) embedded->stop();
  io.run_for(std::chrono::milliseconds(50));
  return code;
}

}  // namespace crs::cli
