#pragma once
#include "config/loader.hpp"
#include "core/logging.hpp"
#include "store/embedded_redis.hpp"
#include "store/redis_options.hpp"

namespace crs::app {

// Where the configuration says Redis is: the embedded redis-server's port, or the external one.
store::RedisOptions redis_options(const config::Config& config);

// The embedded redis-server when the configuration names no external Redis (null otherwise).
Result<std::unique_ptr<store::EmbeddedRedis>> start_embedded_redis(const config::Config& cfg, asio::io_context& main);

// The log files and channels of logging.*.
LogSettings log_settings(const config::LoggingConfig& config);
LogSettings log_settings(const config::Config& config);  // with the slow-query log

// `crs serve`: builds and wires every service, runs until SIGTERM/SIGINT, returns the exit code.
// SIGHUP reads the configuration again from `reload_from` (app/config_reload.hpp). `takeover`:
// listen beside the crs already on the port and take its new connections (http/listener_group.hpp).
int serve(config::Loaded loaded, config::LoadOptions reload_from, bool takeover = false);

}  // namespace crs::app
