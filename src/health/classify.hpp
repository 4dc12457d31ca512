#pragma once
// An account's health class from its recent attempts (pure; the monitor runs it every
// loadBalancing.healthCheck.interval on one instance and writes the result for all):
//   unhealthy  success rate below successRateThreshold, or error rate above errorRateThreshold
//   degraded   otherwise, when its p95 time to first byte is over responseTimeThreshold
//   healthy    otherwise
// Only attempts of the window count (the last kWindowAttempts within kWindowMs, or within six
// health-check intervals when those are longer, so that probes alone can judge). Client errors
// and announced rate limits are never held against the account. With fewer than kMinJudged
// judged attempts the account keeps its class (no flapping on a handful of requests). A degraded
// or unhealthy account is judged again only on its last kMinJudged attempts since it got its
// class (its probes, health/probe: token-free calls every interval), so it recovers as soon as
// it is well again.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "health/outcome.hpp"

namespace crs::health {

inline constexpr int64_t kWindowMs = 5 * 60 * 1000;
inline constexpr size_t kWindowAttempts = 100;
inline constexpr size_t kMinJudged = 5;

enum class HealthClass { Healthy, Degraded, Unhealthy };
std::string_view health_class_name(HealthClass c);
HealthClass parse_health_class(std::string_view name);

struct HealthThresholds {
  double success_rate = 0.95;        // below: unhealthy
  double error_rate = 0.05;          // above: unhealthy
  double ttfb_p95_ms = 5000;         // above: degraded
};

// What the window holds.
struct WindowStats {
  size_t attempts = 0;   // in the window, every outcome
  size_t judged = 0;     // neither client errors nor rate limits
  size_t successes = 0;
  size_t errors = 0;     // overloaded, server, network, timeout
  double success_rate = 1, error_rate = 0;
  double ttfb_p50_ms = 0, ttfb_p95_ms = 0;    // of answers that came (0: none)
  double total_p50_ms = 0, total_p95_ms = 0;  // of successes measured to their end
};

// The attempts newest last, as kept in Redis; only those that ended at or after `from_ms` and
// within `window_ms` count.
WindowStats window_stats(const std::vector<Attempt>& attempts, int64_t now_ms, int64_t from_ms = 0,
                         int64_t window_ms = kWindowMs);

// The newest attempts, back to the `n`-th newest judged one: what a degraded or unhealthy
// account is judged on, so that it recovers once its last kMinJudged attempts are good (a
// slow answer just after it got its class would otherwise hold its p95 up for 19 more).
std::vector<Attempt> latest_judged(const std::vector<Attempt>& attempts, size_t n);

struct Verdict {
  HealthClass health = HealthClass::Healthy;
  std::string reasons;  // "" when healthy; else e.g. "success rate 0.80 < 0.95"
  bool kept = false;    // too few attempts: the previous class stands
};

Verdict classify(const WindowStats& s, const HealthThresholds& t, HealthClass previous);

}  // namespace crs::health
