#include "metrics/metrics.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "metrics/exposition.hpp"

namespace crs::metrics {

namespace {

constexpr size_t kFamilies = static_cast<size_t>(Family::kCount);
constexpr size_t kModelLimit = 200;  // distinct model names; the rest count as "other"
const std::string kOther = "other";

// Written by one thread only: a plain add (no lock prefix); read by scrapes.
struct Counter {
  std::atomic<uint64_t> v{0};
  void add(uint64_t n = 1) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

const std::vector<double> kSeconds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
const std::vector<double> kRedisSeconds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,  0.05,    0.1,    0.25,  0.5,    1};

template <size_t N>
struct Histogram {
  std::array<Counter, N + 1> buckets;
  Counter sum_ns;
  void observe(double seconds, const std::vector<double>& bounds) {
    size_t i = 0;
    while (i < N && seconds > bounds[i]) ++i;
    buckets[i].add();
    sum_ns.add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9));
  }
};

struct ModelCounters {
  Counter requests[2][6];  // [stream][status / 100]
  Counter cost_micro;
};

struct KeyCounters {
  Counter requests, input, output, cache_create, cache_read, cost_micro;
};

struct Block {
  Counter http[kFamilies][6];
  Histogram<15> http_seconds[kFamilies];
  Histogram<15> relay_seconds[2];
  Histogram<15> ttfb;
  Counter tokens[4];
  Counter failovers, streams_opened, streams_closed;
  Counter alert_checks, alerts_delivered, alerts_failed;
  Counter redis_trips, redis_commands, redis_errors, redis_failures;
  Histogram<13> redis_seconds;
  // Inserted by the owner thread, read by scrapes: the owner reads without the lock (it is the
  // only writer), inserts with it; scrapes iterate with it.
  std::mutex mu;
  std::unordered_map<std::string, std::unique_ptr<ModelCounters>> models;
  std::unordered_map<std::string, std::unique_ptr<Counter>> failures;
  std::unordered_map<std::string, std::unique_ptr<Counter>> exports;
  std::unordered_map<std::string, std::unique_ptr<KeyCounters>> keys;
};

struct Registry {
  std::mutex mu;
  std::vector<std::unique_ptr<Block>> blocks;
  // Past the caps every new name for a thread takes this lock (scrapes never do).
  std::mutex admit_mu;
  std::set<std::string, std::less<>> models;  // admitted model names
  std::set<std::string, std::less<>> keys;    // admitted key ids
  std::atomic<bool> detailed{false};
  std::atomic<size_t> key_limit{100};
};

Registry& registry() {
  static Registry r;
  return r;
}

thread_local Block* tl_block = nullptr;

Block& local() {
  if (!tl_block) {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    r.blocks.push_back(std::make_unique<Block>());
    tl_block = r.blocks.back().get();
  }
  return *tl_block;
}

size_t status_class(unsigned status) { return std::min<size_t>(status / 100, 5); }

// The name as a label value: itself once admitted, "other" past the cap.
const std::string& admitted(std::set<std::string, std::less<>>& set, const std::string& name, size_t limit) {
  std::lock_guard lock(registry().admit_mu);
  if (set.count(name)) return name;
  if (set.size() >= limit) return kOther;
  set.insert(name);
  return name;
}

template <class T>
T& entry(Block& b, std::unordered_map<std::string, std::unique_ptr<T>>& map, const std::string& name) {
  if (auto it = map.find(name); it != map.end()) return *it->second;
  std::lock_guard lock(b.mu);
  return *map.emplace(name, std::make_unique<T>()).first->second;
}

ModelCounters& model_counters(Block& b, const std::string& model) {
  if (auto it = b.models.find(model); it != b.models.end()) return *it->second;
  return entry(b, b.models, admitted(registry().models, model.empty() ? kOther : model, kModelLimit));
}

}  // namespace

Family family_of_route(std::string_view p) {
  if (p.ends_with("/v1/messages/count_tokens")) return Family::CountTokens;
  if (p.ends_with("/v1/messages")) return Family::Messages;
  if (p.ends_with("/v1/chat/completions")) return Family::ChatCompletions;
  if (p.ends_with("/v1/models") || p.ends_with("/v1/models/:id")) return Family::Models;
  if (p.starts_with("/admin")) return Family::Admin;
  if (p.starts_with("/web/auth")) return Family::Auth;
  if (p.starts_with("/apiStats")) return Family::Stats;
  if (p == "/health" || p == "/api/health") return Family::Health;
  if (p == "/metrics") return Family::Metrics;
  if (p.find("event_logging") != std::string_view::npos) return Family::Telemetry;
  if (p == "/") return Family::Root;
  return Family::Unmatched;
}

