// The `crs` binary: `crs serve` runs the relay; every other subcommand is the CLI.
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/serve.hpp"
#include "cli/commands.hpp"
#include "core/logging.hpp"

int main(int argc, char** argv) {
  CLI::App app{"crs - Claude Relay Service: a relay for the Anthropic Messages API", "crs"};
  app.set_version_flag("--version", std::string("crs ") + CRS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  crs::cli::GlobalOptions global;
  app.add_option("--config", global.config_path, "Configuration file (default: config/config.toml if present)");
  app.add_flag("--json", global.json, "Machine-readable JSON output");

  auto* serve = app.add_subcommand("serve", "Run the relay server (HTTP API, embedded Redis unless configured)");

  auto* config = app.add_subcommand("config", "Configuration commands");
  config->require_subcommand(1);
  auto* config_check =
      config->add_subcommand("check", "Validate the configuration and print every key with its source");

  auto* status = app.add_subcommand("status", "Show whether the server and Redis are up, and what they hold");
  std::string server_url;
  status->add_option("--url", server_url, "Server base URL (default: from the configuration)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (serve->parsed()) {
    auto loaded = crs::cli::load_config(global);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors) std::cerr << "config error: " << e << "\n";
      return 1;
    }
    return crs::app::serve(std::move(loaded));
  }
  crs::init_cli_logging();
  if (config_check->parsed()) return crs::cli::config_check(global);
  if (status->parsed()) return crs::cli::status(global, server_url);
  return 2;
}
