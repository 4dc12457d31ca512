#pragma once
// Each file in cli/ adds its subcommands to the app; a command's callback sets the exit code.
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "config/loader.hpp"
#include "core/net.hpp"
#include "store/redis_client.hpp"

namespace crs::cli {

struct GlobalOptions {
  std::string config_path;
  bool json = false;
};

struct Context {
  GlobalOptions global;
  int exit_code = 0;
};

config::Loaded load_config(const GlobalOptions& options);
// The configuration, or nothing after printing its errors to stderr.
std::optional<config::Loaded> load_valid_config(const GlobalOptions& options);

void add_serve_command(CLI::App& app, Context& ctx);
void add_config_commands(CLI::App& app, Context& ctx);
void add_status_command(CLI::App& app, Context& ctx);
void add_healthcheck_command(CLI::App& app, Context& ctx);
void add_keys_commands(CLI::App& app, Context& ctx);
void add_accounts_commands(CLI::App& app, Context& ctx);
void add_usage_command(CLI::App& app, Context& ctx);
void add_admin_commands(CLI::App& app, Context& ctx);
void add_pricing_commands(CLI::App& app, Context& ctx);
void add_load_balance_commands(CLI::App& app, Context& ctx);
void add_groups_commands(CLI::App& app, Context& ctx);
void add_export_commands(CLI::App& app, Context& ctx);
void add_alerts_commands(CLI::App& app, Context& ctx);
void add_backup_commands(CLI::App& app, Context& ctx);
void add_data_commands(CLI::App& app, Context& ctx);
void add_verify_command(CLI::App& app, Context& ctx);
void add_import_commands(CLI::App& app, Context& ctx);

// Loads the configuration, connects to Redis and runs `body`; prints why if either fails.
// `need_secrets`: the command needs ENCRYPTION_KEY (it hashes keys or seals credentials).
// `start_embedded`: with the embedded Redis configured and the relay stopped, run its
// redis-server (on its data directory) for the command (backup, restore, data migrate).
int with_redis(const GlobalOptions& options, bool need_secrets,
               std::function<Task<int>(store::RedisClient&, const config::Config&)> body,
               bool start_embedded = false);

// This machine's name (who ran a CLI export, which instance sent a test alert).
std::string host_name();

// Prints errors the same way in every command: JSON {"error": ...} or "error: ..." on stderr.
int fail(const GlobalOptions& options, const std::string& message);

}  // namespace crs::cli
