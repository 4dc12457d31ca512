#pragma once
// Helpers for tests that run the real binaries: temp dirs, free ports, child processes,
// a small HTTP client and a real redis-server.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/subprocess.hpp"

namespace crs::test {

using namespace std::chrono_literals;

// Paths baked in by CMake.
std::string crs_binary();
std::string fake_upstream_binary();
std::string source_dir();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

int free_port();
std::string read_file(const std::string& path);
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s,
                std::chrono::milliseconds step = 20ms);

struct HttpResponse {
  int status = 0;                                   // 0: no response (connection failed)
  std::string body;
  std::map<std::string, std::string> headers;       // lower-case names
  std::string error;
  std::string header(const std::string& name) const;
};

HttpResponse http_request(int port, const std::string& method, const std::string& target,
                          const std::string& body = "", const std::map<std::string, std::string>& headers = {},
                          std::chrono::milliseconds timeout = 10s);
// The same to an IPv4 address of this machine other than loopback.
HttpResponse http_request_to(const std::string& host, int port, const std::string& method, const std::string& target,
                             const std::string& body = "", const std::map<std::string, std::string>& headers = {},
                             std::chrono::milliseconds timeout = 10s);
inline HttpResponse http_get(int port, const std::string& target) { return http_request(port, "GET", target); }

// Sends raw bytes on a new connection and returns everything read until the peer closes or
// `timeout` passes.
std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout = 5s);

// A blocking TCP connection for tests that need to control timing byte by byte.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  bool send(const std::string& bytes);
  void shutdown_write();  // SHUT_WR: a half-close, the client still reads
  // Reads what arrives within `timeout` (stops early at EOF).
  std::string receive(std::chrono::milliseconds timeout);
  bool closed_by_peer(std::chrono::milliseconds timeout);
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  bool to_fake_ = false;
};

// Runs a command to completion; returns exit code and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string out;   // stdout
  std::string err;   // stderr
};
CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                          const std::string& cwd = "", std::chrono::milliseconds timeout = 30s);

// A real redis-server on a free port, for tests that want Redis outside the relay.
class RedisServer {
 public:
  explicit RedisServer(const std::string& dir, int port = 0, const std::string& password = "");
  ~RedisServer();
  int port() const { return port_; }
  // Every write on disk before it is acknowledged (appendfsync always), so a SIGKILL and a
  // start() lose nothing. Call before start().
  void persist() { persist_ = true; }
  std::vector<std::string> extra_args;  // more redis-server options (e.g. --replicaof)
  bool start();
  void kill_hard();   // SIGKILL
  bool running();
  // redis-cli, returning stdout (trimmed).
  std::string cli(const std::vector<std::string>& args) const;

 private:
  std::string dir_;
  int port_;
  std::string password_;
  bool persist_ = false;
  std::optional<Subprocess> process_;
};

// The fake Anthropic upstream (tools/fake_upstream) as a process on a free port.
class FakeUpstreamProcess {
 public:
  explicit FakeUpstreamProcess(const TempDir& dir);
  bool start();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // POST /_fake/behaviors
  bool script(const std::string& credential, const std::string& behavior_json, int times = -1);
  std::string requests_json();   // GET /_fake/requests
  std::string stats_json();      // GET /_fake/stats

 private:
  const TempDir& dir_;
  int port_ = 0;
  std::optional<Subprocess> process_;
};

// `crs serve` in its own working directory with the given environment.
class RelayProcess {
 public:
  RelayProcess(const TempDir& dir, std::vector<std::string> env);
  ~RelayProcess();
  bool start(bool wait_healthy = true);
  int port() const { return port_; }
  int embedded_redis_port() const { return redis_port_; }
  // The embedded redis-server's password, from the relay's <dataDir>/secrets.env.
  std::string embedded_redis_password() const;
  Subprocess& process() { return *process_; }
  std::string log() const;
  std::optional<int> stop(std::chrono::milliseconds grace = 10s);   // SIGTERM, wait
  // Runs `crs <args>` as the CLI against this relay (same directory, ports and Redis).
  CommandResult cli(const std::vector<std::string>& args, const std::vector<std::string>& more_env = {}) const;

  std::vector<std::string> serve_flags;  // after `crs serve`

 private:
  const TempDir& dir_;
  std::vector<std::string> env_;
  bool start_once(bool wait_healthy);

  int port_;
  int redis_port_;
  bool ports_given_ = false;  // the test chose a port itself: never replaced
  std::optional<Subprocess> process_;
};

}  // namespace crs::test
