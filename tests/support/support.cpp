#include "support.hpp"

#include "support/secret_sweep.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/net.hpp"

namespace crs::test {
namespace fs = std::filesystem;

std::string crs_binary() { return CRS_TEST_CRS_BINARY; }
std::string fake_upstream_binary() { return CRS_TEST_FAKE_UPSTREAM_BINARY; }
std::string source_dir() { return CRS_TEST_SOURCE_DIR; }

namespace {

// Ports of fake upstreams this process started: their answers are not the relay's.
std::mutex fake_ports_mutex;
std::set<int> fake_ports;

void add_fake_upstream(int port) {
  std::lock_guard lock(fake_ports_mutex);
  fake_ports.insert(port);
}

bool is_fake_upstream(int port) {
  std::lock_guard lock(fake_ports_mutex);
  return fake_ports.count(port) > 0;
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "crs-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  if (!made) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  if (std::getenv("CRS_TEST_KEEP")) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  if (name.ends_with(".toml") || name.ends_with(".env")) sweep::secrets_in_config(content);
  fs::create_directories(fs::path(file(name)).parent_path());
  std::ofstream(file(name)) << content;
}

namespace {

// The lowest port the kernel hands out to outgoing connections (ip_local_port_range).
int ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}

bool bindable(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

// A random free port below the ephemeral range: a port the kernel picked for us could be
// given again to any outgoing connection (every HTTP request of a test makes one) before the
// process under test binds it. Parallel tests pick among thousands, and check it is free.
int free_port() {
  static thread_local std::mt19937 rng{std::random_device{}() ^ static_cast<unsigned>(getpid())};
  int high = std::max(ephemeral_low() - 1, 11000);
  std::uniform_int_distribution<int> pick(10000, high);
  for (int i = 0; i < 1000; ++i) {
    int port = pick(rng);
    if (bindable(port)) return port;
  }
  return 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(step);
  }
  return condition();
}

// ---- raw sockets ----

static int connect_to(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static int connect_loopback(int port) { return connect_to("127.0.0.1", port); }

static bool send_all(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until EOF or the deadline; `eof` tells which.
static std::string read_until(int fd, std::chrono::steady_clock::time_point deadline, bool* eof) {
  std::string out;
  char buf[65536];
  if (eof) *eof = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (eof) *eof = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  int fd = connect_loopback(port);
  if (fd < 0) return {};
  send_all(fd, bytes);
  std::string out = read_until(fd, std::chrono::steady_clock::now() + timeout, nullptr);
  close(fd);
  if (!is_fake_upstream(port)) sweep::answer("raw", out);
  return out;
}

RawConnection::RawConnection(int port) : fd_(connect_loopback(port)), to_fake_(is_fake_upstream(port)) {}
RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}
bool RawConnection::send(const std::string& bytes) { return fd_ >= 0 && send_all(fd_, bytes); }
void RawConnection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}
std::string RawConnection::receive(std::chrono::milliseconds timeout) {
  std::string out = read_until(fd_, std::chrono::steady_clock::now() + timeout, nullptr);
  if (!to_fake_) sweep::answer("raw", out);
  return out;
}
bool RawConnection::closed_by_peer(std::chrono::milliseconds timeout) {
  bool eof = false;
  read_until(fd_, std::chrono::steady_clock::now() + timeout, &eof);
  return eof;
}

// ---- HTTP ----

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

// The credentials a request hands the relay, for the secrets sweep.
void record_request_secrets(const std::map<std::string, std::string>& headers, const std::string& body) {
  if (!sweep::enabled()) return;
  for (const auto& [name, value] : headers) {
    std::string n = name;
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view v = value;
    if (n == "authorization" && v.find(' ') != std::string_view::npos) v.remove_prefix(v.find(' ') + 1);
    if (n == "x-api-key" || n == "authorization" || n == "x-admin-token" || n == "x-goog-api-key") sweep::secret(v);
    if (n == "cookie")
      for (size_t at = v.find('='); at != std::string_view::npos; at = v.find('=', at + 1))
        sweep::secret(v.substr(at + 1, v.find(';', at) == std::string_view::npos ? std::string_view::npos
                                                                                 : v.find(';', at) - at - 1));
  }
  sweep::secrets_in_json(body);
}

HttpResponse http_request(int port, const std::string& method, const std::string& target, const std::string& body,
                          const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  return http_request_to("127.0.0.1", port, method, target, body, headers, timeout);
}

HttpResponse http_request_to(const std::string& host, int port, const std::string& method, const std::string& target,
                             const std::string& body, const std::map<std::string, std::string>& headers,
                             std::chrono::milliseconds timeout) {
  HttpResponse out;
  int fd = connect_to(host, port);
  if (fd < 0) {
    out.error = "connect failed";
    return out;
  }
  // The Host a browser sends (with the port), unless the caller names another.
  bool named_host = std::any_of(headers.begin(), headers.end(), [](const auto& h) { return beast::iequals(h.first, "host"); });
  std::string req = method + " " + target + " HTTP/1.1\r\n";
  if (!named_host) req += "Host: " + host + ":" + std::to_string(port) + "\r\n";
  req += "Connection: close\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (beast::iequals(k, "content-type")) has_type = true;
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    if (!has_type) req += "Content-Type: application/json\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  bool to_relay = !is_fake_upstream(port) && !target.starts_with("/_fake/");
  if (to_relay) record_request_secrets(headers, body);
  send_all(fd, req);
  std::string raw = read_until(fd, std::chrono::steady_clock::now() + timeout, nullptr);
  close(fd);
  // An answer to a POST may announce a secret it made (a key, a login token).
  if (to_relay) sweep::answer(method + " " + target, raw, method == "POST");
  if (raw.empty()) {
    out.error = "no response";
    return out;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 30);
  parser.eager(true);
  beast::error_code ec;
  parser.put(asio::buffer(raw), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec && !parser.is_header_done()) {
    out.error = "unparsable response: " + ec.message();
    return out;
  }
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  return out;
}

// ---- processes ----

CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& cwd, std::chrono::milliseconds timeout) {
  TempDir tmp;
  SpawnOptions o;
  o.argv = argv;
  o.env = env;
  o.cwd = cwd;
  o.stdout_path = tmp.file("out");
  o.stderr_path = tmp.file("err");
  CommandResult r;
  auto child = Subprocess::spawn(o);
  if (!child) {
    r.err = child.error().message;
    return r;
  }
  auto code = child->wait_for(timeout);
  if (!code) code = child->terminate(1s);
  r.exit_code = *code;
  r.out = read_file(tmp.file("out"));
  r.err = read_file(tmp.file("err"));
  return r;
}

RedisServer::RedisServer(const std::string& dir, int port, const std::string& password)
    : dir_(dir), port_(port ? port : free_port()), password_(password) {}

RedisServer::~RedisServer() {
  if (process_) process_->terminate(5s);
}

bool RedisServer::start() {
  fs::create_directories(dir_);
  SpawnOptions o;
  o.argv = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            persist_ ? "yes" : "no", "--appendfsync", "always", "--dir", dir_, "--logfile", dir_ + "/redis.log",
            "--enable-debug-command", "yes"};
  if (!password_.empty()) {
    o.argv.push_back("--requirepass");
    o.argv.push_back(password_);
  }
  o.argv.insert(o.argv.end(), extra_args.begin(), extra_args.end());
  auto child = Subprocess::spawn(o);
  if (!child) return false;
  process_.emplace(std::move(child.value()));
  return wait_until([&] { return cli({"PING"}) == "PONG" || cli({"PING"}).find("NOAUTH") != std::string::npos; }, 10s);
}

