#include "monitor/metrics_route.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/crypto.hpp"
#include "core/time.hpp"
#include "http/responses.hpp"
#include "metrics/metrics.hpp"

namespace crs::monitor {
using http_server::Exchange;

namespace {

size_t open_fds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    if (n) --n;  // the directory stream's own descriptor
  }
  return n;
}

// utime + stime (seconds), threads and start time (seconds since the epoch) from /proc.
struct ProcStat {
  double cpu_seconds = 0;
  int64_t threads = 0;
  double start_seconds = 0;
};

ProcStat proc_stat() {
  ProcStat p;
  std::ifstream f("/proc/self/stat");
  std::string line;
  std::getline(f, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return p;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string x; rest >> x;) fields.push_back(x);
  if (fields.size() < 20) return p;
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  p.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / tick;
  p.threads = std::stoll(fields[17]);
  std::ifstream up("/proc/uptime");
  double uptime = 0;
  up >> uptime;
  double boot = static_cast<double>(std::time(nullptr)) - uptime;
  p.start_seconds = boot + std::stod(fields[19]) / tick;
  return p;
}

bool from_loopback(const Exchange& ex, const http_server::TrustedProxies& proxies) {
  // A proxy on this host would make every client look local: what it forwards is not.
  const auto& req = ex.request();
  if (req.count("x-forwarded-for") || req.count("forwarded") || req.count("x-real-ip")) return false;
  auto address = ex.remote().address();
  if (proxies.trusts(address)) return false;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  return address.is_loopback();
}

bool bearer_matches(const Exchange& ex, const std::string& token) {
  std::string_view auth = ex.request()[http::field::authorization];
  if (auth.size() < 7 || (auth.substr(0, 7) != "Bearer " && auth.substr(0, 7) != "bearer ")) return false;
  return crypto::equal_constant_time(auth.substr(7), token);
}

http_server::Response text_response(std::string body) {
  http_server::Response r{http::status::ok, 11};
  r.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  r.set(http::field::cache_control, "no-store");
  r.body() = std::move(body);
  return r;
}

// Who may scrape: the token's holder, or without a token a client on this host.
bool allowed(const Exchange& ex, const MetricsSources& s) {
  return s.token.empty() ? from_loopback(ex, s.proxies) : bearer_matches(ex, s.token);
}

http_server::Response refusal(const MetricsSources& s) {
  if (s.token.empty())
    return http_server::json_response(
        http::status::forbidden,
        R"({"error":"Forbidden","message":"/metrics answers loopback clients only; set monitoring.metrics.token (METRICS_TOKEN) to scrape from elsewhere"})");
  auto r = http_server::json_response(
      http::status::unauthorized,
      R"({"error":"Unauthorized","message":"/metrics needs Authorization: Bearer <monitoring.metrics.token>"})");
  r.set(http::field::www_authenticate, "Bearer");
  return r;
}

Task<void> scrape(Exchange& ex, std::shared_ptr<const MetricsSources> s) {
  if (!allowed(ex, *s)) {
    co_await ex.send(refusal(*s));
    co_return;
  }
  metrics::Exposition out;
  metrics::write_counters(out);
  out.gauge("crs_http_requests_in_flight", "HTTP requests being handled now", {},
            static_cast<double>(s->requests_in_flight ? s->requests_in_flight() : 0));
  auto& redis = *s->redis[ex.worker() % s->redis.size()];
  for (const auto& read : s->readers) co_await read(out, redis);
  out.gauge("crs_io_threads", "I/O threads serving requests", {}, static_cast<double>(s->io_threads));
  write_process(out);
  co_await ex.send(text_response(out.text()));
}

}  // namespace

void write_process(metrics::Exposition& out) {
  auto p = proc_stat();
  out.gauge("process_resident_memory_bytes", "Resident memory size in bytes", {},
            static_cast<double>(resident_memory_bytes()));
  out.counter("process_cpu_seconds_total", "User and system CPU time spent in seconds", {}, p.cpu_seconds);
  out.gauge("process_open_fds", "Open file descriptors", {}, static_cast<double>(open_fds()));
  out.gauge("process_threads", "Threads of the process", {}, static_cast<double>(p.threads));
  out.gauge("process_start_time_seconds", "Start time of the process since the epoch, in seconds", {},
            std::round(p.start_seconds));
}

void register_metrics_route(http_server::Router& router, MetricsSources sources) {
  auto shared = std::make_shared<const MetricsSources>(std::move(sources));
  router.add(http::verb::get, "/metrics", [shared](Exchange& ex) { return scrape(ex, shared); });
}

}  // namespace crs::monitor
