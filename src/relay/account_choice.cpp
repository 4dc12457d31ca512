#include "relay/account_choice.hpp"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/crypto.hpp"
#include "core/logging.hpp"
#include "relay/account_health.hpp"
#include "relay/conversation.hpp"
#include "scheduler/decision_log.hpp"
#include "scheduler/selection.hpp"
#include "store/redis_script.hpp"

namespace crs::relay {
namespace {

// ---- who may serve ----

// The group a key is bound to, "" if none.
std::string_view bound_group(const keys::ApiKey& key) {
  std::string_view bound = key.bound_account;
  return bound.starts_with("group:") ? bound.substr(6) : std::string_view();
}
std::string_view bound_group(const RelayedRequest& r) { return bound_group(r.key()); }

bool may_use_account(const RelayedRequest& r, const accounts::Account& account) {
  return key_may_use(r.key(), account);
}

// ... and for this request's model.
bool may_use(const RelayedRequest& r, const accounts::Account& account) {
  return may_use_account(r, account) && account.scheduling.serves(r.fields.model);
}

// The feature of this request the kind lacks, "" if none. The body's content is read only
// for a kind that lacks a content feature (Bedrock: URL sources), once per request.
std::string_view lacking_feature(RelayedRequest& r, Attempts& a, const adapters::Adapter& adapter) {
  auto features = adapter.features();
  if (features.complete()) return {};
  adapters::RequestNeeds operation{r.op, r.fields.stream, false, false, false, false};
  if (auto missing = adapters::missing_feature(features, operation); !missing.empty()) return missing;
  if (!features.lacks_content()) return {};
  if (!a.needs) {
    a.needs = adapters::RequestNeeds{r.op, r.fields.stream, false, false, false, false};
    adapters::read_content_needs(r.body(), *a.needs);
  }
  return adapters::missing_feature(features, *a.needs);
}

// An account of a kind this instance does not know (a newer instance's, during a rolling
// upgrade) is skipped here and left alone in Redis: other instances may serve it. Said once.
void warn_unknown_kind(const accounts::Account& account) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  std::lock_guard lock(mutex);
  if (warned.insert(account.id).second)
    spdlog::warn("account {} ({}) is of type \"{}\", which this relay does not know; it is skipped", account.name,
                 account.id, account.type);
}

// The accounts that can take this attempt, from the snapshot (which outlives the pointers).
// An account whose circuit is open, or that is unhealthy, is left out; one whose circuit waits
// for its trial goes to `trial` instead (the request may claim it).
std::vector<const accounts::Account*> candidates(RelayedRequest& r, Attempts& a, const accounts::AccountList& all,
                                                 const accounts::Account** trial = nullptr) {
  int64_t now = accounts::now_ms();
  std::vector<const accounts::Account*> out;
  for (const auto& account : all) {
    if (!account.usable(now) || a.tried.count(account.id) || !may_use(r, account)) continue;
    auto gate = r.d().health_book.gate(account.id, now);
    if (gate == health::Gate::Shut) continue;
    const adapters::Adapter* adapter = adapters::find_adapter(account.type);
    if (!adapter) {
      warn_unknown_kind(account);
      continue;
    }
    if (auto missing = lacking_feature(r, a, *adapter); !missing.empty()) {
      a.unsupported = std::string(missing);
      continue;
    }
    if (gate == health::Gate::Trial) {
      if (trial && !*trial && r.op == adapters::Operation::Messages) *trial = &account;
      continue;
    }
    out.push_back(&account);
  }
  return out;
}

// ---- ordering ----

// What the request would cost at list price on each account (its model, as mapped there): an
// estimate of the input from the body and max_tokens of output.
double list_cost(RelayedRequest& r, const accounts::Account& account) {
  usage::Usage u;
  u.input_tokens = static_cast<int64_t>(r.body().size() / 4) + 1;
  u.output_tokens = r.fields.max_tokens > 0 ? r.fields.max_tokens : 4096;
  auto mapped = account.scheduling.upstream_model(r.fields.model);
  return static_cast<double>(r.d().pricing.cost(mapped ? *mapped : r.fields.model, u).micro);
}

std::vector<scheduler::Ranked> order(RelayedRequest& r, std::vector<scheduler::Candidate>& cs,
                                     const std::vector<const accounts::Account*>& accounts) {
  auto& book = r.d().load_book;
  double unmapped = -1;  // the same for every account without a mapping of this model: priced once
  for (const auto* account : accounts) {
    bool mapped = account->scheduling.upstream_model(r.fields.model).has_value();
    if (!mapped && unmapped < 0) unmapped = list_cost(r, *account);
    double cost = mapped ? list_cost(r, *account) : unmapped;
    cs.push_back(scheduler::Candidate{account, book.load_of(account->id), cost});
    cs.back().load.degraded = r.d().health_book.degraded(account->id);
  }
  return r.d().scheduler.order(cs, scheduler::OrderInput{std::string(bound_group(r))});
}

// The sticky session of this request ("" when sticky sessions are off or none can be told).
const std::string& conversation(RelayedRequest& r, Attempts& a) {
  if (!a.conversation) {
    const auto& lb = r.cfg().loadBalancing;
    bool sticky = lb.enabled && lb.stickyTtl > 0 && r.op == adapters::Operation::Messages;
    a.conversation = sticky ? conversation_of(r.body(), r.fields.user_id, r.key().id) : std::string();
  }
  return *a.conversation;
}

// Whether a sticky session may stay on the account: not paused by headroom, and its time to
// first byte over the last kStickyJudged answers under loadBalancing.stickyMaxTtfb.
constexpr size_t kStickyJudged = 3;

bool may_stay(RelayedRequest& r, const scheduler::Candidate& c, bool paused) {
  if (paused || c.load.degraded) return false;
  auto recent = r.d().load_book.recent_ttfb(c.account->id);
  if (recent.size() < kStickyJudged) return true;
  double sum = 0;
  for (size_t i = recent.size() - kStickyJudged; i < recent.size(); ++i) sum += recent[i];
  return sum / kStickyJudged <= r.cfg().loadBalancing.stickyMaxTtfb;
}

// The decision in the console's recent list, and at debug level in the load-balancing log.
void record_decision(RelayedRequest& r, const std::vector<scheduler::Candidate>& cs,
                     const std::vector<scheduler::Ranked>& ranked, const std::string& picked, std::string_view how,
                     const std::string& strategy) {
  scheduler::Decision d;
  d.at_ms = accounts::now_ms();
  scheduler::copy_text(d.request_id, r.ex.request_id());
  scheduler::copy_text(d.key_id, r.key().id);
  scheduler::copy_text(d.model, r.fields.model);
  scheduler::copy_text(d.group, bound_group(r));
  scheduler::copy_text(d.strategy, strategy);
  scheduler::copy_text(d.picked, picked);
  scheduler::copy_text(d.how, how);
  d.candidates = static_cast<uint8_t>(std::min<size_t>(ranked.size(), 255));
  for (const auto& k : ranked) {
    if (d.option_count == d.options.size()) break;
    auto& o = d.options[d.option_count++];
    scheduler::copy_text(o.account, cs[k.index].account->id);
    o.score = static_cast<float>(k.score);
    o.cost = static_cast<float>(k.cost);
    o.performance = static_cast<float>(k.performance);
    o.load = static_cast<float>(k.load);
    o.reliability = static_cast<float>(k.reliability);
    o.paused = k.paused;
    o.degraded = k.degraded;
  }
  scheduler::decision_log().record(d);
}

void log_decision(RelayedRequest& r, const std::vector<scheduler::Candidate>& cs,
                  const std::vector<scheduler::Ranked>& ranked, const std::string& picked, std::string_view how,
                  std::string_view detail) {
  auto& log = load_balancing_log();
  bool debug = log.should_log(spdlog::level::debug);
  bool recorded = r.op == adapters::Operation::Messages;
  if (!recorded && !debug) return;
  std::string strategy = r.d().scheduler.strategy_for(std::string(bound_group(r)));
  if (recorded) record_decision(r, cs, ranked, picked, how, strategy);
  if (!debug) return;
  std::string list;
  for (const auto& k : ranked) {
    const auto& c = cs[k.index];
    list += fmt::format("{}{}(score={:.3f} cost={:.2f} perf={:.2f} load={:.2f} rel={:.2f}{})", list.empty() ? "" : " ",
                        c.account->id, k.score, k.cost, k.performance, k.load, k.reliability,
                        k.paused ? " paused" : "");
  }
  log.debug("request={} key={} strategy={} candidates=[{}] pick={} how={}{}{}", r.ex.request_id(), r.key().id, strategy,
            list, picked.empty() ? "none" : picked, how, detail.empty() ? "" : " ", detail);
}

// ---- choosing ----

struct Pick {
  const accounts::Account* account = nullptr;
  std::string lease;
  Choice outcome = Choice::NoneLeft;
};

// The choice made in Redis: caps held across instances, least_recent's order, the sticky
// session's account.
Task<Pick> choose_in_redis(RelayedRequest& r, Attempts& a, ChoicePlan& plan) {
  auto& d = r.d();
  const auto& cs = plan.candidates;
  const auto& ranked = plan.ranked;
  scheduler::SelectionRequest req;
  req.least_recent = d.scheduler.orders_in_redis(std::string(bound_group(r)));
  req.session = plan.session;
  req.sticky_ttl_s = r.cfg().loadBalancing.stickyTtl;
  req.lease = r.ex.request_id() + ":" + crypto::unique_suffix();
  req.lease_ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(d.limits.lease_ttl()).count();
  for (const auto& k : ranked) {
    const auto& c = cs[k.index];
    int tier = (k.degraded ? 2000 : 0) + (k.paused ? 1000 : 0) + c.account->priority;
    req.candidates.push_back(scheduler::SelectionCandidate{c.account->id, c.account->scheduling.max_concurrency, tier,
                                                           may_stay(r, c, k.paused)});
  }
  auto& redis = *d.redis.at(r.worker);
  auto reply = co_await store::run_script(redis, scheduler::selection_script(), scheduler::selection_command(req));
  scheduler::Selection s;
  if (reply) s = scheduler::read_selection(*reply);
  else s.error = reply.error().message;
  Pick pick;
  if (!s.error.empty()) {
    // Without Redis no cap can be held: only an uncapped account may take the request.
    spdlog::warn("request {}: account selection in Redis failed ({}); only uncapped accounts are used",
                 r.ex.request_id(), s.error);
    for (const auto& k : ranked)
      if (cs[k.index].account->scheduling.max_concurrency == 0) {
        pick.account = cs[k.index].account;
        pick.outcome = Choice::Picked;
        co_return pick;
      }
    a.last_failure = "account slots cannot be checked right now";
    co_return pick;
  }
  std::string detail;
  if (s.how == "moved") {
    detail = fmt::format("moved_from={} reason={}", s.moved_from, s.why);
    if (!s.account_id.empty() && s.moved_from != s.account_id)
      load_balancing_log().info("request={} sticky session {}… moved from account {} to {}: {}", r.ex.request_id(),
                                plan.session.substr(0, 12), s.moved_from, s.account_id.empty() ? "none" : s.account_id,
                                s.why);
  }
  log_decision(r, cs, ranked, s.account_id, s.how, detail);
  if (s.account_id.empty()) {
    for (const auto& c : cs) a.full.insert(c.account->id);
    pick.outcome = Choice::AllFull;
    co_return pick;
  }
  if (!plan.session.empty()) d.sticky_cache.confirmed(plan.session, s.account_id);
  for (const auto& c : cs)
    if (c.account->id == s.account_id) {
      pick.account = c.account;
      if (c.account->scheduling.max_concurrency > 0) pick.lease = req.lease;
      pick.outcome = Choice::Picked;
    }
  co_return pick;
}

// The sticky session's account, if this instance confirmed it a moment ago and it may be taken
// without Redis: uncapped, still a candidate, not paused or slow.
const accounts::Account* recent_sticky(RelayedRequest& r, const ChoicePlan& plan) {
  if (plan.session.empty()) return nullptr;
  auto held = r.d().sticky_cache.fresh(plan.session);
  if (!held) return nullptr;
  for (const auto& k : plan.ranked) {
    const auto& c = plan.candidates[k.index];
    if (c.account->id != *held) continue;
    if (c.account->scheduling.max_concurrency > 0 || !may_stay(r, c, k.paused)) return nullptr;
    return c.account;
  }
  return nullptr;
}

// An account taken without Redis's choice (no lease).
Pick picked(const accounts::Account* account) {
  Pick pick;
  pick.account = account;
  pick.outcome = Choice::Picked;
  return pick;
}

// Into `p`, with its slot; `pick` is an account of `from`.
Choice take_pick(RelayedRequest& r, Attempts& a, const accounts::AccountList& from, const Pick& pick, Picked& p) {
  if (pick.outcome != Choice::Picked) return pick.outcome;
  a.tried.insert(pick.account->id);
  p.held = from.share(*pick.account);
  p.adapter = adapters::find_adapter(p.account().type);
  p.slot = std::make_unique<AccountSlot>(r, p.account().id, pick.lease);
  return Choice::Picked;
}

// One try at choosing, without waiting.
Task<Choice> choose_once(RelayedRequest& r, Attempts& a, Picked& p) {
  ChoicePlan plan = plan_choice(r, a);
  co_return co_await take_planned(r, a, plan, p);
}

// Every candidate is full: wait for a slot to be freed, up to loadBalancing.selectionTimeout.
Task<Choice> wait_for_slot(RelayedRequest& r, Attempts& a, Picked& p) {
  auto& d = r.d();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(r.cfg().loadBalancing.selectionTimeout);
  asio::steady_timer timer(r.ex.stream().get_executor());
  auto waiter = d.slot_waiters.join(a.full, timer);
  if (!waiter) {
    a.waited_in_vain = true;
    co_return Choice::AllFull;
  }
  // Out of the queue and off the watch on every way out (a frame destroyed at shutdown too).
  struct Leave {
    scheduler::SlotWaiters& waiters;
    std::shared_ptr<scheduler::SlotWaiters::Waiter> waiter;
    ClientWatch& watch;
    ~Leave() {
      watch.waiting = nullptr;
      waiters.leave(waiter);
    }
  } leave{d.slot_waiters, waiter, *r.watch};
  r.watch->waiting = &timer;
  Choice outcome = Choice::AllFull;
  while (!r.gone_or_cut()) {
    timer.expires_at(deadline);
    co_await timer.async_wait(use_nothrow);
    if (r.gone_or_cut()) break;
    bool last_try = std::chrono::steady_clock::now() >= deadline;
    do {
      a.full.clear();
      outcome = co_await choose_once(r, a, p);
      // Lost the race: wait again, or at once if another slot was freed meanwhile.
    } while (outcome == Choice::AllFull && !last_try && !r.gone_or_cut() && d.slot_waiters.rewait(waiter));
    if (outcome != Choice::AllFull || last_try) break;
  }
  if (outcome == Choice::AllFull) a.waited_in_vain = true;
  co_return r.gone_or_cut() ? Choice::NoneLeft : outcome;
}

}  // namespace

