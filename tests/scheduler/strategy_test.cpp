// The strategies as pure functions, the account scheduling fields, and how a conversation is
// told apart for sticky sessions.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <tuple>

#include <boost/json.hpp>

#include "accounts/account_fields.hpp"
#include "relay/conversation.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/strategy.hpp"

namespace crs::scheduler {
namespace {

accounts::Account account(std::string id, double weight = 1, double cost_factor = 1) {
  accounts::Account a;
  a.id = std::move(id);
  a.type = std::string(accounts::kClaudeConsole);
  a.scheduling.weight = weight;
  a.scheduling.cost_factor = cost_factor;
  return a;
}

std::vector<Candidate> candidates(const std::vector<accounts::Account>& accounts) {
  std::vector<Candidate> out;
  for (const auto& a : accounts) out.push_back(Candidate{&a, {}, 100});
  return out;
}

RankOptions options(Strategy s) {
  RankOptions o;
  o.strategy = s;
  return o;
}

std::string first(const std::vector<Candidate>& cs, const RankOptions& o) {
  return cs[rank(cs, o).front().index].account->id;
}

// Picks `n` times; each pick is charged `tokens(i)` tokens in the picked account's window.
std::map<std::string, int64_t> run_least_used(const std::vector<accounts::Account>& accounts, int n,
                                              const std::function<int64_t(int)>& tokens) {
  auto cs = candidates(accounts);
  RankOptions o;
  o.strategy = Strategy::LeastUsed;
  std::map<std::string, int64_t> used;
  for (int i = 0; i < n; ++i) {
    auto& c = cs[rank(cs, o).front().index];
    c.load.window_tokens += tokens(i);
    c.load.last_used_ms = i + 1;
    used[c.account->id] += tokens(i);
  }
  return used;
}

TEST(Strategy, NamesRoundTrip) {
  for (auto name : {"least_used", "least_recent", "lowest_cost", "balanced", "weighted_random"})
    EXPECT_EQ(strategy_name(*parse_strategy(name)), name);
  EXPECT_FALSE(parse_strategy("round_robin"));
}

TEST(Strategy, LeastUsedEvensTokensAcrossEqualAccounts) {
  std::vector<accounts::Account> accounts{account("a"), account("b"), account("c")};
  // Uneven requests: 100 to 3,000 tokens.
  auto used = run_least_used(accounts, 1000, [](int i) { return 100 + (i * 7919) % 2900; });
  int64_t lo = INT64_MAX, hi = 0;
  for (auto& [id, t] : used) {
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  }
  ASSERT_EQ(used.size(), 3u);
  EXPECT_LE(static_cast<double>(hi - lo), 0.10 * static_cast<double>(hi)) << lo << " vs " << hi;
}

TEST(Strategy, LeastUsedSharesByWeight) {
  std::vector<accounts::Account> accounts{account("one", 1), account("three", 3)};
  auto used = run_least_used(accounts, 1000, [](int i) { return 100 + (i * 7919) % 2900; });
  double share = static_cast<double>(used["three"]) / (used["one"] + used["three"]);
  EXPECT_NEAR(share, 0.75, 0.075);
}

TEST(Strategy, LeastUsedTiesGoToFewestInFlight) {
  std::vector<accounts::Account> accounts{account("busy"), account("idle")};
  auto cs = candidates(accounts);
  cs[0].load.in_flight = 3;
  EXPECT_EQ(first(cs, options(Strategy::LeastUsed)), "idle");
}

TEST(Strategy, LeastUsedComparesUtilisationWhenEveryAccountReportsOne) {
  std::vector<accounts::Account> accounts{account("a"), account("b")};
  auto cs = candidates(accounts);
  cs[0].load.window_tokens = 10;       // fewer tokens metered here...
  cs[0].load.utilization_5h = 0.60;    // ...but the upstream says it is fuller
  cs[1].load.window_tokens = 5000;
  cs[1].load.utilization_5h = 0.20;
  EXPECT_EQ(first(cs, options(Strategy::LeastUsed)), "b");
}

TEST(Strategy, LeastRecentRotates) {
  std::vector<accounts::Account> accounts{account("a"), account("b"), account("c")};
  auto cs = candidates(accounts);
  std::string seq;
  for (int i = 1; i <= 6; ++i) {
    auto& c = cs[rank(cs, options(Strategy::LeastRecent)).front().index];
    c.load.last_used_ms = i;
    seq += c.account->id;
  }
  EXPECT_EQ(seq, "abcabc");
}

TEST(Strategy, LowestCostNeverPicksAPricierAccount) {
  std::vector<accounts::Account> accounts{account("list", 1, 1.0), account("cheap", 1, 0.1), account("mid", 1, 0.5)};
  auto cs = candidates(accounts);
  auto order = rank(cs, options(Strategy::LowestCost));
  EXPECT_EQ(cs[order[0].index].account->id, "cheap");
  EXPECT_EQ(cs[order[1].index].account->id, "mid");
  EXPECT_EQ(cs[order[2].index].account->id, "list");
  // The request's own price on each account counts (a mapping to a cheaper model).
  cs[0].request_cost = 5;  // 5 x 1.0 = 5 < 100 x 0.1
  EXPECT_EQ(first(cs, options(Strategy::LowestCost)), "list");
}

TEST(Strategy, LowestCostTiesGoToLeastRecent) {
  std::vector<accounts::Account> accounts{account("a", 1, 0.2), account("b", 1, 0.2)};
  auto cs = candidates(accounts);
  cs[0].load.last_used_ms = 50;
  cs[1].load.last_used_ms = 10;
  EXPECT_EQ(first(cs, options(Strategy::LowestCost)), "b");
}

TEST(Strategy, WeightedRandomSharesMatchWeights) {
  std::vector<accounts::Account> accounts{account("w1", 1), account("w2", 2), account("w5", 5)};
  auto cs = candidates(accounts);
  std::mt19937_64 random(42);
  RankOptions o = options(Strategy::WeightedRandom);
  o.random = &random;
  std::map<std::string, int> picks;
  const int n = 5000;
  for (int i = 0; i < n; ++i) ++picks[first(cs, o)];
  EXPECT_NEAR(picks["w1"] / double(n), 1 / 8.0, 0.05 / 8 * 5);
  EXPECT_NEAR(picks["w2"] / double(n), 2 / 8.0, 0.05);
  EXPECT_NEAR(picks["w5"] / double(n), 5 / 8.0, 0.05);
  // Every account is in the order exactly once (the next ones are the fallbacks when full).
  EXPECT_EQ(rank(cs, o).size(), 3u);
}

TEST(Strategy, BalancedPrefersTheFastCheapReliableAccountAndShiftsWhenItSlows) {
  std::vector<accounts::Account> accounts{account("fast-cheap", 1, 0.2), account("slow-pricey", 1, 1.0)};
  auto cs = candidates(accounts);
  cs[0].load.ttfb_ms = 300;
  cs[1].load.ttfb_ms = 1500;
  RankOptions o = options(Strategy::Balanced);
  o.ttfb_threshold_ms = 5000;
  auto order = rank(cs, o);
  EXPECT_EQ(cs[order[0].index].account->id, "fast-cheap");
  EXPECT_GT(order[0].score, order[1].score);
  EXPECT_DOUBLE_EQ(order[0].cost, 1.0);
  EXPECT_DOUBLE_EQ(order[1].cost, 0.0);
  // Past the threshold its performance part is 0 and its failures cost reliability.
  cs[0].load.ttfb_ms = 9000;
  cs[0].load.success_rate = 0.5;
  o.weights = {0.3, 0.4, 0.1, 0.2};
  EXPECT_EQ(first(cs, o), "slow-pricey");
}

TEST(Strategy, HeadroomMakesAFullAccountTheLastResortInEveryStrategy) {
  std::vector<accounts::Account> accounts{account("nearly-full", 1, 0.01), account("other", 1, 1)};
  for (auto s : {Strategy::LeastUsed, Strategy::LeastRecent, Strategy::LowestCost, Strategy::Balanced,
                 Strategy::WeightedRandom}) {
    auto cs = candidates(accounts);
    cs[0].load.utilization_7d = 0.97;
    cs[1].load.window_tokens = 1000000;
    cs[1].load.last_used_ms = 99;
    std::mt19937_64 random(1);
    RankOptions o = options(s);
    o.random = &random;
    o.pause_at = 0.95;
    auto order = rank(cs, o);
    EXPECT_EQ(cs[order[0].index].account->id, "other") << strategy_name(s);
    EXPECT_TRUE(order[1].paused);
    o.pause_at = 0.99;  // a higher threshold: no longer paused, and the cheapest
    if (s == Strategy::LowestCost) {
      EXPECT_EQ(first(cs, o), "nearly-full");
    }
  }
}

TEST(Strategy, PrioritySchedulerOrdersByPriorityThenLeastRecent) {
  std::vector<accounts::Account> accounts{account("low"), account("a"), account("b")};
  accounts[0].priority = 90;
  accounts[1].priority = accounts[2].priority = 10;
  auto cs = candidates(accounts);
  cs[1].load.last_used_ms = 20;
  cs[2].load.last_used_ms = 10;
  PriorityLruScheduler s;
  auto order = s.order(cs, {});
  EXPECT_EQ(cs[order[0].index].account->id, "b");
  EXPECT_EQ(cs[order[2].index].account->id, "low");
}

TEST(Strategy, RuntimeStrategyWinsOverTheDefaultPerGroup) {
  StrategyScheduler s(StrategySettings{});
  EXPECT_EQ(s.strategy_for(""), "least_used");
  s.set_runtime({{"global", "lowest_cost"}, {"group:g1", "least_recent"}});
  EXPECT_EQ(s.strategy_for(""), "lowest_cost");
  EXPECT_EQ(s.strategy_for("g1"), "least_recent");
  EXPECT_TRUE(s.orders_in_redis("g1"));
  EXPECT_EQ(s.strategy_for("g2"), "lowest_cost");
  s.set_runtime({});
  EXPECT_EQ(s.strategy_for(""), "least_used");
}

}  // namespace
}  // namespace crs::scheduler