void RedisServer::kill_hard() {
  if (process_) {
    process_->send_signal(SIGKILL);
    process_->wait_for(5s);
  }
}

bool RedisServer::running() { return process_ && !process_->poll(); }

std::string RedisServer::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"redis-cli", "-p", std::to_string(port_)};
  if (!password_.empty()) {
    argv.push_back("--no-auth-warning");
    argv.push_back("-a");
    argv.push_back(password_);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv, {}, "", 5s);
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

FakeUpstreamProcess::FakeUpstreamProcess(const TempDir& dir) : dir_(dir) {}

bool FakeUpstreamProcess::start() {
  SpawnOptions o;
  o.argv = {fake_upstream_binary(), "--port", "0", "--threads", "2"};
  o.stdout_path = dir_.file("fake-upstream.log");
  o.stderr_path = "=stdout";
  auto child = Subprocess::spawn(o);
  if (!child) return false;
  process_.emplace(std::move(child.value()));
  if (!wait_until([&] { return read_file(o.stdout_path).find("listening on") != std::string::npos; })) return false;
  port_ = std::stoi(read_file(o.stdout_path).substr(13));
  add_fake_upstream(port_);
  return true;
}

bool FakeUpstreamProcess::script(const std::string& credential, const std::string& behavior, int times) {
  std::string body = "{\"credential\":\"" + credential + "\",\"behavior\":" + behavior +
                     ",\"times\":" + std::to_string(times) + "}";
  return http_request(port_, "POST", "/_fake/behaviors", body).status == 200;
}

