// The `crs` binary: `crs serve` runs the relay; every other subcommand is the CLI.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

#ifdef CRS_JEMALLOC
// jemalloc's options, read when it starts (MALLOC_CONF in the environment still overrides them):
// a background thread gives freed memory back to the system after 1 s unused, idle or not
// (without it, only the allocation activity that an idle relay lacks does), straight with
// MADV_DONTNEED so that RSS shows it (the lazy MADV_FREE step is skipped). 5,000 streams
// opened at once peaked at 174 MB with 5 s, 158 MB with 1 s (what the ramp freed, still held);
// 0 (purge at once, on the request path) cost S1 128 µs per request against 61-95 µs with 5 s
// or 1 s in the same runs (this machine could not tell those two apart).
extern "C" const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif

int main(int argc, char** argv) {
  CLI::App app{"crs - Claude Relay Service: a relay for the Anthropic Messages API", "crs"};
  app.set_version_flag("--version", std::string("crs ") + CRS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  crs::cli::Context ctx;
  app.add_option("--config", ctx.global.config_path, "Configuration file (default: config/config.toml if present)");
  app.add_flag("--json", ctx.global.json, "Machine-readable JSON output");

  crs::cli::add_serve_command(app, ctx);
  crs::cli::add_config_commands(app, ctx);
  crs::cli::add_status_command(app, ctx);
  crs::cli::add_healthcheck_command(app, ctx);
  crs::cli::add_keys_commands(app, ctx);
  crs::cli::add_accounts_commands(app, ctx);
  crs::cli::add_usage_command(app, ctx);
  crs::cli::add_admin_commands(app, ctx);
  crs::cli::add_pricing_commands(app, ctx);
  crs::cli::add_load_balance_commands(app, ctx);
  crs::cli::add_groups_commands(app, ctx);
  crs::cli::add_export_commands(app, ctx);
  crs::cli::add_alerts_commands(app, ctx);
  crs::cli::add_backup_commands(app, ctx);
  crs::cli::add_data_commands(app, ctx);
  crs::cli::add_verify_command(app, ctx);
  crs::cli::add_import_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return ctx.exit_code;
}