bool key_may_use(const keys::ApiKey& key, const accounts::Account& account) {
  const std::string& bound = key.bound_account;
  if (bound.empty()) return account.scheduling.schedulable;
  auto group = bound_group(key);
  if (group.empty()) return account.id == bound;
  return std::find(account.groups.begin(), account.groups.end(), group) != account.groups.end();
}

AccountSlot::AccountSlot(RelayedRequest& r, std::string account_id, std::string lease)
    : deps_(r.deps), worker_(r.worker), account_id_(std::move(account_id)), lease_(std::move(lease)) {
  deps_->load_book.selected(account_id_, accounts::now_ms());
  if (!lease_.empty())
    deps_->lease_renewer(worker_, r.ex.stream().get_executor()).add_in(lease_, scheduler::leases_key(account_id_));
}

AccountSlot::~AccountSlot() {
  deps_->load_book.finished(account_id_);
  if (lease_.empty()) return;
  if (auto& renewer = deps_->lease_renewers.at(worker_)) renewer->remove(lease_);
  // At shutdown the writers may be gone already; a lease left then expires by its TTL.
  if (deps_->stopping) return;
  deps_->usage_writers.at(worker_)->append(scheduler::lease_release(account_id_, lease_),
                                           "release of account lease " + lease_);
}