std::string FakeUpstreamProcess::requests_json() { return http_get(port_, "/_fake/requests").body; }
std::string FakeUpstreamProcess::stats_json() { return http_get(port_, "/_fake/stats").body; }

RelayProcess::RelayProcess(const TempDir& dir, std::vector<std::string> env)
    : dir_(dir), env_(std::move(env)), port_(free_port()), redis_port_(free_port()) {
  // Tests choose the ports unless they say otherwise.
  bool has_port = false, has_redis_port = false;
  for (const auto& kv : env_) {
    if (kv.starts_with("PORT=")) {
      has_port = true;
      port_ = std::stoi(kv.substr(5));
    }
    if (kv.starts_with("REDIS_EMBEDDED_PORT=")) {
      has_redis_port = true;
      redis_port_ = std::stoi(kv.substr(20));
    }
  }
  ports_given_ = has_port || has_redis_port;
  sweep::secrets_in_env(env_);
  if (!has_port) env_.push_back("PORT=" + std::to_string(port_));
  if (!has_redis_port) env_.push_back("REDIS_EMBEDDED_PORT=" + std::to_string(redis_port_));
  bool has_host = std::any_of(env_.begin(), env_.end(), [](const std::string& kv) { return kv.starts_with("HOST="); });
  if (!has_host) env_.push_back("HOST=127.0.0.1");
  env_.push_back("WORKERS=2");
}

RelayProcess::~RelayProcess() {
  if (process_ && process_->running()) process_->terminate(10s);
  sweep::keep_relay_files(dir_.path());
}

bool RelayProcess::start(bool wait_healthy) {
  // A port taken between choosing it and binding it (by a test running beside this one): the
  // relay says so and exits; it gets other ports, twice at most.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (start_once(wait_healthy)) return true;
    if (!process_->poll() || log().find("Address already in use") == std::string::npos || ports_given_) return false;
    port_ = free_port();
    redis_port_ = free_port();
    for (auto& kv : env_) {
      if (kv.starts_with("PORT=")) kv = "PORT=" + std::to_string(port_);
      if (kv.starts_with("REDIS_EMBEDDED_PORT=")) kv = "REDIS_EMBEDDED_PORT=" + std::to_string(redis_port_);
    }
  }
  return false;
}

bool RelayProcess::start_once(bool wait_healthy) {
  SpawnOptions o;
  o.argv = {crs_binary(), "serve"};
  o.argv.insert(o.argv.end(), serve_flags.begin(), serve_flags.end());
  o.env = env_;
  // The test runner's own configuration must not leak into the relay under test.
  o.unset_env = {"REDIS_HOST", "REDIS_URL", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB", "JWT_SECRET",
                 "ENCRYPTION_KEY", "LOG_LEVEL", "DEBUG", "CRS_CONFIG"};
  o.cwd = dir_.path();
  o.stdout_path = dir_.file("serve.log");
  o.stderr_path = "=stdout";
  auto child = Subprocess::spawn(o);
  if (!child) return false;
  process_.emplace(std::move(child.value()));
  return wait_until(
      [&] {
        if (process_->poll()) return true;
        auto r = http_get(port_, "/health");
        return wait_healthy ? r.status == 200 : r.status != 0;
      },
      20s) &&
         !process_->poll();
}

std::string RelayProcess::embedded_redis_password() const {
  std::string secrets = read_file(dir_.file("data/secrets.env"));
  auto at = secrets.find("REDIS_EMBEDDED_PASSWORD=");
  if (at == std::string::npos) return "";
  at += std::string("REDIS_EMBEDDED_PASSWORD=").size();
  return secrets.substr(at, secrets.find('\n', at) - at);
}

CommandResult RelayProcess::cli(const std::vector<std::string>& args, const std::vector<std::string>& more_env) const {
  std::vector<std::string> argv{crs_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = env_;
  env.insert(env.end(), more_env.begin(), more_env.end());
  sweep::secrets_in_args(args);
  sweep::secrets_in_env(more_env);
  auto result = run_command(argv, env, dir_.path());
  // Commands that make a secret show it once, in their own member.
  bool announces = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "create" || a == "renew" || a == "reset-password" || a == "login";
  });
  std::string line = sweep::masked_command(args);
  sweep::answer(line, result.out, announces);
  sweep::answer(line + " (stderr)", result.err);
  return result;
}

std::string RelayProcess::log() const { return read_file(dir_.file("serve.log")); }

std::optional<int> RelayProcess::stop(std::chrono::milliseconds grace) {
  if (!process_) return std::nullopt;
  process_->send_signal(SIGTERM);
  return process_->wait_for(grace);
}

}  // namespace crs::test