const char* family_name(Family f) {
  static const char* names[] = {"messages", "count_tokens", "chat_completions", "models", "admin", "auth", "stats",
                                "health",   "metrics",      "telemetry", "root", "unmatched"};
  return names[static_cast<size_t>(f)];
}

void http_request(Family family, unsigned status, double seconds) {
  auto& b = local();
  auto f = static_cast<size_t>(family);
  b.http[f][status_class(status)].add();
  b.http_seconds[f].observe(seconds, kSeconds);
}

void relayed(const std::string& model, unsigned status, bool stream, const RelayedTokens& t, int64_t cost_micro,
             double seconds) {
  auto& b = local();
  auto& m = model_counters(b, model);
  m.requests[stream ? 1 : 0][status_class(status)].add();
  m.cost_micro.add(static_cast<uint64_t>(std::max<int64_t>(0, cost_micro)));
  b.relay_seconds[stream ? 1 : 0].observe(seconds, kSeconds);
  b.tokens[0].add(static_cast<uint64_t>(std::max<int64_t>(0, t.input)));
  b.tokens[1].add(static_cast<uint64_t>(std::max<int64_t>(0, t.output)));
  b.tokens[2].add(static_cast<uint64_t>(std::max<int64_t>(0, t.cache_create)));
  b.tokens[3].add(static_cast<uint64_t>(std::max<int64_t>(0, t.cache_read)));
}

void relayed_for_key(const std::string& key_id, const RelayedTokens& t, int64_t cost_micro) {
  auto& r = registry();
  if (!r.detailed.load(std::memory_order_relaxed)) return;
  auto& b = local();
  KeyCounters* k = nullptr;
  if (auto it = b.keys.find(key_id); it != b.keys.end()) k = it->second.get();
  else k = &entry(b, b.keys, admitted(r.keys, key_id, r.key_limit.load()));
  k->requests.add();
  k->input.add(static_cast<uint64_t>(std::max<int64_t>(0, t.input)));
  k->output.add(static_cast<uint64_t>(std::max<int64_t>(0, t.output)));
  k->cache_create.add(static_cast<uint64_t>(std::max<int64_t>(0, t.cache_create)));
  k->cache_read.add(static_cast<uint64_t>(std::max<int64_t>(0, t.cache_read)));
  k->cost_micro.add(static_cast<uint64_t>(std::max<int64_t>(0, cost_micro)));
}

void upstream_ttfb(double seconds) { local().ttfb.observe(seconds, kSeconds); }

void upstream_failure(std::string_view error_class) {
  auto& b = local();
  std::string name(error_class);
  entry(b, b.failures, name).add();
}

void export_ended(std::string_view state) {
  auto& b = local();
  std::string name(state);
  entry(b, b.exports, name).add();
}

void failover_served() { local().failovers.add(); }
void alert_check() { local().alert_checks.add(); }
void alert_delivery(bool delivered) { (delivered ? local().alerts_delivered : local().alerts_failed).add(); }
void stream_opened() { local().streams_opened.add(); }
void stream_closed() { local().streams_closed.add(); }

void redis_round_trip(double seconds, size_t commands, size_t error_replies, bool failed) {
  auto& b = local();
  b.redis_trips.add();
  b.redis_commands.add(commands);
  b.redis_errors.add(error_replies);
  if (failed) b.redis_failures.add();
  else b.redis_seconds.observe(seconds, kRedisSeconds);
}

std::array<uint64_t, 6> http_counts(Family family) {
  std::array<uint64_t, 6> out{};
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (auto& b : r.blocks)
    for (size_t c = 0; c < 6; ++c) out[c] += b->http[static_cast<size_t>(family)][c].get();
  return out;
}

uint64_t exports_ended(std::string_view state) {
  uint64_t n = 0;
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (auto& b : r.blocks) {
    std::lock_guard block_lock(b->mu);
    if (auto it = b->exports.find(std::string(state)); it != b->exports.end()) n += it->second->get();
  }
  return n;
}

void set_detailed(bool on, size_t key_limit) {
  registry().detailed = on;
  registry().key_limit = key_limit;
}

// ---- the scrape ----