Task<void> AccountSlot::release_now() {
  if (lease_.empty()) co_return;
  std::string lease = std::exchange(lease_, std::string());
  if (auto& renewer = deps_->lease_renewers.at(worker_)) renewer->remove(lease);
  auto release = scheduler::lease_release(account_id_, lease);
  auto done = co_await deps_->redis.at(worker_)->command(release);
  if (!done && deps_->spool) deps_->spool->add(usage::SpoolEntry{false, true, "", std::move(release)});
}

ChoicePlan plan_choice(RelayedRequest& r, Attempts& a) {
  ChoicePlan plan;
  plan.snapshot = r.d().accounts.snapshot();
  const accounts::Account* trial = nullptr;
  auto accounts = candidates(r, a, *plan.snapshot, &trial);
  // A circuit waiting for its trial: this request tries to claim it (once per trial per instance).
  if (trial && r.d().health_book.try_claim(trial->id, accounts::now_ms())) plan.trial = trial;
  if (accounts.empty()) return plan;
  plan.ranked = order(r, plan.candidates, accounts);
  // count_tokens holds no slot (Claude Code fires dozens at once) and keeps no session.
  bool counting = r.op == adapters::Operation::CountTokens;
  if (!counting) plan.session = conversation(r, a);
  bool capped = false;
  for (const auto* account : accounts) capped = capped || (!counting && account->scheduling.max_concurrency > 0);
  plan.in_redis = capped || !plan.session.empty() ||
                  (!counting && r.d().scheduler.orders_in_redis(std::string(bound_group(r))));
  if (const auto* sticky = recent_sticky(r, plan)) {
    plan.local = sticky;
    plan.in_redis = false;
    log_decision(r, plan.candidates, plan.ranked, sticky->id, "sticky_local", "");
  } else if (!plan.in_redis) {
    plan.local = plan.candidates[plan.ranked.front().index].account;
    log_decision(r, plan.candidates, plan.ranked, plan.local->id, "picked", "");
  }
  return plan;
}

