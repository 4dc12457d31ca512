#include "relay/admission.hpp"

#include <spdlog/spdlog.h>

#include "core/crypto.hpp"
#include "core/time.hpp"
#include "keys/key_store.hpp"
#include "metrics/metrics.hpp"
#include "relay/answers.hpp"
#include "relay/key_rules.hpp"
#include "store/redis_script.hpp"

namespace crs::relay {
namespace {

// The relay key, from the first non-empty of the places the Node.js service accepts.
std::string client_key(const http_server::Request& req, std::string_view query) {
  for (const char* name : {"x-api-key", "x-goog-api-key", "authorization", "api-key"}) {
    std::string_view v = req[name];
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (v.size() > 7 && beast::iequals(v.substr(0, 7), "bearer ")) v.remove_prefix(7);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (!v.empty()) return std::string(v);
  }
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string_view pair = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (pair.starts_with("key=")) return std::string(pair.substr(4));
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return {};
}

Response unavailable(std::string_view what) { return error(http::status::service_unavailable, what); }

// What a request may cost at most, reserved against the key's budgets at admission: its
// input estimated from the body (a token per 4 bytes), its output at max_tokens (4,096 if the
// body names none), priced as the model asked for.
usage::Usage reservation_estimate(const std::string& body, const RequestFields& fields) {
  constexpr int64_t kDefaultMaxTokens = 4096;
  usage::Usage u;
  u.input_tokens = static_cast<int64_t>(body.size() / 4) + 1;
  u.output_tokens = fields.max_tokens > 0 ? fields.max_tokens : kDefaultMaxTokens;
  return u;
}

// The admission script's reply was lost: Redis may have taken the lease meanwhile, so its
// release is spooled; the request goes on uncounted only under relay.admitWhenRedisDown.
std::optional<Response> admission_lost(RelayedRequest& r, const std::string& lease, const Error& why) {
  spdlog::error("admission of key {} failed: {}", r.key().id, why.message);
  auto& d = r.d();
  if (!lease.empty() && d.spool && !usage::failed_before_sending(why.message))
    d.spool->add(usage::SpoolEntry{false, true, "", d.limits.release(r.key(), lease)});
  if (r.rc().admitWhenRedisDown) return std::nullopt;  // charged later, from the spool
  return unavailable("Limits cannot be checked right now, retry shortly");
}

}  // namespace

Task<std::optional<Response>> authenticate(RelayDeps& d, http_server::Exchange& ex, keys::KeyCache::Record& out) {
  // Until counters of older keys are seeded, a charge would start them from zero.
  if (!d.store_ready) co_return unavailable("The relay is starting; try again shortly");
  std::string plaintext = client_key(ex.request(), ex.query());
  if (plaintext.empty())
    co_return error(http::status::unauthorized,
                    "Missing API key: send your relay key as x-api-key or Authorization: Bearer");
  if (plaintext.size() < 10 || plaintext.size() > 512 || !plaintext.starts_with(d.startup.security.apiKeyPrefix))
    co_return error(http::status::unauthorized, "Invalid API key");
  // The digest of the key this connection presented last. Compared in constant time: behind
  // a reverse proxy one connection may carry the requests of many users.
  auto& memo = ex.memo();
  if (!crypto::equal_constant_time(memo.input, plaintext)) {
    memo.output = keys::digest_of(plaintext, d.startup.security.encryptionKey);
    memo.input = plaintext;
  }
  const std::string digest = memo.output;
  keys::KeyCache::Record key;
  if (auto cached = d.key_cache.lookup(digest)) {
    key = std::move(*cached);
  } else {
    keys::KeyStore store(*d.redis.at(ex.worker()), d.startup.security.encryptionKey, d.startup.security.apiKeyPrefix);
    uint64_t generation = d.key_cache.generation();
    auto found = co_await store.find_by_digest(digest);
    if (!found) {
      spdlog::error("key lookup failed: {}", found.error().message);
      co_return unavailable("Authentication is temporarily unavailable, retry shortly");
    }
    if (*found) key = std::make_shared<const keys::ApiKey>(std::move(**found));
    d.key_cache.put(digest, key, generation);
  }
  if (!key) co_return error(http::status::unauthorized, "Invalid API key");
  out = std::move(key);
  co_return std::nullopt;
}

Task<std::optional<Response>> check_key(RelayDeps& d, http_server::Exchange& ex, keys::KeyCache::Record& held,
                                        std::string_view family, std::string_view model, bool any_client) {
  std::string now = iso8601_utc();
  RequestFacts facts;
  facts.family = family;
  facts.user_agent = ex.request()[http::field::user_agent];
  facts.model = model;
  facts.any_client = any_client;
  facts.now_iso = now;
  const keys::ApiKey& key = *held;
  // The rules first: a refused request must not start an "activation" key's clock.
  if (auto refusal = check_key_rules(key, facts)) co_return refusal_response(*refusal);
  if (key.enabled && key.expiration_mode == "activation" && key.activated_at.empty()) {
    keys::KeyStore store(*d.redis.at(ex.worker()), d.startup.security.encryptionKey, d.startup.security.apiKeyPrefix);
    auto activated = co_await store.activate(key.id);
    if (!activated || !*activated) {
      spdlog::error("key {} activation failed: {}", key.id, activated ? "key gone" : activated.error().message);
      co_return unavailable("Authentication is temporarily unavailable, retry shortly");
    }
    held = std::make_shared<const keys::ApiKey>(std::move(**activated));
  }
  co_return std::nullopt;
}

// ---- counted limits ----

Admission::~Admission() {
  if (book && !settled) book->finish(grant, 0, 0);
  if (renewer && !settled) renewer->remove(lease);
  // At shutdown the writers may be gone already; a lease left then expires by its TTL.
  if (key && !lease.empty() && !settled && !deps->stopping)
    deps->usage_writers.at(worker)->append(deps->limits.release(*key, lease), "release of lease " + lease);
}

std::string Admission::settle(int64_t charged_cost, int64_t charged_tokens) {
  settled = true;
  if (book) {
    book->finish(grant, charged_cost, charged_tokens);
    return grant.lease;
  }
  if (renewer) renewer->remove(lease);
  return lease;
}

Task<void> Admission::release_now() {
  if (book && !settled) {
    settled = true;
    book->finish(grant, 0, 0);
    co_return;
  }
  if (!key || lease.empty() || settled) co_return;
  settled = true;
  if (renewer) renewer->remove(lease);
  auto release = deps->limits.release(*key, lease);
  auto r = co_await deps->redis.at(worker)->command(release);
  if (!r && deps->spool) deps->spool->add(usage::SpoolEntry{false, true, "", std::move(release)});
  else if (!r || r->is_error()) spdlog::warn("lease {} of key {} not released: {}", lease, key->id, r ? r->str : r.error().message);
}

Task<std::optional<Response>> admit(RelayedRequest& r) {
  auto& d = r.d();
  const auto& key = r.key();
  r.admission.deps = r.deps;
  r.admission.worker = r.worker;
  if (!limits::Limits::counted(key)) co_return std::nullopt;
  int64_t now = accounts::now_ms();
  // Unique across instances: the request id (for the logs) and crypto::unique_suffix(); with budgets,
  // followed by the reservation it holds.
  std::string lease;
  bool budgeted = limits::Limits::budgeted(key);
  auto estimate = reservation_estimate(r.body(), r.fields);
  int64_t reserved_cost = budgeted ? d.pricing.cost(r.fields.model, estimate).micro : 0;
  int64_t reserved_tokens = budgeted ? estimate.total() : 0;
  // A key with wide limits: from this thread's share of them, when it has enough.
  if (limits::GrantBook::leasable(key)) {
    auto& book = d.grant_book(r.worker, r.ex.stream().get_executor());
    auto ticket = co_await book.admit(key, reserved_cost, reserved_tokens);
    if (ticket) {
      r.admission.key = &key;
      r.admission.book = &book;
      r.admission.grant = std::move(*ticket);
      co_return std::nullopt;
    }
  }
  if (key.limits.concurrency > 0 || budgeted) {
    std::string id = r.ex.request_id() + ":" + crypto::unique_suffix();
    lease = budgeted ? limits::Limits::lease_member(id, reserved_cost, reserved_tokens) : id;
  }
  auto& redis = *d.redis.at(r.worker);
  // What Redis could not take earlier (a blip) goes first: the leases it releases must not
  // count against this request.
  if (d.spool && d.spool->size() > 0) co_await d.spool->replay(redis, &limits::Limits::replay_form);
  // Likewise the leases finished requests give back: this thread's open batch (the same
  // connection: Redis applies it first), and any thread's batches Redis did not take.
  auto& metering = *d.metering.at(r.worker);
  metering.send_urgent();
  if (metering.has_kept()) co_await metering.send_kept_now();
  auto call = d.limits.admission(key, lease, now, reserved_cost, reserved_tokens);
  auto reply = co_await store::run_script(redis, *call.script, std::move(call.command));
  if (!reply) co_return admission_lost(r, lease, reply.error());
  auto decision = d.limits.decide(key, *reply, now);
  if (!decision.error.empty()) {
    spdlog::error("admission of key {} failed: {}", key.id, decision.error);
    co_return unavailable("Limits cannot be checked right now, retry shortly");
  }
  if (!decision.admitted) co_return refusal_response(limit_refusal(decision, key, decision.now_ms));
  r.admission.key = &key;
  r.admission.lease = lease;
  if (!lease.empty()) {
    r.admission.renewer = &d.lease_renewer(r.worker, r.ex.stream().get_executor());
    r.admission.renewer->add(lease, key.id);
  }
  co_return std::nullopt;
}

// ---- metering ----

usage::UsageEvent usage_event(const RelayedRequest& r, const accounts::Account& account, const std::string& model,
                              const usage::Usage& used, unsigned status, bool stream, bool partial) {
  usage::UsageEvent e;
  e.timestamp_ms = accounts::now_ms();
  e.key_id = r.key().id;
  e.account_id = account.id;
  e.model = model;
  e.usage = used;
  auto cost = r.d().pricing.cost(model, used);
  e.cost_micro = cost.micro;
  e.priced_by_fallback = cost.fallback;
  e.long_context = cost.long_context;
  e.status = static_cast<int>(status);
  e.stream = stream;
  e.partial = partial;
  e.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - r.started).count();
  e.request_id = r.ex.request_id();
  e.endpoint = std::string(r.endpoint);
  spdlog::debug("request {} key={} account={} model={} status={} in={} out={} cache_create={} cache_read={} "
                "cost_micro={} partial={} {}ms",
                e.request_id, e.key_id, e.account_id, e.model, e.status, used.input_tokens, used.output_tokens,
                used.cache_creation_input_tokens, used.cache_read_input_tokens, e.cost_micro, partial, e.duration_ms);
  return e;
}

