#include "health/stats.hpp"

#include <map>

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
  std::map<std::string_view, int64_t> counts;
  const Attempt* last_ok = nullptr;
  const Attempt* last_error = nullptr;
  for (const auto& a : p.attempts) {
    push.push_back(a.encode());
    ++counts[outcome_name(a.outcome)];
    if (a.outcome == Outcome::Ok) last_ok = &a;
    else last_error = &a;
  }
  out.push_back(std::move(push));
  out.push_back(store::make_command("LTRIM", recent, std::to_string(-static_cast<int64_t>(kWindowAttempts)), "-1"));
  out.push_back(store::make_command("PEXPIRE", recent, std::to_string(kKeptMs)));
  out.push_back(store::make_command("HINCRBY", stats, "requests", std::to_string(p.attempts.size())));
  if (counts.count("ok")) out.push_back(store::make_command("HINCRBY", stats, "successes", std::to_string(counts["ok"])));
  for (const auto& [name, n] : counts)
    if (name != "ok") out.push_back(store::make_command("HINCRBY", stats, std::string(name), std::to_string(n)));
  store::HashRecord last;
  if (last_ok) last["lastSuccessAt"] = std::to_string(last_ok->at_ms);
  if (last_error) {
    last["lastErrorAt"] = std::to_string(last_error->at_ms);
    last["lastErrorClass"] = std::string(outcome_name(last_error->outcome));
    last["lastErrorStatus"] = std::to_string(last_error->status);
    last["lastErrorMessage"] = one_line(last_error->message);
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
