#include "health/stats.hpp"


#include <fmt/format.h>

#include "health/circuit.hpp"

namespace crs::health {
namespace {

constexpr int64_t kKeptMs = 24LL * 3600 * 1000;
constexpr size_t kMessageLimit = 300;

// A message as stored: one line, bounded.
std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMessageLimit)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out;
}

}  // namespace

std::string stats_key(std::string_view account_id) { return std::string(kStatsPrefix) + std::string(account_id); }
std::string recent_key(std::string_view account_id) { return stats_key(account_id) + ":recent"; }
std::string health_key(std::string_view account_id) { return std::string(kHealthPrefix) + std::string(account_id); }

std::vector<store::RedisCommand> record_commands(const HealthBook::Pending& p) {
  std::vector<store::RedisCommand> out;
  std::string recent = recent_key(p.account_id), stats = stats_key(p.account_id);
  store::RedisCommand push{"RPUSH", recent};
  for (const auto& a : p.recent) push.push_back(a.encode());
  out.push_back(std::move(push));
  out.push_back(store::make_command("LTRIM", recent, std::to_string(-static_cast<int64_t>(kWindowAttempts)), "-1"));
  out.push_back(store::make_command("PEXPIRE", recent, std::to_string(kKeptMs)));
  int64_t requests = 0;
  for (size_t i = 0; i < kOutcomes; ++i) {
    int64_t n = p.counts[i];
    requests += n;
    if (n == 0) continue;
    auto o = static_cast<Outcome>(i);
    std::string field = o == Outcome::Ok ? "successes" : std::string(outcome_name(o));
    out.push_back(store::make_command("HINCRBY", stats, field, std::to_string(n)));
  }
  out.push_back(store::make_command("HINCRBY", stats, "requests", std::to_string(requests)));
  store::HashRecord last;
  if (p.last_success_ms) last["lastSuccessAt"] = std::to_string(p.last_success_ms);
  if (p.last_failure) {
    last["lastErrorAt"] = std::to_string(p.last_failure->at_ms);
    last["lastErrorClass"] = std::string(outcome_name(p.last_failure->outcome));
    last["lastErrorStatus"] = std::to_string(p.last_failure->status);
    last["lastErrorMessage"] = one_line(p.last_failure->message);
  }
  if (!last.empty()) out.push_back(store::hset_command(stats, last));
  return out;
}

std::vector<Attempt> read_attempts(const store::RedisReply& reply) {
  std::vector<Attempt> out;
  for (const auto& e : reply.elements)
    if (auto a = Attempt::decode(e.str)) out.push_back(*a);
  return out;
}

store::HashRecord health_record(const WindowStats& s, const Verdict& v, int64_t since_ms, int64_t now_ms) {
  return store::HashRecord{
      {"class", std::string(health_class_name(v.health))},
      {"reasons", v.reasons},
      {"since", std::to_string(since_ms)},
      {"checkedAt", std::to_string(now_ms)},
      {"judged", std::to_string(s.judged)},
      {"attempts", std::to_string(s.attempts)},
      {"successRate", fmt::format("{:.4f}", s.success_rate)},
      {"errorRate", fmt::format("{:.4f}", s.error_rate)},
      {"ttfbP50", fmt::format("{:.1f}", s.ttfb_p50_ms)},
      {"ttfbP95", fmt::format("{:.1f}", s.ttfb_p95_ms)},
      {"totalP50", fmt::format("{:.1f}", s.total_p50_ms)},
      {"totalP95", fmt::format("{:.1f}", s.total_p95_ms)},
  };
}

std::vector<std::string> account_state_keys(std::string_view account_id) {
  return {circuit_key(account_id), stats_key(account_id), recent_key(account_id), health_key(account_id)};
}

}  // namespace crs::health
