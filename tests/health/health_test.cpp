// The pure parts of account health: how an attempt is kept, the circuit's gates, the window's
// statistics and the health classes, table-driven. (The breaker's transitions are Lua, proven
// against Redis in tests/integration/account_health_test.cpp.)
#include <gtest/gtest.h>

#include "health/circuit.hpp"
#include "health/classify.hpp"
#include "health/health_book.hpp"
#include "health/outcome.hpp"

namespace crs {
namespace {

using health::Attempt;
using health::HealthClass;
using health::Outcome;

constexpr int64_t kNow = 1767240000000;

Attempt attempt(Outcome o, double ttfb = 100, int64_t ago_ms = 1000) {
  Attempt a;
  a.at_ms = kNow - ago_ms;
  a.outcome = o;
  a.status = o == Outcome::Ok ? 200 : 500;
  a.ttfb_ms = ttfb;
  a.total_ms = o == Outcome::Ok ? ttfb * 2 : -1;
  return a;
}

std::vector<Attempt> repeat(size_t n, Outcome o, double ttfb = 100) { return std::vector<Attempt>(n, attempt(o, ttfb)); }

TEST(Health, AnAttemptSurvivesItsEncodingAndBadTextIsRefused) {
  Attempt a = attempt(Outcome::Timeout, 1234.5);
  auto back = Attempt::decode(a.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at_ms, a.at_ms);
  EXPECT_EQ(back->outcome, Outcome::Timeout);
  EXPECT_EQ(back->status, 500u);
  EXPECT_DOUBLE_EQ(back->ttfb_ms, 1234.5);
  for (const char* bad : {"", "1,ok", "x,ok,200,1.0,2.0", "1,nope,200,1.0,2.0", "1,ok,200,1.0,2.0,extra"})
    EXPECT_FALSE(Attempt::decode(bad)) << bad;
}

TEST(Health, ACircuitIsShutWhileOpenAndDueAfterItsWait) {
  health::Circuit c;
  EXPECT_FALSE(c.shut(kNow));
  EXPECT_FALSE(c.due(kNow));
  c.state = health::CircuitState::Open;
  c.next_try_ms = kNow + 10;
  EXPECT_TRUE(c.shut(kNow));
  EXPECT_TRUE(c.due(kNow + 10));
  c.state = health::CircuitState::HalfOpen;
  c.trial_until_ms = kNow + 10;
  EXPECT_TRUE(c.shut(kNow));   // a trial runs somewhere
  EXPECT_TRUE(c.due(kNow + 10));  // ... and outlived its time: another may be claimed
}

TEST(Health, ClientErrorsAndRateLimitsAreNotHeldAgainstAnAccount) {
  std::vector<Attempt> all = repeat(10, Outcome::Ok);
  for (auto o : {Outcome::Client, Outcome::RateLimited}) {
    auto more = repeat(30, o);
    all.insert(all.end(), more.begin(), more.end());
  }
  auto s = health::window_stats(all, kNow);
  EXPECT_EQ(s.attempts, 70u);
  EXPECT_EQ(s.judged, 10u);
  EXPECT_DOUBLE_EQ(s.success_rate, 1.0);
  EXPECT_EQ(health::classify(s, {}, HealthClass::Healthy).health, HealthClass::Healthy);
}

TEST(Health, TheWindowIsTheLastHundredWithinFiveMinutesAndSinceTheClass) {
  std::vector<Attempt> old = repeat(50, Outcome::Server);
  for (auto& a : old) a.at_ms = kNow - health::kWindowMs - 1;
  auto fresh = repeat(120, Outcome::Ok);
  old.insert(old.end(), fresh.begin(), fresh.end());
  auto s = health::window_stats(old, kNow);
  EXPECT_EQ(s.attempts, 100u);
  EXPECT_EQ(s.errors, 0u);
  auto since = health::window_stats(repeat(10, Outcome::Ok), kNow, kNow - 500);  // all ended 1 s ago
  EXPECT_EQ(since.attempts, 0u);
  // A longer window (long health-check intervals) holds older ones.
  EXPECT_EQ(health::window_stats(old, kNow, 0, 2 * health::kWindowMs).errors, 0u);
  EXPECT_EQ(health::window_stats(std::vector<Attempt>(old.begin(), old.begin() + 50), kNow, 0, 2 * health::kWindowMs)
                .errors,
            50u);
}

// A degraded account is judged on its last five judged attempts: one slow answer just after it
// got its class no longer holds its p95 up until nineteen fast ones follow.
TEST(Health, ADegradedAccountRecoversOnItsLastFiveAttempts) {
  auto attempts = repeat(1, Outcome::Ok);
  attempts[0].ttfb_ms = 900;  // the slow one
  auto fast = repeat(5, Outcome::Ok);
  for (auto& a : fast) a.ttfb_ms = 50;
  attempts.insert(attempts.end(), fast.begin(), fast.end());
  attempts.push_back(repeat(1, Outcome::Client)[0]);  // not judged: kept, not counted
  health::HealthThresholds t;
  t.ttfb_p95_ms = 300;
  EXPECT_EQ(health::classify(health::window_stats(attempts, kNow), t, HealthClass::Degraded).health, HealthClass::Degraded);
  auto latest = health::latest_judged(attempts, health::kMinJudged);
  EXPECT_EQ(latest.size(), 6u);
  EXPECT_EQ(health::classify(health::window_stats(latest, kNow), t, HealthClass::Degraded).health, HealthClass::Healthy);
  EXPECT_EQ(health::latest_judged(attempts, 100).size(), attempts.size());
}

TEST(Health, Classes) {
  struct Case {
    const char* name;
    std::vector<Attempt> attempts;
    HealthClass previous;
    HealthClass expected;
    const char* reason;
  };
  auto mixed = [](size_t ok, size_t bad, Outcome o) {
    auto v = repeat(ok, Outcome::Ok);
    auto b = repeat(bad, o);
    v.insert(v.end(), b.begin(), b.end());
    return v;
  };
  const std::vector<Case> cases = {
      {"all well", repeat(20, Outcome::Ok), HealthClass::Healthy, HealthClass::Healthy, ""},
      {"errors over the error rate", mixed(18, 2, Outcome::Server), HealthClass::Healthy, HealthClass::Unhealthy,
       "error rate 0.10 > 0.05"},
      {"refusals lower the success rate only", mixed(18, 2, Outcome::Auth), HealthClass::Healthy,
       HealthClass::Unhealthy, "success rate 0.90 < 0.95"},
      {"slow first bytes", repeat(20, Outcome::Ok, 6000), HealthClass::Healthy, HealthClass::Degraded,
       "p95 time to first byte 6000 ms > 5000 ms"},
      {"unhealthy wins over slow", mixed(10, 10, Outcome::Timeout), HealthClass::Degraded, HealthClass::Unhealthy,
       "error rate"},
      {"too few to judge: kept", repeat(4, Outcome::Network), HealthClass::Degraded, HealthClass::Degraded, ""},
      {"too few to judge: kept healthy", repeat(4, Outcome::Network), HealthClass::Healthy, HealthClass::Healthy, ""},
      {"recovered", repeat(5, Outcome::Ok), HealthClass::Unhealthy, HealthClass::Healthy, ""},
  };
  for (const auto& c : cases) {
    auto v = health::classify(health::window_stats(c.attempts, kNow), {}, c.previous);
    EXPECT_EQ(health::health_class_name(v.health), health::health_class_name(c.expected)) << c.name;
    EXPECT_NE(v.reasons.find(c.reason), std::string::npos) << c.name << ": " << v.reasons;
  }
}

TEST(Health, TheBookGatesAccountsAndOffersEachTrialOnce) {
  health::HealthBook book;
  EXPECT_EQ(book.gate("a", kNow), health::Gate::Open);
  health::Circuit open;
  open.state = health::CircuitState::Open;
  open.next_try_ms = kNow + 100;
  book.circuit("a", open);
  EXPECT_EQ(book.gate("a", kNow), health::Gate::Shut);
  EXPECT_EQ(book.gate("a", kNow + 100), health::Gate::Trial);
  EXPECT_TRUE(book.try_claim("a", kNow + 100));
  EXPECT_FALSE(book.try_claim("a", kNow + 100));
  EXPECT_EQ(book.gate("a", kNow + 100), health::Gate::Shut);
  // Still due here later (the claim was never made, or lost with Redis): offered again.
  EXPECT_EQ(book.gate("a", kNow + 100 + health::HealthBook::kClaimRetryMs), health::Gate::Trial);
  // Opened again after its trial: the next trial is offered as soon as it is due.
  open.next_try_ms = kNow + 1000;
  book.circuit("a", open);
  EXPECT_EQ(book.gate("a", kNow + 999), health::Gate::Shut);
  EXPECT_EQ(book.gate("a", kNow + 1000), health::Gate::Trial);
  book.health_class("b", HealthClass::Unhealthy);
  EXPECT_EQ(book.gate("b", kNow), health::Gate::Shut);
  book.health_class("c", HealthClass::Degraded);
  EXPECT_EQ(book.gate("c", kNow), health::Gate::Open);
  EXPECT_TRUE(book.degraded("c"));
  // Announced elsewhere: shut until a read that began afterwards.
  uint64_t before = book.read_began();
  book.announced("c");
  EXPECT_EQ(book.gate("c", kNow), health::Gate::Shut);
  book.circuit_read("c", health::Circuit{}, before);
  EXPECT_EQ(book.gate("c", kNow), health::Gate::Shut);
  book.circuit_read("c", health::Circuit{}, book.read_began());
  EXPECT_EQ(book.gate("c", kNow), health::Gate::Open);
  book.forget("a");
  EXPECT_EQ(book.gate("a", kNow), health::Gate::Open);
}

// Between two writes (a second) the book keeps counts of everything but only the attempts Redis
// keeps: at thousands of requests a second the write stays a few commands.
TEST(Health, TheBookKeepsCountsOfAllAndTheNewestAttemptsOnly) {
  health::HealthBook book;
  for (int i = 0; i < 150; ++i) book.record("a", attempt(i % 3 == 0 ? Outcome::Server : Outcome::Ok, 100, 150 - i));
  auto pending = book.take_pending();
  ASSERT_EQ(pending.size(), 1u);
  const auto& p = pending[0];
  EXPECT_EQ(p.account_id, "a");
  EXPECT_EQ(p.counts[static_cast<size_t>(Outcome::Server)], 50);
  EXPECT_EQ(p.counts[static_cast<size_t>(Outcome::Ok)], 100);
  ASSERT_EQ(p.recent.size(), health::kWindowAttempts);
  EXPECT_EQ(p.recent.back().at_ms, kNow - 1);
  EXPECT_EQ(p.last_success_ms, kNow - 1);
  ASSERT_TRUE(p.last_failure);
  EXPECT_EQ(p.last_failure->at_ms, kNow - 3);
  EXPECT_TRUE(book.take_pending().empty());
}

}  // namespace
}  // namespace crs
