#include "health/classify.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace crs::health {
namespace {

// The value below which `q` of the sorted values lie (nearest rank).
double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

}  // namespace

std::string_view health_class_name(HealthClass c) {
  switch (c) {
    case HealthClass::Degraded: return "degraded";
    case HealthClass::Unhealthy: return "unhealthy";
    default: return "healthy";
  }
}

HealthClass parse_health_class(std::string_view name) {
  if (name == "degraded") return HealthClass::Degraded;
  if (name == "unhealthy") return HealthClass::Unhealthy;
  return HealthClass::Healthy;
}

WindowStats window_stats(const std::vector<Attempt>& attempts, int64_t now_ms, int64_t from_ms, int64_t window_ms) {
  WindowStats s;
  std::vector<double> ttfb, total;
  size_t first = attempts.size() > kWindowAttempts ? attempts.size() - kWindowAttempts : 0;
  for (size_t i = first; i < attempts.size(); ++i) {
    const auto& a = attempts[i];
    if (a.at_ms < now_ms - window_ms || a.at_ms < from_ms) continue;
    ++s.attempts;
    if (a.ttfb_ms >= 0 && a.outcome != Outcome::Client) ttfb.push_back(a.ttfb_ms);
    if (!judged(a.outcome)) continue;
    ++s.judged;
    if (a.outcome == Outcome::Ok) {
      ++s.successes;
      if (a.total_ms >= 0) total.push_back(a.total_ms);
    }
    if (is_error(a.outcome)) ++s.errors;
  }
  if (s.judged > 0) {
    s.success_rate = static_cast<double>(s.successes) / static_cast<double>(s.judged);
    s.error_rate = static_cast<double>(s.errors) / static_cast<double>(s.judged);
  }
  s.ttfb_p95_ms = quantile(ttfb, 0.95);
  s.ttfb_p50_ms = quantile(ttfb, 0.50);
  s.total_p95_ms = quantile(total, 0.95);
  s.total_p50_ms = quantile(total, 0.50);
  return s;
}

std::vector<Attempt> latest_judged(const std::vector<Attempt>& attempts, size_t n) {
  size_t first = attempts.size(), seen = 0;
  while (first > 0 && seen < n) {
    --first;
    if (judged(attempts[first].outcome)) ++seen;
  }
  return std::vector<Attempt>(attempts.begin() + static_cast<std::ptrdiff_t>(first), attempts.end());
}

Verdict classify(const WindowStats& s, const HealthThresholds& t, HealthClass previous) {
  Verdict v;
  if (s.judged < kMinJudged) {
    v.health = previous;
    v.kept = true;
    return v;
  }
  std::vector<std::string> unhealthy, degraded;
  if (s.success_rate < t.success_rate)
    unhealthy.push_back(fmt::format("success rate {:.2f} < {:.2f}", s.success_rate, t.success_rate));
  if (s.error_rate > t.error_rate)
    unhealthy.push_back(fmt::format("error rate {:.2f} > {:.2f}", s.error_rate, t.error_rate));
  if (s.ttfb_p95_ms > t.ttfb_p95_ms)
    degraded.push_back(fmt::format("p95 time to first byte {:.0f} ms > {:.0f} ms", s.ttfb_p95_ms, t.ttfb_p95_ms));
  auto& reasons = unhealthy.empty() ? degraded : unhealthy;
  v.health = !unhealthy.empty() ? HealthClass::Unhealthy : !degraded.empty() ? HealthClass::Degraded : HealthClass::Healthy;
  for (const auto& r : reasons) v.reasons += (v.reasons.empty() ? "" : "; ") + r;
  return v;
}

}  // namespace crs::health
