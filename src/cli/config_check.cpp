// `crs config check`: the effective configuration, where each value came from, and every error.
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "admin/config_view.hpp"
#include "alerts/channels.hpp"
#include "cli/commands.hpp"
#include "core/logging.hpp"
#include "export/files.hpp"

namespace crs::cli {
namespace json = boost::json;

namespace {

// What the relay will say of apiExport.outputDir when it starts (exports refused), or "".
std::string export_dir_problem(const config::Config& cfg) {
  if (!cfg.apiExport.enabled) return {};
  auto s = key_export::check_output_dir(cfg.apiExport.outputDir);
  return s ? std::string() : s.error().message + " (API key export will be refused until it is fixed)";
}

int config_check(const GlobalOptions& options) {
  init_cli_logging();
  auto loaded = load_config(options);
  const auto& cfg = loaded.config;
  // What the relay also refuses at start: alert channels that could never be reached.
  if (auto channels = alerts::configured_channels(cfg); !channels) loaded.errors.push_back(channels.error().message);

  if (options.json) {
    json::array keys = admin::config_keys_json(cfg, loaded.origins, admin::SecretView::kMasked);
    json::array errors;
    for (const auto& e : loaded.errors) errors.emplace_back(e);
    json::array warnings;
    if (auto dir = export_dir_problem(cfg); !dir.empty()) warnings.emplace_back(dir);
    json::object out{{"valid", loaded.ok()},
                     {"warnings", std::move(warnings)},
                     {"configFile", loaded.config_path.empty() ? json::value(nullptr) : json::value(loaded.config_path)},
                     {"errors", std::move(errors)},
                     {"keys", std::move(keys)}};
    std::cout << json::serialize(out) << "\n";
    return loaded.ok() ? 0 : 1;
  }

  std::cout << "Configuration file: " << (loaded.config_path.empty() ? "(none, defaults)" : loaded.config_path)
            << "\n\n";
  size_t width = 0;
  for (const auto& spec : config::schema()) width = std::max(width, spec.path.size());
  std::cout << fmt::format("{:<{}}  {:<40}  {}\n", "KEY", width, "VALUE", "SOURCE");
  for (const auto& spec : config::schema()) {
    const auto& origin = loaded.origins.at(spec.path);
    bool secret_generated = spec.path == "security.jwtSecret" || spec.path == "security.encryptionKey";
    std::string where = origin.source == config::Source::Default ? "default"
                        : fmt::format("{} ({})", config::source_name(origin.source), origin.where);
    std::cout << fmt::format("{:<{}}  {:<40}  {}\n", spec.path, width, admin::shown_value(spec, spec.get(cfg), secret_generated),
                             where);
  }
  std::cout << "\n";
  if (auto dir = export_dir_problem(cfg); !dir.empty()) std::cerr << "warning: " << dir << "\n";
  if (loaded.ok()) {
    std::cout << "OK: the configuration is valid.\n";
    return 0;
  }
  for (const auto& e : loaded.errors) std::cerr << "error: " << e << "\n";
  std::cerr << loaded.errors.size() << " error(s) in the configuration.\n";
  return 1;
}

}  // namespace

void add_config_commands(CLI::App& app, Context& ctx) {
  auto* config = app.add_subcommand("config", "Configuration commands");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "Validate the configuration and print every key with its source");
  check->callback([&ctx] { ctx.exit_code = config_check(ctx.global); });
}

}  // namespace crs::cli
