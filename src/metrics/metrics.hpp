#pragma once
// What the relay counts for GET /metrics (Prometheus text format). Every thread that records
// gets its own block of counters, written only by that thread (a plain add, no lock, no
// allocation once a label value was seen) and summed when /metrics is scraped. Label values
// that come from clients (models, key ids) are capped: past the cap they count as "other".
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace crs::metrics {

// Where a request went, from the route it matched (http/router).
enum class Family : uint8_t {
  Messages, CountTokens, ChatCompletions, Models, Admin, Auth, Stats, Health, Metrics, Telemetry, Root, Unmatched, kCount
};
Family family_of_route(std::string_view pattern);
const char* family_name(Family f);

// Every HTTP exchange, when its response is done.
void http_request(Family family, unsigned status, double seconds);

struct RelayedTokens {
  int64_t input = 0, output = 0, cache_create = 0, cache_read = 0;
};
// A relayed Messages request that was answered by an upstream and metered.
void relayed(const std::string& model, unsigned status, bool stream, const RelayedTokens& tokens, int64_t cost_micro,
             double seconds);
// The key that made it (only with detailed metrics on; at most `detailed_key_limit` keys).
void relayed_for_key(const std::string& key_id, const RelayedTokens& tokens, int64_t cost_micro);
void upstream_ttfb(double seconds);
// An upstream attempt that failed (the relay fails over while attempts remain): its class.
void upstream_failure(std::string_view error_class);
// A request served by an account other than the first one tried.
void failover_served();
void stream_opened();
void stream_closed();

// An export task that ended here: "done", "failed" or "cancelled".
void export_ended(std::string_view state);

// The alert monitor checked its conditions; an alert delivery was attempted.
void alert_check();
void alert_delivery(bool delivered);

// One Redis round trip of `commands` (a command or a pipeline) by this thread's client.
void redis_round_trip(double seconds, size_t commands, size_t error_replies, bool failed);

// Settings read at scrape and by the recorders (set once at start).
void set_detailed(bool on, size_t key_limit);

// Sums over the threads, for the alert monitor: requests of a family by status class
// (index status / 100), and export tasks that ended in `state`.
std::array<uint64_t, 6> http_counts(Family family);
uint64_t exports_ended(std::string_view state);

class Exposition;
// Writes every counter above, summed over the threads.
void write_counters(Exposition& out);

}  // namespace crs::metrics
