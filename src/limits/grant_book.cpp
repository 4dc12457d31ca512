#include "limits/grant_book.hpp"

#include <algorithm>
#include <tuple>

#include <spdlog/spdlog.h>

#include "store/redis_script.hpp"

namespace crs::limits {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kLeasableSlots = 32, kLeasableWindowRequests = 256;
constexpr int64_t kFirstSlots = 8, kMaxSlots = 4096;
constexpr int64_t kFirstRequests = 64, kMaxRequests = int64_t{1} << 20;
constexpr int64_t kReservationsPerGrant = 16;  // a budget grant covers this many requests like this one
constexpr int64_t kMaxBudgetAsk = int64_t{1} << 50;
constexpr auto kIdle = std::chrono::seconds(2);
constexpr auto kTightFor = std::chrono::seconds(1);
constexpr auto kSweepEvery = std::chrono::seconds(1);

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Which of a key's limits a share carries.
struct Dimensions {
  bool slots, requests, cost, tokens;
};
bool same_limits(const keys::KeyLimits& a, const keys::KeyLimits& b) {
  auto fields = [](const keys::KeyLimits& l) {
    return std::tie(l.concurrency, l.rate_window_minutes, l.rate_requests, l.rate_cost_micro, l.total_tokens,
                    l.daily_cost_micro, l.weekly_cost_micro, l.total_cost_micro, l.weekly_reset_day,
                    l.weekly_reset_hour);
  };
  return fields(a) == fields(b);
}

Dimensions dimensions_of(const keys::ApiKey& key) {
  const auto& l = key.limits;
  return {l.concurrency > 0, l.rate_window_minutes > 0, Limits::budgeted(key), l.total_tokens > 0};
}

struct Share {
  keys::ApiKey key;                // as granted: a change of its limits makes the share stale
  int64_t slots = 0, in_use = 0;   // in_use: requests in flight from the share
  int64_t requests = 0;            // left in the window
  int64_t window_start_ms = 0;
  Clock::time_point window_end{};  // on this machine's clock
  int64_t cost = 0, tokens = 0;    // left to reserve
  Shares last;                     // what the last grant gave: the next one asks twice as much
  Clock::time_point last_used{}, tight_until{}, renewed{};
  int64_t generation = 0;          // this life of the share (completions name it)
  std::string lease;               // "G:<holder>#<generation>"
  bool granted = false;            // Redis has granted it something
  bool asking = false;             // a grant call in flight
  bool stale = false;              // admits nothing more; given back once its requests end
};

}  // namespace

