#pragma once
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace crs {

struct LogChannelSettings {
  bool enabled = true;
  std::string level = "info";
  std::string file;  // relative paths are relative to the working directory
};

struct LogSettings {
  std::string level = "info";
  std::string file = "logs/crs.log";
  size_t max_file_bytes = 10 * 1024 * 1024;
  size_t max_files = 5;
  bool console = true;
  LogChannelSettings load_balancing{true, "info", "logs/load-balancing.log"};
  LogChannelSettings api_export{true, "info", "logs/api-export.log"};
  LogChannelSettings slow_queries{true, "info", "logs/slow-queries.log"};
};

// Sets up the default logger (console + rotating file) and the dedicated channels.
// Every sink formats through a redactor (core/secret.hpp), so no credential reaches a log.
void init_logging(const LogSettings& settings);

// The levels of the default logger and the dedicated channels (SIGHUP); files stay as opened.
void set_log_levels(const LogSettings& settings);

// For CLI commands: warnings and errors on stderr only, no files.
void init_cli_logging();
// For CLI commands that export keys: their line goes to the api-export file like the server's.
void open_api_export_log(const LogSettings& settings);

// Dedicated channels of the deployment guide (separate files).
spdlog::logger& load_balancing_log();
spdlog::logger& api_export_log();
// Queries slower than monitoring.metrics.slowQueryThreshold (query/query_runner.hpp).
spdlog::logger& slow_query_log();

}  // namespace crs