// Every key is charged, so a limit set later starts from what was really spent. Called before
// the client sees the end of the answer, which waits only for the record to be in this thread's
// journal: Redis gets it in a batch (limits/metering.hpp), at the end of this turn of the event
// loop when it gives back a lease.
void count_relayed(const usage::UsageEvent& e) {
  metrics::RelayedTokens t{e.usage.input_tokens, e.usage.output_tokens, e.usage.cache_creation_input_tokens,
                           e.usage.cache_read_input_tokens};
  metrics::relayed(e.model, static_cast<unsigned>(e.status), e.stream, t, e.cost_micro,
                   static_cast<double>(e.duration_ms) / 1000.0);
  metrics::relayed_for_key(e.key_id, t, e.cost_micro);
}

Task<void> meter(RelayedRequest& r, usage::UsageEvent e) {
  auto& d = r.d();
  count_relayed(e);
  // The account's window, for least_used and balanced (written to Redis once a second by
  // LoadBalancingSync, for every account at once).
  if (!e.account_id.empty() && d.startup.loadBalancing.enabled) d.load_book.charged(e.account_id, e.usage.total());
  std::string lease = r.admission.key ? r.admission.settle(e.cost_micro, e.usage.total()) : std::string();
  bool frees_a_lease = !lease.empty() && !r.admission.book;  // a grant's slot came free here already
  auto record = d.limits.completion_record(r.key(), lease, e);
  co_await d.metering.at(r.worker)->add(std::move(record), frees_a_lease);
}

}  // namespace crs::relay