struct GrantBook::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor ex, store::RedisClient& r, const Limits& l, std::string h,
       std::shared_ptr<std::atomic<int>> g)
      : executor(ex), redis(r), limits(l), holder(std::move(h)), giving_back(std::move(g)), sweep_timer(ex) {}

  asio::any_io_executor executor;
  store::RedisClient& redis;
  const Limits& limits;
  std::string holder;
  std::shared_ptr<std::atomic<int>> giving_back;
  int64_t next_generation = 1;
  std::unordered_map<std::string, Share> shares;
  asio::steady_timer sweep_timer;
  bool sweeping = false;
  std::atomic<bool> closing{false};
  Clock::time_point last_renewal{};

  // A grant is trusted for half the lease TTL after Redis last confirmed it.
  bool alive(const Share& s, Clock::time_point now) const { return now - s.renewed < limits.lease_ttl() / 2; }

  bool fits(const Share& s, int64_t cost, int64_t tokens, Clock::time_point now) const {
    Dimensions d = dimensions_of(s.key);
    if (!alive(s, now)) return false;
    if (d.slots && s.in_use >= s.slots) return false;
    if (d.requests && (now >= s.window_end || s.requests < 1)) return false;
    if (d.cost && s.cost < cost) return false;
    if (d.tokens && s.tokens < tokens) return false;
    return true;
  }

  static bool low(const Share& s, int64_t cost, int64_t tokens) {
    Dimensions d = dimensions_of(s.key);
    return (d.slots && s.slots - s.in_use <= s.slots / 4) || (d.requests && s.requests <= s.last.requests / 4) ||
           (d.cost && s.cost < 4 * cost) || (d.tokens && s.tokens < 4 * tokens);
  }

  static void take(Share& s, int64_t cost, int64_t tokens, Clock::time_point now) {
    Dimensions d = dimensions_of(s.key);
    ++s.in_use;
    if (d.requests) --s.requests;
    if (d.cost) s.cost -= cost;
    if (d.tokens) s.tokens -= tokens;
    s.last_used = now;
  }

  static Shares want_more(const Share& s, int64_t cost, int64_t tokens) {
    Dimensions d = dimensions_of(s.key);
    Shares w;
    auto budget = [](int64_t last, int64_t one) {
      return std::clamp(std::max(std::min(last, kMaxBudgetAsk) * 2, kReservationsPerGrant * std::max<int64_t>(one, 1)),
                        int64_t{1}, kMaxBudgetAsk);
    };
    if (d.slots) w.slots = std::clamp(s.last.slots * 2, kFirstSlots, kMaxSlots);
    if (d.requests) w.requests = std::clamp(s.last.requests * 2, kFirstRequests, kMaxRequests);
    if (d.cost) w.cost_micro = budget(s.last.cost_micro, cost);
    if (d.tokens) w.tokens = budget(s.last.tokens, tokens);
    return w;
  }

  // At least what one more request needs, of each dimension asked for.
  static Shares minimum(const Shares& want, int64_t cost, int64_t tokens) {
    return Shares{want.slots > 0 ? 1 : 0, want.requests > 0 ? 1 : 0, want.cost_micro > 0 ? std::max<int64_t>(cost, 1) : 0,
                  want.tokens > 0 ? std::max<int64_t>(tokens, 1) : 0};
  }

  static Task<void> ask(std::shared_ptr<Impl> self, std::string id, Shares want, Shares least) {
    auto it = self->shares.find(id);
    if (it == self->shares.end() || it->second.asking) co_return;
    it->second.asking = true;
    auto call =
        grant_call(self->limits, it->second.key, self->holder, it->second.generation, want, least, Shares{}, now_ms());
    auto sent = Clock::now();  // the window's end is reckoned from here, never later than Redis's
    auto reply = co_await store::run_script(self->redis, *call.script, std::move(call.command));
    it = self->shares.find(id);  // never erased while asking
    Share& s = it->second;
    s.asking = false;
    Granted g;
    if (reply) g = parse_granted(*reply);
    else g.error = reply.error().message;
    auto now = Clock::now();
    if (!g.ok) {
      // (A grant applied whose reply was lost stays unused until the share is given back whole.)
      spdlog::warn("grant of key {} not obtained: {}", id, g.error);
      s.tight_until = now + kTightFor;
      co_return;
    }
    if (s.granted && !g.known) {
      // Redis lost this share (a grant that expired while Redis was away, a failover): what this
      // thread believes it holds is no longer counted there. It admits nothing more from it.
      spdlog::warn("share of key {} no longer held in Redis; given back", id);
      s.stale = true;
      self->give_back(id);
      co_return;
    }
    if (g.tight) s.tight_until = now + kTightFor;
    else s.last = g.added;
    s.granted = s.granted || g.added.slots + g.added.requests + g.added.cost_micro + g.added.tokens > 0;
    s.slots += g.added.slots;
    if (g.window_start_ms != s.window_start_ms) {
      s.requests = g.added.requests;  // requests of an earlier window are spent
      s.window_start_ms = g.window_start_ms;
    } else {
      s.requests += g.added.requests;
    }
    s.window_end = sent + std::chrono::milliseconds(g.window_end_ms - g.now_ms);
    s.cost += g.added.cost_micro;
    s.tokens += g.added.tokens;
    s.renewed = now;
    self->arm_sweep();
  }

  // The whole share back to the key (everything Redis counts as this holder's), and forgotten.
  void give_back(const std::string& id) {
    auto it = shares.find(id);
    if (it == shares.end() || it->second.asking || it->second.in_use > 0) return;
    keys::ApiKey key = std::move(it->second.key);
    // Everything but the requests used: Redis counts those granted, not those used. (Budget
    // given back whole is right even with charges still in unsent batches: those name this
    // life of the share, find it gone and are charged all the same.)
    Shares back{kAll, std::max<int64_t>(it->second.requests, 0), kAll, kAll};
    auto call = grant_call(limits, key, holder, it->second.generation, Shares{}, Shares{}, back, now_ms());
    shares.erase(it);
    ++*giving_back;
    asio::co_spawn(executor, give_back_call(shared_from_this(), std::move(key.id), std::move(call)), asio::detached);
  }

  static Task<void> give_back_call(std::shared_ptr<Impl> self, std::string id, ScriptCall call) {
    auto reply = co_await store::run_script(self->redis, *call.script, std::move(call.command));
    --*self->giving_back;
    // Not given back: the share expires with its grant (no longer renewed).
    if (!reply || reply->is_error())
      spdlog::warn("share of key {} not given back (it expires with its grant): {}", id,
                   reply ? reply->str : reply.error().message);
  }

  void arm_sweep() {
    if (sweeping || shares.empty()) return;
    sweeping = true;
    sweep_timer.expires_after(kSweepEvery);
    sweep_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      self->sweeping = false;
      if (ec) return;
      self->sweep();
      self->arm_sweep();
    });
  }

  // Idle, stale or closing shares go back; the rest are renewed every third of the lease TTL.
  void sweep() {
    auto now = Clock::now();
    std::vector<std::string> done;
    for (const auto& [id, s] : shares)
      if (!s.asking && s.in_use == 0 && (s.stale || closing || now - s.last_used >= kIdle)) done.push_back(id);
    for (const auto& id : done) give_back(id);
    if (shares.empty() || now - last_renewal < limits.lease_ttl() / 3) return;
    last_renewal = now;
    asio::co_spawn(executor, renew(shared_from_this()), asio::detached);
  }

  static Task<void> renew(std::shared_ptr<Impl> self) {
    std::vector<std::string> ids;
    std::vector<store::RedisCommand> calls;
    for (const auto& [id, s] : self->shares) {
      ids.push_back(id);
      auto call = self->limits.renewal_in(grants_key(id), self->holder);
      calls.push_back(call.script->with_source(call.command));
    }
    auto sent = Clock::now();
    auto replies = co_await self->redis.pipeline(std::move(calls));
    if (!replies) co_return;  // the shares stop admitting once not renewed for half the TTL
    for (size_t i = 0; i < ids.size() && i < replies->size(); ++i) {
      auto it = self->shares.find(ids[i]);
      if (it == self->shares.end()) continue;
      // 0: the grant is gone (expired while Redis was away, or Redis lost it): admit nothing more.
      if ((*replies)[i].is_error() || (*replies)[i].integer == 0) it->second.stale = true;
      else it->second.renewed = sent;
    }
  }
};