namespace {

template <size_t N>
struct Summed {
  std::vector<uint64_t> counts = std::vector<uint64_t>(N + 1);
  uint64_t sum_ns = 0;
  void add(const Histogram<N>& h) {
    for (size_t i = 0; i <= N; ++i) counts[i] += h.buckets[i].get();
    sum_ns += h.sum_ns.get();
  }
};

struct Totals {
  uint64_t http[kFamilies][6] = {};
  Summed<15> http_seconds[kFamilies];
  Summed<15> relay_seconds[2];
  Summed<15> ttfb;
  uint64_t tokens[4] = {};
  uint64_t failovers = 0, streams_opened = 0, streams_closed = 0;
  uint64_t alert_checks = 0, alerts_delivered = 0, alerts_failed = 0;
  uint64_t redis_trips = 0, redis_commands = 0, redis_errors = 0, redis_failures = 0;
  Summed<13> redis_seconds;
  std::map<std::string, std::array<std::array<uint64_t, 6>, 2>> model_requests;
  std::map<std::string, uint64_t> model_cost;
  std::map<std::string, uint64_t> failures;
  std::map<std::string, uint64_t> exports;
  std::map<std::string, std::array<uint64_t, 6>> keys;
};

void add_block(Totals& t, Block& b) {
  for (size_t f = 0; f < kFamilies; ++f) {
    for (size_t c = 0; c < 6; ++c) t.http[f][c] += b.http[f][c].get();
    t.http_seconds[f].add(b.http_seconds[f]);
  }
  for (int s = 0; s < 2; ++s) t.relay_seconds[s].add(b.relay_seconds[s]);
  t.ttfb.add(b.ttfb);
  for (int k = 0; k < 4; ++k) t.tokens[k] += b.tokens[k].get();
  t.failovers += b.failovers.get();
  t.streams_opened += b.streams_opened.get();
  t.streams_closed += b.streams_closed.get();
  t.alert_checks += b.alert_checks.get();
  t.alerts_delivered += b.alerts_delivered.get();
  t.alerts_failed += b.alerts_failed.get();
  t.redis_trips += b.redis_trips.get();
  t.redis_commands += b.redis_commands.get();
  t.redis_errors += b.redis_errors.get();
  t.redis_failures += b.redis_failures.get();
  t.redis_seconds.add(b.redis_seconds);
  std::lock_guard lock(b.mu);
  for (const auto& [name, m] : b.models) {
    auto& slot = t.model_requests[name];
    for (int s = 0; s < 2; ++s)
      for (int c = 0; c < 6; ++c) slot[s][c] += m->requests[s][c].get();
    t.model_cost[name] += m->cost_micro.get();
  }
  for (const auto& [name, c] : b.failures) t.failures[name] += c->get();
  for (const auto& [name, c] : b.exports) t.exports[name] += c->get();
  for (const auto& [id, k] : b.keys) {
    auto& slot = t.keys[id];
    const Counter* parts[] = {&k->requests, &k->input, &k->output, &k->cache_create, &k->cache_read, &k->cost_micro};
    for (int i = 0; i < 6; ++i) slot[i] += parts[i]->get();
  }
}

const char* kClasses[] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};

void write_http(Exposition& out, const Totals& t) {
  for (size_t f = 0; f < kFamilies; ++f) {
    std::string family = family_name(static_cast<Family>(f));
    for (size_t c = 1; c < 6; ++c)
      if (t.http[f][c])
        out.counter("crs_http_requests_total", "HTTP requests answered, by route family and status class",
                    {{"family", family}, {"code", kClasses[c]}}, static_cast<double>(t.http[f][c]));
    uint64_t n = 0;
    for (auto c : t.http_seconds[f].counts) n += c;
    if (n)
      out.histogram("crs_http_request_duration_seconds", "Time from a request's head to the end of its answer",
                    {{"family", family}}, kSeconds, t.http_seconds[f].counts, t.http_seconds[f].sum_ns / 1e9);
  }
}

