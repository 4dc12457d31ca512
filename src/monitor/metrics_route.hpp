#pragma once
// GET /metrics: Prometheus text format. With monitoring.metrics.token set, it requires
// "Authorization: Bearer <token>"; without, it answers loopback clients only, and not what a
// proxy forwards: a request with forwarding headers, or from a peer in server.trustedProxies.
// (A proxy on this host that adds no header cannot be told from a local client: behind one, set
// a token.) It never scans the keyspace: the counters are in memory
// (metrics/metrics.hpp), and each source below reads a bounded set of known keys.
#include <functional>
#include <string>
#include <vector>

#include "http/client_address.hpp"
#include "http/router.hpp"
#include "metrics/exposition.hpp"
#include "store/redis_client.hpp"

namespace crs::monitor {

struct MetricsSources {
  std::string token;                        // "" = loopback only
  http_server::TrustedProxies proxies;      // server.trustedProxies: never "local"
  std::vector<store::RedisClient*> redis;   // one per I/O thread, by worker index
  size_t io_threads = 1;
  std::function<size_t()> requests_in_flight;
  // Series read at scrape time, each writing its own (accounts, exports, the query cache).
  std::vector<std::function<Task<void>(metrics::Exposition&, store::RedisClient&)>> readers;
};

void register_metrics_route(http_server::Router& router, MetricsSources sources);

// This process: resident memory, CPU seconds, open file descriptors, threads, start time.
void write_process(metrics::Exposition& out);

}  // namespace crs::monitor