namespace crs::accounts {
namespace {

namespace json = boost::json;

TEST(AccountFields, SchedulingFieldsAreValidatedNamingTheField) {
  Account a;
  json::object console{{"type", "claude-console"}, {"name", "c"}, {"baseUrl", "https://api.anthropic.com"},
                       {"apiKey", "sk-x"}};
  ASSERT_TRUE(apply_account_changes(a, console, true).ok());
  EXPECT_DOUBLE_EQ(a.scheduling.effective_cost_factor(a.type), 1.0);
  for (auto [member, value, named] : std::vector<std::tuple<const char*, json::value, const char*>>{
           {"maxConcurrency", json::value(-1), "maxConcurrency"},
           {"maxConcurrency", json::value("two"), "maxConcurrency"},
           {"weight", json::value(0), "weight"},
           {"costFactor", json::value(-0.5), "costFactor"},
           {"plan", json::value("max5"), "plan"},  // Console accounts have no plan
           {"schedulable", json::value("maybe"), "schedulable"},
           {"models", json::value("claude-*-x"), "models"},
           {"models", json::value("bad\"name"), "models"},
           {"modelMapping", json::value("a"), "modelMapping"},
           {"modelMapping", json::value("a=b\\c"), "modelMapping"},
           {"bogus", json::value(1), "bogus"}}) {
    Account before = a;
    auto s = apply_account_changes(a, json::object{{member, value}}, false);
    ASSERT_FALSE(s.ok()) << member;
    EXPECT_TRUE(s.error().message.starts_with(named)) << s.error().message;
    EXPECT_EQ(a.scheduling.max_concurrency, before.scheduling.max_concurrency);
  }
  ASSERT_TRUE(apply_account_changes(a, json::object{{"maxConcurrency", "2"}, {"weight", 3}, {"costFactor", "0.5"},
                                                    {"models", "claude-sonnet-4*, claude-haiku-x"},
                                                    {"modelMapping", "alias=claude-sonnet-4-x"}},
                                    false)
                  .ok());
  EXPECT_EQ(a.scheduling.max_concurrency, 2);
  EXPECT_DOUBLE_EQ(a.scheduling.effective_weight(), 3);
  EXPECT_TRUE(a.scheduling.serves("claude-sonnet-4-20250514"));
  EXPECT_TRUE(a.scheduling.serves("alias"));
  EXPECT_FALSE(a.scheduling.serves("claude-opus-4"));
  EXPECT_EQ(a.scheduling.upstream_model("alias"), "claude-sonnet-4-x");
  EXPECT_FALSE(a.scheduling.upstream_model("claude-haiku-x"));
  // "" resets to the default.
  ASSERT_TRUE(apply_account_changes(a, json::object{{"weight", ""}}, false).ok());
  EXPECT_DOUBLE_EQ(a.scheduling.effective_weight(), 1);
}

TEST(AccountFields, AnOauthPlanSetsItsWeight) {
  Account a;
  json::object oauth{{"type", "claude-oauth"}, {"name", "o"}, {"baseUrl", "https://api.anthropic.com"},
                     {"accessToken", "t"}, {"refreshToken", "r"}, {"expiresAt", 1}, {"plan", "max20"}};
  ASSERT_TRUE(apply_account_changes(a, oauth, true).ok());
  EXPECT_DOUBLE_EQ(a.scheduling.effective_weight(), 20);
  EXPECT_DOUBLE_EQ(a.scheduling.effective_cost_factor(a.type), 0.1);
  ASSERT_TRUE(apply_account_changes(a, json::object{{"plan", "2.5"}}, false).ok());
  EXPECT_DOUBLE_EQ(a.scheduling.effective_weight(), 2.5);
  EXPECT_FALSE(apply_account_changes(a, json::object{{"plan", "ultra"}}, false).ok());
  EXPECT_FALSE(apply_account_changes(a, json::object{{"type", "claude-console"}}, false).ok());
}

TEST(AccountFields, AdminViewMasksCredentials) {
  Account a;
  a.credentials.api_key = "sk-ant-api03-secret-secret-secret";
  a.proxy = "http://u:proxy-pass@p:1";
  std::string text = json::serialize(account_json(a));
  EXPECT_EQ(text.find("secret-secret"), std::string::npos);
  EXPECT_EQ(text.find("proxy-pass"), std::string::npos);
}

}  // namespace
}  // namespace crs::accounts