GrantBook::GrantBook(asio::any_io_executor executor, store::RedisClient& redis, const Limits& limits,
                     std::string holder, std::shared_ptr<std::atomic<int>> giving_back)
    : impl_(std::make_shared<Impl>(executor, redis, limits, std::move(holder), std::move(giving_back))) {}

GrantBook::~GrantBook() = default;

bool GrantBook::leasable(const keys::ApiKey& key) {
  const auto& l = key.limits;
  if (!l.any()) return false;
  if (l.concurrency > 0 && l.concurrency < kLeasableSlots) return false;
  if (l.rate_window_minutes > 0 && l.rate_requests > 0 && l.rate_requests < kLeasableWindowRequests) return false;
  return true;
}

Task<std::optional<GrantTicket>> GrantBook::admit(const keys::ApiKey& key, int64_t reserve_cost,
                                                  int64_t reserve_tokens) {
  auto self = impl_;
  if (self->closing) co_return std::nullopt;
  auto now = Clock::now();
  auto [it, fresh] = self->shares.try_emplace(key.id);
  if (fresh) {
    it->second.key = key;
    it->second.generation = self->next_generation++;
    it->second.lease = "G:" + self->holder + "#" + std::to_string(it->second.generation);
    self->arm_sweep();
  }
  Share& s = it->second;
  if (!same_limits(s.key.limits, key.limits)) s.stale = true;  // given back once its requests end
  if (s.stale) {
    self->give_back(key.id);
    co_return std::nullopt;
  }
  if (self->fits(s, reserve_cost, reserve_tokens, now)) {
    Impl::take(s, reserve_cost, reserve_tokens, now);
    if (Impl::low(s, reserve_cost, reserve_tokens) && !s.asking && now >= s.tight_until) {
      auto want = Impl::want_more(s, reserve_cost, reserve_tokens);
      asio::co_spawn(self->executor, Impl::ask(self, key.id, want, Impl::minimum(want, reserve_cost, reserve_tokens)),
                     asio::detached);
    }
    co_return GrantTicket{key.id, s.lease, reserve_cost, reserve_tokens};
  }
  // Another request is asking already, or the key's limits were nearly reached a moment ago:
  // this one goes exactly.
  if (s.asking || now < s.tight_until) co_return std::nullopt;
  auto want = Impl::want_more(s, reserve_cost, reserve_tokens);
  auto least = Impl::minimum(want, reserve_cost, reserve_tokens);
  co_await Impl::ask(self, key.id, want, least);
  auto again = self->shares.find(key.id);
  now = Clock::now();
  if (again == self->shares.end() || self->closing || !self->fits(again->second, reserve_cost, reserve_tokens, now))
    co_return std::nullopt;
  Impl::take(again->second, reserve_cost, reserve_tokens, now);
  co_return GrantTicket{key.id, again->second.lease, reserve_cost, reserve_tokens};
}

void GrantBook::finish(const GrantTicket& ticket, int64_t charged_cost, int64_t charged_tokens) {
  auto it = impl_->shares.find(ticket.key_id);
  if (it == impl_->shares.end()) return;
  Share& s = it->second;
  Dimensions d = dimensions_of(s.key);
  --s.in_use;
  if (d.cost) s.cost += ticket.reserved_cost - charged_cost;
  if (d.tokens) s.tokens += ticket.reserved_tokens - charged_tokens;
  s.last_used = Clock::now();
  if ((s.stale || impl_->closing) && s.in_use == 0) impl_->give_back(ticket.key_id);
}

void GrantBook::close() {
  impl_->closing = true;
  impl_->sweep();
}

}  // namespace crs::limits