Task<Choice> take_planned(RelayedRequest& r, Attempts& a, ChoicePlan& plan, Picked& p) {
  if (plan.trial && co_await claim_trial(r, *plan.trial)) {
    auto outcome = take_pick(r, a, *plan.snapshot, picked(plan.trial), p);
    p.trial = true;
    co_return outcome;
  }
  if (plan.candidates.empty()) co_return Choice::NoneLeft;
  Pick pick;
  if (plan.in_redis) {
    pick = co_await choose_in_redis(r, a, plan);
  } else {
    pick.account = plan.local;
    pick.outcome = Choice::Picked;
  }
  co_return take_pick(r, a, *plan.snapshot, pick, p);
}

Task<void> choose_ahead(RelayedRequest& r, AttemptState& s) {
  s.attempts.full.clear();
  s.first = co_await take_planned(r, s.attempts, *s.plan, s.first_pick);
  s.plan.reset();
}

Task<Choice> choose_account(RelayedRequest& r, AttemptState& s, Picked& p) {
  Attempts& a = s.attempts;
  Choice outcome = Choice::NoneLeft;
  if (s.first) {
    outcome = *s.first;
    s.first.reset();
    p = std::move(s.first_pick);
  } else if (s.plan) {
    outcome = co_await take_planned(r, a, *s.plan, p);
    s.plan.reset();
  } else {
    a.full.clear();
    outcome = co_await choose_once(r, a, p);
  }
  if (outcome == Choice::AllFull) outcome = co_await wait_for_slot(r, a, p);
  co_return outcome;
}

bool model_served_nowhere(RelayedRequest& r) {
  bool any = false;
  for (const auto& account : *r.d().accounts.snapshot()) {
    if (!may_use_account(r, account)) continue;
    if (account.scheduling.serves(r.fields.model)) return false;
    any = true;
  }
  return any;
}

bool some_account_can_serve(RelayedRequest& r, Attempts& a) {
  for (const auto& account : *r.d().accounts.snapshot()) {
    const auto* adapter = adapters::find_adapter(account.type);
    if (account.enabled && may_use(r, account) && adapter && lacking_feature(r, a, *adapter).empty()) return true;
  }
  return false;
}

}  // namespace crs::relay