void write_relay(Exposition& out, const Totals& t) {
  for (const auto& [model, by_stream] : t.model_requests)
    for (int s = 0; s < 2; ++s)
      for (int c = 1; c < 6; ++c)
        if (by_stream[s][c])
          out.counter("crs_relay_requests_total", "Relayed Messages requests answered by an upstream and metered",
                      {{"model", model}, {"code", kClasses[c]}, {"stream", s ? "true" : "false"}},
                      static_cast<double>(by_stream[s][c]));
  for (int s = 0; s < 2; ++s)
    out.histogram("crs_relay_duration_seconds", "Relayed Messages requests, from the head to the last byte",
                  {{"stream", s ? "true" : "false"}}, kSeconds, t.relay_seconds[s].counts, t.relay_seconds[s].sum_ns / 1e9);
  out.histogram("crs_upstream_ttfb_seconds", "Upstream time to first byte: from sending to the answer's head", {},
                kSeconds, t.ttfb.counts, t.ttfb.sum_ns / 1e9);
  const char* kinds[] = {"input", "output", "cache_create", "cache_read"};
  for (int k = 0; k < 4; ++k)
    out.counter("crs_relay_tokens_total", "Tokens of relayed requests, by kind", {{"kind", kinds[k]}},
                static_cast<double>(t.tokens[k]));
  for (const auto& [model, micro] : t.model_cost)
    out.counter("crs_relay_cost_usd_total", "What relayed requests cost at list price, by model", {{"model", model}},
                static_cast<double>(micro) / 1e6);
  out.declare("crs_upstream_failures_total", "counter", "Upstream attempts that failed, by error class (each one fails "
              "over while attempts remain)");
  for (const auto& [cls, n] : t.failures)
    out.counter("crs_upstream_failures_total", "Upstream attempts that failed, by error class (each one fails over "
                "while attempts remain)", {{"class", cls}}, static_cast<double>(n));
  out.counter("crs_relay_failovers_total", "Requests served by another account than the first one tried", {},
              static_cast<double>(t.failovers));
  out.declare("crs_export_tasks_ended_total", "counter", "Export tasks this instance ran, by how they ended");
  for (const auto& [state, n] : t.exports)
    out.counter("crs_export_tasks_ended_total", "Export tasks this instance ran, by how they ended",
                {{"state", state}}, static_cast<double>(n));
  out.gauge("crs_relay_streams_open", "Streamed answers being relayed now", {},
            static_cast<double>(t.streams_opened - std::min(t.streams_opened, t.streams_closed)));
}

void write_redis(Exposition& out, const Totals& t) {
  out.counter("crs_redis_round_trips_total", "Redis round trips (a command or a pipeline)", {},
              static_cast<double>(t.redis_trips));
  out.counter("crs_redis_commands_total", "Redis commands sent", {}, static_cast<double>(t.redis_commands));
  out.counter("crs_redis_error_replies_total", "Redis error replies", {}, static_cast<double>(t.redis_errors));
  out.counter("crs_redis_failures_total", "Redis round trips that got no answer (not connected, timed out, cut)", {},
              static_cast<double>(t.redis_failures));
  out.histogram("crs_redis_round_trip_seconds", "Redis round trip time", {}, kRedisSeconds, t.redis_seconds.counts,
                t.redis_seconds.sum_ns / 1e9);
}

void write_alerts(Exposition& out, const Totals& t) {
  out.counter("crs_alert_checks_total", "Rounds of the alert monitor's checks", {}, static_cast<double>(t.alert_checks));
  out.counter("crs_alert_deliveries_total", "Attempts to deliver an alert to a channel, by result",
              {{"result", "delivered"}}, static_cast<double>(t.alerts_delivered));
  out.counter("crs_alert_deliveries_total", "", {{"result", "failed"}}, static_cast<double>(t.alerts_failed));
}

void write_keys(Exposition& out, const Totals& t) {
  if (!registry().detailed.load()) return;
  const char* names[] = {"crs_key_requests_total", "crs_key_input_tokens_total", "crs_key_output_tokens_total",
                         "crs_key_cache_create_tokens_total", "crs_key_cache_read_tokens_total"};
  const char* helps[] = {"Relayed requests per key", "Input tokens per key", "Output tokens per key",
                         "Cache creation tokens per key", "Cache read tokens per key"};
  for (const auto& [id, v] : t.keys) {
    for (int i = 0; i < 5; ++i) out.counter(names[i], helps[i], {{"key", id}}, static_cast<double>(v[i]));
    out.counter("crs_key_cost_usd_total", "Cost per key at list price", {{"key", id}}, static_cast<double>(v[5]) / 1e6);
  }
}

}  // namespace

void write_counters(Exposition& out) {
  Totals t;
  {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    for (auto& b : r.blocks) add_block(t, *b);
  }
  write_http(out, t);
  write_relay(out, t);
  write_redis(out, t);
  write_alerts(out, t);
  write_keys(out, t);
}

}  // namespace crs::metrics