namespace crs::relay {
namespace {

TEST(Conversation, FromTheSessionPartOfUserIdElseTheCachedSystemText) {
  EXPECT_EQ(session_part("user_ab12_account_0000_session_1111-2222"), "1111-2222");
  EXPECT_EQ(session_part(R"({"device_id":"d","account_uuid":"a","session_id":"s-9"})"), "s-9");
  EXPECT_EQ(session_part("user_only"), "");
  std::string turns = R"(,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yes"},)"
                      R"({"role":"user","content":"more"}]})";
  std::string a = R"({"model":"m","system":[{"type":"text","text":"You are X","cache_control":{"type":"ephemeral"}},)"
                  R"({"type":"text","text":"today is monday"}])" + turns;
  std::string b = R"({"model":"m","system":[{"type":"text","text":"You are X","cache_control":{"type":"ephemeral"}},)"
                  R"({"type":"text","text":"today is tuesday"}])" + turns;
  std::string c = R"({"model":"m","system":"plain")" + turns;
  std::string d = R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hello"}]},)"
                  R"({"role":"assistant","content":"hi"}]})";
  std::string first_turn = R"({"model":"m","system":"plain","messages":[{"role":"user","content":"hi"}]})";
  std::string other_user = R"({"model":"m","system":"plain","messages":[{"role":"user","content":"bye"},)"
                           R"({"role":"assistant","content":"yes"},{"role":"user","content":"more"}]})";
  std::string e = R"({"model":"m","messages":[]})";
  EXPECT_EQ(conversation_of(a, "", "k"), conversation_of(b, "", "k"));  // only the cached part counts
  EXPECT_NE(conversation_of(a, "", "k"), conversation_of(c, "", "k"));
  EXPECT_NE(conversation_of(c, "", "k"), conversation_of(other_user, "", "k"));  // same app, another talk
  EXPECT_NE(conversation_of(a, "", "k"), conversation_of(a, "", "other-key"));   // per key
  EXPECT_NE(conversation_of(d, "", "k"), "");
  EXPECT_EQ(conversation_of(first_turn, "", "k"), "");  // nothing to keep warm yet
  EXPECT_EQ(conversation_of(e, "", "k"), "");
  EXPECT_EQ(conversation_of(e, "user_x_session_42", "k"), conversation_of(a, "user_y_session_42", "k"));
  EXPECT_EQ(conversation_of(a, "user_x_session_42", "k").size(), 64u);
}

}  // namespace
}  // namespace crs::relay
