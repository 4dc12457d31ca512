#include "core/logging.hpp"

#include <filesystem>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/secret.hpp"

namespace crs {
namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e%z [%n] %^%l%$ %v";

class RedactingFormatter final : public spdlog::formatter {
 public:
  RedactingFormatter() : inner_(std::make_unique<spdlog::pattern_formatter>(kPattern)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t formatted;
    inner_->format(msg, formatted);
    std::string line(formatted.data(), formatted.size());
    redact_secrets(line);
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<RedactingFormatter>();
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

spdlog::sink_ptr file_sink(const std::string& path, const LogSettings& s) {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  return std::make_shared<spdlog::sinks::rotating_file_sink_mt>(path, s.max_file_bytes, s.max_files);
}

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, std::vector<spdlog::sink_ptr> sinks,
                                            const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  logger->set_formatter(std::make_unique<RedactingFormatter>());
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  return logger;
}

std::shared_ptr<spdlog::logger> g_load_balancing;
std::shared_ptr<spdlog::logger> g_api_export;
std::shared_ptr<spdlog::logger> g_slow_queries;

// A dedicated channel writes its own file only: a decision log on the console would drown
// everything else.
std::shared_ptr<spdlog::logger> make_channel(const std::string& name, const LogChannelSettings& channel,
                                             const LogSettings& s) {
  if (!channel.enabled)
    return std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::null_sink_mt>());
  std::vector<spdlog::sink_ptr> sinks{file_sink(channel.file, s)};
  return make_logger(name, std::move(sinks), channel.level);
}

}  // namespace

void init_logging(const LogSettings& s) {
  spdlog::sink_ptr console;
  std::vector<spdlog::sink_ptr> sinks;
  if (s.console) {
    console = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
    sinks.push_back(console);
  }
  if (!s.file.empty()) sinks.push_back(file_sink(s.file, s));
  auto main = make_logger("crs", sinks, s.level);
  spdlog::set_default_logger(main);
  g_load_balancing = make_channel("load-balancing", s.load_balancing, s);
  g_api_export = make_channel("api-export", s.api_export, s);
  g_api_export->flush_on(spdlog::level::info);  // one line per export: written at once
  g_slow_queries = make_channel("slow-queries", s.slow_queries, s);
  // Registered, so that flush_every reaches their files too.
  for (const auto& channel : {g_load_balancing, g_api_export, g_slow_queries}) {
    spdlog::drop(channel->name());
    spdlog::register_logger(channel);
  }
  spdlog::flush_every(std::chrono::seconds(1));
}

void set_log_levels(const LogSettings& s) {
  spdlog::default_logger_raw()->set_level(spdlog::level::from_str(s.level));
  if (g_load_balancing && s.load_balancing.enabled)
    g_load_balancing->set_level(spdlog::level::from_str(s.load_balancing.level));
  if (g_api_export && s.api_export.enabled) g_api_export->set_level(spdlog::level::from_str(s.api_export.level));
}

void init_cli_logging() {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = make_logger("crs", {console}, "warn");
  spdlog::set_default_logger(logger);
  g_load_balancing = logger;
  g_api_export = logger;
  g_slow_queries = logger;
}

void open_api_export_log(const LogSettings& s) {
  g_api_export = make_channel("api-export", s.api_export, s);
  g_api_export->flush_on(spdlog::level::info);  // a CLI process ends right after its line
}

spdlog::logger& load_balancing_log() {
  return g_load_balancing ? *g_load_balancing : *spdlog::default_logger_raw();
}

spdlog::logger& api_export_log() { return g_api_export ? *g_api_export : *spdlog::default_logger_raw(); }

spdlog::logger& slow_query_log() { return g_slow_queries ? *g_slow_queries : *spdlog::default_logger_raw(); }

}  // namespace crs
