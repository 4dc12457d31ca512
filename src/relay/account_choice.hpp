#pragma once
// Which account answers a request: the candidates (usable, allowed to the key, serving its
// model, of a kind that can serve it), ordered by the scheduler's strategy, and the first not
// at its cap, decided in Redis when other instances matter (caps, least_recent, sticky
// sessions: one script, scheduler/selection.hpp). When every candidate is full the request
// waits for a slot (loadBalancing.selectionTimeout), first come first served.
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "adapters/adapter.hpp"
#include "adapters/request_needs.hpp"
#include "scheduler/strategy.hpp"
#include "relay/relayed_request.hpp"

namespace crs::relay {

// What the attempts so far have left.
struct Attempts {
  std::set<std::string> tried;
  std::set<std::string> refresh_now;  // answered Unauthorized; may pass after a refresh
  std::optional<adapters::UpstreamError> last_error;  // the last account error, for the client if all fail
  const adapters::Adapter* last_error_adapter = nullptr;
  std::string last_failure;  // the last failure without an answer
  std::string unsupported;   // a feature some account's kind lacked
  std::optional<adapters::RequestNeeds> needs;  // read once, when a kind lacks a feature
  std::set<std::string> full;  // candidates found at their caps (waiting for one of them)
  bool waited_in_vain = false;  // every candidate stayed full for selectionTimeout
  std::optional<std::string> conversation;  // sticky session id, once computed ("" = none)
  int made = 0;  // upstream attempts made so far
};

// The slot an account gives one attempt: counted in flight here, and on a capped account a
// lease in Redis (renewed while it lives). Given back when the attempt ends.
class AccountSlot {
 public:
  AccountSlot(RelayedRequest& r, std::string account_id, std::string lease);
  ~AccountSlot();
  // Gives the lease back now, in one round trip (before another attempt, which must not find
  // this one's lease still held).
  Task<void> release_now();
  // Whether it holds a lease (a capped account): only then is there anything to give back.
  bool holds_lease() const { return !lease_.empty(); }
  AccountSlot(const AccountSlot&) = delete;
  AccountSlot& operator=(const AccountSlot&) = delete;

 private:
  std::shared_ptr<RelayDeps> deps_;
  size_t worker_;
  std::string account_id_;
  std::string lease_;
};

// An account picked for one attempt, with the adapter of its kind and where it is reached.
struct Picked {
  // The account as it was chosen: its node in the snapshot (AccountList::share), or a copy its
  // adapter made ready (a fresh OAuth token). Not a pointer into the snapshot: a stream lasts
  // minutes, and would keep every account of a list the registry replaces every 30 s and on
  // every status change.
  std::shared_ptr<const accounts::Account> held;
  const accounts::Account& account() const { return *held; }
  const adapters::Adapter* adapter = nullptr;
  std::shared_ptr<const adapters::Endpoint> endpoint;  // set by resolve_endpoint
  std::unique_ptr<AccountSlot> slot;
  bool trial = false;  // the one request its half-open circuit lets through
  int attempt = 0;     // 1 for the request's first upstream attempt, 2 for its first failover, ...
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  int64_t started_ms = accounts::now_ms();  // the same, on the clock every instance shares

  const upstream::BaseUrl& base() const { return *endpoint->base; }
  const upstream::Proxy& proxy() const { return *endpoint->proxy; }
};

enum class Choice { Picked, NoneLeft, AllFull };

// What choosing knows before Redis: the candidates in the strategy's order, the sticky
// session, and whether Redis must take the account (a cap, least_recent, a session not
// confirmed here a moment ago) or `local` is taken at once.
struct ChoicePlan {
  std::shared_ptr<const accounts::AccountList> snapshot;  // the candidates point into it
  std::vector<scheduler::Candidate> candidates;
  std::vector<scheduler::Ranked> ranked;
  std::string session;
  bool in_redis = false;
  const accounts::Account* local = nullptr;
  const accounts::Account* trial = nullptr;  // a half-open circuit's trial to claim first
};

ChoicePlan plan_choice(RelayedRequest& r, Attempts& a);
// The planned account into `p` (without waiting: AllFull when every candidate is full).
Task<Choice> take_planned(RelayedRequest& r, Attempts& a, ChoicePlan& plan, Picked& p);

// The attempts of one request, and the first account chosen ahead of them: planned before the
// key's admission and, when Redis must take it, taken beside the admission, so that the two
// scripts leave in one write (one round trip for both).
struct AttemptState {
  Attempts attempts;
  std::optional<ChoicePlan> plan;  // planned, not yet taken
  std::optional<Choice> first;     // taken ahead, into `first_pick`
  Picked first_pick;
};

// Takes `s.plan` (forward_with_failover waits for a slot if it must).
Task<void> choose_ahead(RelayedRequest& r, AttemptState& s);

// The next account to try into `p` (the one chosen ahead first), waiting for a slot if every
// candidate is full.
Task<Choice> choose_account(RelayedRequest& r, AttemptState& s, Picked& p);

// Whether the key may use the account: a key bound to an account uses only it, one bound to a
// group only the group's accounts (never the shared pool instead). An account kept out of the
// pool (schedulable false) serves only the keys bound to it or its groups.
bool key_may_use(const keys::ApiKey& key, const accounts::Account& account);

// The key may use accounts, but none of them (usable now or not) serves the model asked for.
bool model_served_nowhere(RelayedRequest& r);
// Some account, usable now or not, has a kind that can serve this request.
bool some_account_can_serve(RelayedRequest& r, Attempts& a);

}  // namespace crs::relay
