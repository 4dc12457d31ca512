#include "store/embedded_redis.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include <spdlog/spdlog.h>

namespace crs::store {
namespace fs = std::filesystem;

EmbeddedRedis::EmbeddedRedis(asio::any_io_executor executor, EmbeddedRedisOptions options)
    : executor_(executor), options_(std::move(options)), timer_(executor) {}

EmbeddedRedis::~EmbeddedRedis() { stop(); }

std::optional<int> EmbeddedRedis::pid() const {
  if (process_ && process_->running()) return process_->pid();
  return std::nullopt;
}

Status EmbeddedRedis::spawn() {
  std::error_code ec;
  fs::path dir = fs::absolute(options_.dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Error{"cannot create " + dir.string() + ": " + ec.message()};
  ::chmod(dir.c_str(), 0700);
  // The password goes in a config file only its owner reads: on the command line every local
  // user would see it in /proc/<pid>/cmdline.
  fs::path conf = dir / "redis.conf";
  {
    mode_t old = ::umask(0077);
    std::ofstream out(conf, std::ios::trunc);
    ::umask(old);
    out << "# Written by crs at every start of the embedded redis-server.\n";
    if (!options_.password.empty()) out << "requirepass " << options_.password << "\n";
    if (!out) return Error{"cannot write " + conf.string()};
  }
  ::chmod(conf.c_str(), 0600);
  SpawnOptions spawn;
  spawn.argv = {options_.binary, conf.string(),
                "--bind", "127.0.0.1",
                "--port", std::to_string(options_.port),
                "--protected-mode", "yes",
                "--daemonize", "no",
                "--dir", dir.string(),
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
                "--pidfile", (dir / "redis.pid").string(),
                "--logfile", (dir / "redis.log").string()};
  auto child = Subprocess::spawn(spawn);
  if (!child) return child.error();
  process_.emplace(std::move(child.value()));
  started_at_ = std::chrono::steady_clock::now();
  spdlog::info("embedded redis-server started (pid {}, 127.0.0.1:{}, data {})", process_->pid(), options_.port,
               dir.string());
  return Ok{};
}

Status EmbeddedRedis::start() {
  stopping_ = false;
  if (auto s = spawn(); !s) return s;
  // Wait (at startup only, before any I/O thread serves) until it accepts connections, so a
  // port conflict or a bad data directory is reported at once instead of as endless retries.
  asio::io_context probe_context;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    tcp::socket probe(probe_context);
    beast::error_code ec;
    probe.connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<uint16_t>(options_.port)), ec);
    if (!ec) break;
    if (process_->poll() || std::chrono::steady_clock::now() > deadline) {
      auto code = process_->poll();
      if (!code) process_->terminate(std::chrono::seconds(2));
      return Error{fmt::format("embedded redis-server on port {} did not start (exit code {}); see {}/redis.log "
                               "(is the port in use? set redis.embeddedPort / REDIS_EMBEDDED_PORT)",
                               options_.port, code.value_or(-1), options_.dir)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  schedule_check(options_.check_interval);
  return Ok{};
}

void EmbeddedRedis::schedule_check(std::chrono::milliseconds delay) {
  timer_.expires_after(delay);
  timer_.async_wait([this](beast::error_code ec) {
    if (ec || stopping_) return;
    if (process_ && process_->running() && !process_->poll()) {
      schedule_check(options_.check_interval);
      return;
    }
    if (!restart_pending_) {
      // Just found it dead: wait before restarting, longer after each quick crash.
      auto uptime = std::chrono::steady_clock::now() - started_at_;
      restart_delay_ = uptime > std::chrono::minutes(1) ? std::chrono::milliseconds(250)
                                                        : std::min(restart_delay_ * 2, options_.max_restart_delay);
      spdlog::error("embedded redis-server exited with code {}; restarting in {} ms (log: {}/redis.log)",
                    process_ ? process_->poll().value_or(-1) : -1, restart_delay_.count(), options_.dir);
      restart_pending_ = true;
      schedule_check(restart_delay_);
      return;
    }
    ++restarts_;
    if (auto s = spawn(); !s) {
      restart_delay_ = std::min(restart_delay_ * 2, options_.max_restart_delay);
      spdlog::error("embedded redis-server: {}; retrying in {} ms", s.error().message, restart_delay_.count());
      schedule_check(restart_delay_);
      return;
    }
    restart_pending_ = false;
    schedule_check(options_.check_interval);
  });
}

void EmbeddedRedis::stop() {
  if (stopping_) return;
  stopping_ = true;
  timer_.cancel();
  if (process_ && process_->running()) {
    int code = process_->terminate(std::chrono::seconds(10));
    spdlog::info("embedded redis-server stopped (exit code {})", code);
  }
  process_.reset();
}

}  // namespace crs::store
