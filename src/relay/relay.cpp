#include "relay/relay.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_map>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "accounts/account_store.hpp"
#include "core/crypto.hpp"
#include "core/time.hpp"
#include "http/responses.hpp"
#include "keys/key_store.hpp"
#include "relay/oauth_refresh.hpp"
#include "relay/key_rules.hpp"
#include "store/redis_script.hpp"
#include "relay/request_fields.hpp"
#include "relay/upstream_errors.hpp"
#include "relay/upstream_request.hpp"
#include "usage/sse_usage_scanner.hpp"
#include "usage/usage_event.hpp"

namespace crs::relay {
namespace json = boost::json;
using http_server::Exchange;
using http_server::Response;

namespace {

enum class Route { Messages, CountTokens };

constexpr size_t kErrorBodyLimit = 1 << 20;
constexpr size_t kWholeBodyLimit = 64 << 20;
constexpr size_t kChunk = 16384;

// Read buffers of kChunk bytes, reused on this thread. A fresh one per request made malloc
// consolidate its free lists each time (~2% of the relay's CPU with small requests).
// Not zero-filled: the bytes are always written by a read before they are used.
struct SpareChunks {
  std::vector<char*> kept;
  ~SpareChunks() {
    for (char* p : kept) delete[] p;
  }
};
thread_local SpareChunks spare_chunks;

struct ChunkReturn {
  void operator()(char* p) const {
    // Frames destroyed at exit may run on another thread: its own list takes the buffer.
    if (spare_chunks.kept.size() < 64) spare_chunks.kept.push_back(p);
    else delete[] p;
  }
};
using ChunkBuffer = std::unique_ptr<char[], ChunkReturn>;

ChunkBuffer chunk_buffer() {
  if (spare_chunks.kept.empty()) return ChunkBuffer(new char[kChunk]);
  char* p = spare_chunks.kept.back();
  spare_chunks.kept.pop_back();
  return ChunkBuffer(p);
}

// A 503 here means Redis (keys, limits) cannot answer right now, or the relay is starting:
// Retry-After tells the client when trying again makes sense.
constexpr std::string_view kRetryAfterUnavailable = "5";

Response error(http::status status, std::string_view message) {
  auto res = http_server::anthropic_error(status, http_server::anthropic_error_type(status), message);
  if (status == http::status::service_unavailable) res.set(http::field::retry_after, kRetryAfterUnavailable);
  return res;
}

// ---- admission ----

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

Task<std::optional<Response>> authenticate(RelayDeps& d, Exchange& ex, keys::ApiKey& out) {
  // Until counters of older keys are seeded, a charge would start them from zero.
  if (!d.store_ready) co_return error(http::status::service_unavailable, "The relay is starting; try again shortly");
  std::string plaintext = client_key(ex.request(), ex.query());
  if (plaintext.empty())
    co_return error(http::status::unauthorized,
                    "Missing API key: send your relay key as x-api-key or Authorization: Bearer");
  if (plaintext.size() < 10 || plaintext.size() > 512 || !plaintext.starts_with(d.config.security.apiKeyPrefix))
    co_return error(http::status::unauthorized, "Invalid API key");
  // The digest of the key this connection presented last. Compared in constant time: behind
  // a reverse proxy one connection may carry the requests of many users.
  auto& memo = ex.memo();
  if (!crypto::equal_constant_time(memo.input, plaintext)) {
    memo.output = keys::digest_of(plaintext, d.config.security.encryptionKey);
    memo.input = plaintext;
  }
  const std::string digest = memo.output;
  std::optional<keys::ApiKey> key;
  if (auto cached = d.key_cache.lookup(digest)) {
    key = std::move(*cached);
  } else {
    keys::KeyStore store(*d.redis.at(ex.worker()), d.config.security.encryptionKey, d.config.security.apiKeyPrefix);
    uint64_t generation = d.key_cache.generation();
    auto found = co_await store.find_by_digest(digest);
    if (!found) {
      spdlog::error("key lookup failed: {}", found.error().message);
      co_return error(http::status::service_unavailable, "Authentication is temporarily unavailable, retry shortly");
    }
    key = std::move(*found);
    d.key_cache.put(digest, key, generation);
  }
  if (!key) co_return error(http::status::unauthorized, "Invalid API key");
  out = std::move(*key);
  co_return std::nullopt;
}

// What an authenticated key allows (key_rules.hpp). An "activation" key starts its life on
// its first request here.
Task<std::optional<Response>> check_key(RelayDeps& d, Exchange& ex, keys::ApiKey& key, std::string_view model,
                                        bool any_client) {
  std::string now = iso8601_utc();
  RequestFacts facts;
  facts.family = "claude";
  facts.user_agent = ex.request()[http::field::user_agent];
  facts.model = model;
  facts.any_client = any_client;
  facts.now_iso = now;
  // The rules first: a refused request must not start an "activation" key's clock.
  if (auto refusal = check_key_rules(key, facts)) co_return refusal_response(*refusal);
  if (key.enabled && key.expiration_mode == "activation" && key.activated_at.empty()) {
    keys::KeyStore store(*d.redis.at(ex.worker()), d.config.security.encryptionKey, d.config.security.apiKeyPrefix);
    auto activated = co_await store.activate(key.id);
    if (!activated || !*activated) {
      spdlog::error("key {} activation failed: {}", key.id, activated ? "key gone" : activated.error().message);
      co_return error(http::status::service_unavailable, "Authentication is temporarily unavailable, retry shortly");
    }
    key = std::move(**activated);
  }
  co_return std::nullopt;
}

// ---- shutdown ----

constexpr std::string_view kShuttingDown = "The relay is shutting down; retry the request";

Response shutting_down() { return error(http::status::service_unavailable, kShuttingDown); }

// Keeps a request in its thread's set of requests in flight while it lives.
class InFlight {
 public:
  InFlight(RelayDeps& deps, size_t worker, ClientWatch& watch)
      : set_(deps.in_flight.at(worker)), count_(deps.in_flight_count), watch_(watch) {
    set_.insert(&watch_);
    ++count_;
  }
  ~InFlight() {
    set_.erase(&watch_);
    --count_;
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::unordered_set<ClientWatch*>& set_;
  std::atomic<size_t>& count_;
  ClientWatch& watch_;
};

// ---- upstream responses ----

struct UpstreamError {
  unsigned status = 0;
  http::response_header<> headers;
  std::string body;
};

Task<std::pair<beast::error_code, std::string>> read_whole(upstream::Connection& conn, upstream::ResponseParser& parser,
                                                           size_t limit, std::chrono::milliseconds idle) {
  std::string body;
  auto buf = chunk_buffer();
  while (!parser.is_done()) {
    conn.expires_after(idle);
    auto [ec, n] = co_await conn.read_body(parser, buf.get(), kChunk);
    body.append(buf.get(), n);
    if (ec) co_return std::pair{ec, std::move(body)};
    if (body.size() > limit) co_return std::pair{beast::error_code(http::error::body_limit), std::move(body)};
  }
  co_return std::pair{beast::error_code{}, std::move(body)};
}

// Non-JSON upstream errors (an edge proxy's HTML page) reach the client in the Anthropic shape.
std::string client_error_body(unsigned status, const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec && v.is_object() && v.get_object().contains("error")) return body;
  auto s = static_cast<http::status>(status);
  std::string snippet = body.substr(0, 200);
  return http_server::anthropic_error_body(http_server::anthropic_error_type(s),
                                           fmt::format("Upstream returned HTTP {}: {}", status, snippet));
}

Response to_client(const UpstreamError& e) {
  Response res{static_cast<http::status>(e.status), 11};
  copy_response_headers(e.headers, res);
  res.set(http::field::content_type, "application/json");
  res.body() = client_error_body(e.status, e.body);
  return res;
}

std::string error_event(std::string_view type, std::string_view message) {
  return "event: error\ndata: " + http_server::anthropic_error_body(type, message) + "\n\n";
}

// ---- accounts ----

Task<void> report(RelayDeps& d, size_t worker, const accounts::Account& account, std::string_view status,
                  int64_t until_ms, std::string reason) {
  spdlog::warn("account {} ({}) is {} until {}: {}", account.name, account.id, status,
               until_ms ? iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(until_ms)))
                        : "an admin acts",
               reason);
  d.accounts.set_status(account.id, std::string(status), until_ms, reason);
  accounts::AccountStore store(*d.redis.at(worker), d.config.security.encryptionKey);
  if (auto s = co_await store.set_status(account.id, std::string(status), until_ms, reason); !s)
    spdlog::warn("cannot record the state of account {}: {}", account.id, s.error().message);
}

bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == http::error::partial_message;
}

// ---- metering ----

// A request admitted under counted limits (limits/limits.hpp): its concurrency lease is
// renewed while it lives, and released on every way out — with the charge and the usage
// event at completion, or alone when there is nothing to charge.
struct Admission {
  std::shared_ptr<RelayDeps> deps;
  size_t worker = 0;
  std::optional<keys::ApiKey> key;  // set when the key has counted limits
  std::string lease;                // empty: no concurrency limit and no budget
  LeaseRenewer* renewer = nullptr;  // renews the lease while the request lives
  bool settled = false;

  // The completion script for a metered answer; nothing is left to release after it.
  limits::ScriptCall complete(const usage::UsageEvent& e) {
    settled = true;
    if (renewer) renewer->remove(lease);
    return deps->limits.completion(*key, lease, e);
  }
  // Frees the slot before an error answer goes out, so the client's retry finds it free.
  Task<void> release_now() {
    if (!key || lease.empty() || settled) co_return;
    settled = true;
    if (renewer) renewer->remove(lease);
    auto release = deps->limits.release(*key, lease);
    auto r = co_await deps->redis.at(worker)->command(release);
    if (!r && deps->spool) deps->spool->add(usage::SpoolEntry{false, true, "", std::move(release)});
    else if (!r || r->is_error()) spdlog::warn("lease {} of key {} not released: {}", lease, key->id, r ? r->str : r.error().message);
  }
  ~Admission() {
    if (renewer && !settled) renewer->remove(lease);
    // At shutdown the writers may be gone already; a lease left then expires by its TTL.
    if (key && !lease.empty() && !settled && !deps->stopping)
      deps->usage_writers.at(worker)->append(deps->limits.release(*key, lease), "release of lease " + lease);
  }
};

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

// One round trip: refused (the response to send), or admitted with `admission` filled in.
Task<std::optional<Response>> admit(std::shared_ptr<RelayDeps> deps, Exchange& ex, const keys::ApiKey& key,
                                    const usage::Usage& estimate, const std::string& model, Admission& admission) {
  admission.deps = deps;
  admission.worker = ex.worker();
  if (!limits::Limits::counted(key)) co_return std::nullopt;
  int64_t now = accounts::now_ms();
  // Unique across instances: the request id (for the logs) and 64 random bits; with budgets,
  // followed by the reservation it holds.
  std::string lease;
  bool budgeted = limits::Limits::budgeted(key);
  int64_t reserved_cost = budgeted ? deps->pricing.cost(model, estimate).micro : 0;
  int64_t reserved_tokens = budgeted ? estimate.total() : 0;
  if (key.limits.concurrency > 0 || budgeted) {
    std::string id = ex.request_id() + ":" + crypto::random_hex(8);
    lease = budgeted ? limits::Limits::lease_member(id, reserved_cost, reserved_tokens) : id;
  }
  // What Redis could not take earlier (a blip) goes first: the leases it releases must not
  // count against this request.
  if (deps->spool && deps->spool->size() > 0)
    co_await deps->spool->replay(*deps->redis.at(ex.worker()), &limits::Limits::replay_form);
  auto call = deps->limits.admission(key, lease, now, reserved_cost, reserved_tokens);
  auto reply = co_await store::run_script(*deps->redis.at(ex.worker()), *call.script, std::move(call.command));
  if (!reply) {
    spdlog::error("admission of key {} failed: {}", key.id, reply.error().message);
    // The script may have run and taken the lease before the reply was lost: give it back.
    if (!lease.empty() && deps->spool && !usage::failed_before_sending(reply.error().message))
      deps->spool->add(usage::SpoolEntry{false, true, "", deps->limits.release(key, lease)});
    // relay.admitWhenRedisDown: relayed uncounted; the usage is spooled and charged later.
    if (deps->config.relay.admitWhenRedisDown) co_return std::nullopt;
    co_return error(http::status::service_unavailable, "Limits cannot be checked right now, retry shortly");
  }
  auto decision = deps->limits.decide(key, *reply, now);
  if (!decision.error.empty()) {
    spdlog::error("admission of key {} failed: {}", key.id, decision.error);
    co_return error(http::status::service_unavailable, "Limits cannot be checked right now, retry shortly");
  }
  if (!decision.admitted) co_return refusal_response(limit_refusal(decision, key, decision.now_ms));
  admission.key = key;
  admission.lease = lease;
  if (!lease.empty()) {
    admission.renewer = &deps->lease_renewer(ex.worker(), ex.stream().get_executor());
    admission.renewer->add(lease, key.id);
  }
  co_return std::nullopt;
}

// `model`: what the upstream served (its answer's "model"), else what the client asked for;
// the upstream bills the model it served.
usage::UsageEvent usage_event(const RelayDeps& d, const Exchange& ex, const keys::ApiKey& key,
                              const accounts::Account& account, const std::string& model, const usage::Usage& used,
                              unsigned status, bool stream, bool partial, std::chrono::steady_clock::time_point started) {
  usage::UsageEvent e;
  e.timestamp_ms = accounts::now_ms();
  e.key_id = key.id;
  e.account_id = account.id;
  e.model = model;
  e.usage = used;
  auto cost = d.pricing.cost(model, used);
  e.cost_micro = cost.micro;
  e.priced_by_fallback = cost.fallback;
  e.long_context = cost.long_context;
  e.status = static_cast<int>(status);
  e.stream = stream;
  e.partial = partial;
  e.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  e.request_id = ex.request_id();
  e.endpoint = "/v1/messages";
  spdlog::debug("request {} key={} account={} model={} status={} in={} out={} cache_create={} cache_read={} "
                "cost_micro={} partial={} {}ms",
                e.request_id, e.key_id, e.account_id, e.model, e.status, used.input_tokens, used.output_tokens,
                used.cache_creation_input_tokens, used.cache_read_input_tokens, e.cost_micro, partial, e.duration_ms);
  return e;
}

// Records a finished request, with the completion script of limits/limits.hpp: the event,
// the charge to the key's counters and the lease release, together. Every key is charged,
// so a limit set later starts from what was really spent. Called before the client sees
// the end of the answer:
// - under counted limits the script completes first, so the client's next request already
//   finds its budget charged and its slot free (the one round trip at completion);
// - otherwise it joins this thread's writer (usage/event_writer.hpp) and nobody waits.
Task<void> meter(std::shared_ptr<RelayDeps> deps, Exchange& ex, Admission& admission, const keys::ApiKey& key,
                 usage::UsageEvent e) {
  auto what = [&e] {
    return fmt::format("usage of request {} (key {}, {} tokens, {} micro-USD)", e.request_id, e.key_id,
                       e.usage.total(), e.cost_micro);
  };
  if (!admission.key) {
    auto call = deps->limits.completion(key, "", e);
    deps->usage_writers.at(ex.worker())->append(std::move(call.command), what(), call.script, e.request_id);
    co_return;
  }
  auto call = admission.complete(e);
  auto command = call.command;  // kept for the spool
  auto r = co_await store::run_script(*deps->redis.at(ex.worker()), *call.script, std::move(call.command));
  if (!r && deps->spool) {
    bool ambiguous = !usage::failed_before_sending(r.error().message);
    deps->spool->add(usage::SpoolEntry{true, ambiguous, e.request_id, std::move(command)});
    spdlog::warn("{} spooled: {}", what(), r.error().message);
  } else if (!r || r->is_error()) {
    spdlog::error("{} not recorded: {}", what(), r ? r->str : r.error().message);
  }
}

// ---- the relay ----

struct ParsedEndpoint {
  Result<upstream::BaseUrl> base;
  Result<upstream::Proxy> proxy;
};

// An account's URLs parsed once per I/O thread, not per request (parsing costs more than
// picking the account). Keyed by the text, so an edited account is parsed anew.
const ParsedEndpoint& parsed_endpoint(const accounts::Account& account) {
  thread_local std::unordered_map<std::string, ParsedEndpoint> cache;
  std::string key = account.base_url + '\n' + account.proxy;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= 1024) cache.clear();
  ParsedEndpoint parsed{upstream::parse_base_url(account.base_url), upstream::parse_proxy_url(account.proxy)};
  return cache.emplace(std::move(key), std::move(parsed)).first->second;
}

Task<void> relay_call(std::shared_ptr<RelayDeps> deps, Exchange& ex, Route route) {
  RelayDeps& d = *deps;
  const auto& rc = d.config.relay;
  auto started = std::chrono::steady_clock::now();
  size_t worker = ex.worker();

  keys::ApiKey key;
  if (auto refusal = co_await authenticate(d, ex, key)) {
    co_await ex.send(std::move(*refusal));
    co_return;
  }
  // Without Redis nothing can be counted: refused unless relay.admitWhenRedisDown (then the
  // usage goes to the spool and is written once Redis is back).
  if (route == Route::Messages && !rc.admitWhenRedisDown && !d.redis.at(worker)->connected()) {
    co_await ex.send(error(http::status::service_unavailable, "Usage cannot be recorded right now, retry shortly"));
    co_return;
  }
  // Only now, for a known key, is the body read (the route reads it itself).
  if (auto refusal = co_await ex.read_body()) {
    co_await ex.send(std::move(*refusal));
    co_return;
  }
  std::string& body = ex.request().body();
  RequestFields fields = read_request_fields(body, true);
  if (!fields.error.empty()) {
    co_await ex.send(error(http::status::bad_request, fields.error));
    co_return;
  }
  // count_tokens too is held to the key's client allow-list: it reaches an upstream account
  // (Claude Code's own calls carry its user agent and pass).
  if (auto refusal = co_await check_key(d, ex, key, fields.model, false)) {
    co_await ex.send(std::move(*refusal));
    co_return;
  }
  // count_tokens uses no window, budget or slot: Claude Code fires dozens at once.
  Admission admission;
  if (route == Route::Messages) {
    auto estimate = reservation_estimate(body, fields);
    if (auto refusal = co_await admit(deps, ex, key, estimate, fields.model, admission)) {
      co_await ex.send(std::move(*refusal));
      co_return;
    }
  }
  std::string path = route == Route::Messages ? "/v1/messages" : "/v1/messages/count_tokens";

  auto watch = std::make_shared<ClientWatch>();
  WatchGuard guard(ex.stream().socket(), watch, d.watch_sweeper(worker, ex.stream().get_executor()));
  InFlight in_flight(d, worker, *watch);

  std::set<std::string> tried;
  std::set<std::string> refresh_now;  // OAuth accounts that answered 401: refresh, then try once more
  std::optional<UpstreamError> last_error;
  std::string last_failure;
  auto& pool = *d.pools.at(worker);
  for (int attempt = 0; attempt < rc.maxAttempts && !watch->gone && !watch->shutdown; ++attempt) {
    auto snapshot = d.accounts.snapshot();
    auto account = d.scheduler.pick(*snapshot, tried, accounts::now_ms());
    if (!account) break;
    tried.insert(account->id);
    if (account->type == accounts::kClaudeOauth) {
      auto fresh = co_await fresh_oauth_account(d, worker, *account, refresh_now.count(account->id) > 0);
      if (!fresh) {
        last_failure = fresh.error().message;
        continue;
      }
      account = std::move(*fresh);
    }
    // Copies: the per-thread cache may be cleared by another request while this one waits.
    ParsedEndpoint endpoint = parsed_endpoint(*account);
    auto& base = endpoint.base;
    auto& proxy = endpoint.proxy;
    if (!base || !proxy) {
      co_await report(d, worker, *account, accounts::kStatusError, 0,
                      "invalid configuration: " + (!base ? base.error().message : proxy.error().message));
      continue;
    }

    // Send; a pooled connection the upstream closed meanwhile is retried once on a fresh one.
    std::unique_ptr<upstream::Connection> conn;
    std::optional<upstream::ResponseParser> parser;
    std::string failure;
    for (int fresh = 0; fresh < 2; ++fresh) {
      auto c = co_await pool.acquire(*base, *proxy, std::chrono::milliseconds(rc.connectTimeout));
      if (!c) {
        failure = c.error().message;
        break;
      }
      conn = std::move(*c);
      watch->upstream = conn.get();
      parser.emplace();
      parser->body_limit(boost::none);
      parser->header_limit(64 * 1024);
      auto req = build_upstream_request(ex.request(), path, ex.query(), *account, *base);
      req.content_length(body.size());
      conn->expires_after(std::chrono::milliseconds(rc.firstByteTimeout));
      beast::error_code ec = co_await conn->write(req, body);
      if (!ec) ec = co_await conn->read_header(*parser);
      if (!ec) break;
      bool stale = conn->reused && is_stale_connection_error(ec);
      failure = ec == beast::error::timeout ? fmt::format("no response within {} ms", rc.firstByteTimeout)
                                            : ec.message();
      watch->upstream = nullptr;
      conn.reset();
      if (!stale || watch->gone) break;
    }
    if (watch->gone || watch->shutdown) break;
    if (!conn) {
      last_failure = failure;
      co_await report(d, worker, *account, accounts::kStatusError,
                      accounts::now_ms() + rc.errorCooldown * 1000LL, "upstream unreachable: " + failure);
      continue;
    }

    unsigned status = parser->get().result_int();
    auto idle = std::chrono::milliseconds(rc.idleTimeout);
    if (status < 200 || status > 299) {
      auto [ec, err_body] = co_await read_whole(*conn, *parser, kErrorBodyLimit, idle);
      UpstreamError e{status, parser->get().base(), std::move(err_body)};
      if (!ec && parser->is_done() && parser->keep_alive()) pool.release(std::move(conn));
      watch->upstream = nullptr;
      int64_t now = accounts::now_ms();
      std::string reason = fmt::format("upstream answered {}", status);
      bool oauth = account->type == accounts::kClaudeOauth;
      auto facts = parse_error_body(e.body);
      if (!facts.type.empty()) reason += " " + facts.type;
      switch (classify_upstream_error(status, facts, oauth, refresh_now.count(account->id) > 0)) {
        case UpstreamVerdict::ClientFault:
          // The request's own fault: no other account would do better, and this one is fine.
          co_await admission.release_now();
          co_await ex.send(to_client(e));
          co_return;
        case UpstreamVerdict::RefreshOauth:
          refresh_now.insert(account->id);
          tried.erase(account->id);
          break;
        case UpstreamVerdict::Unauthorized:
          co_await report(d, worker, *account, accounts::kStatusUnauthorized, 0, reason);
          break;
        case UpstreamVerdict::RateLimited:
          co_await report(d, worker, *account, accounts::kStatusRateLimited,
                          rate_limit_until_ms(e.headers, now, rc.rateLimitCooldown * 1000LL), reason);
          break;
        case UpstreamVerdict::Overloaded:
          co_await report(d, worker, *account, accounts::kStatusOverloaded, now + rc.overloadCooldown * 1000LL,
                          reason);
          break;
        case UpstreamVerdict::Failing:
          co_await report(d, worker, *account, accounts::kStatusError, now + rc.errorCooldown * 1000LL, reason);
          break;
      }
      last_error = std::move(e);
      continue;
    }

    // Success: from here on the answer belongs to this account.
    std::string_view content_type = parser->get()[http::field::content_type];
    bool sse = content_type.starts_with("text/event-stream");
    if (!sse) {
      auto [ec, answer] = co_await read_whole(*conn, *parser, kWholeBodyLimit, idle);
      guard.stop();
      if (ec) {
        if (watch->gone) co_return;
        co_await admission.release_now();
        if (watch->shutdown) co_await ex.send(shutting_down());
        else co_await ex.send(error(http::status::bad_gateway, "Upstream connection failed while sending its answer"));
        co_return;
      }
      usage::Usage used;
      std::string served_model = fields.model;
      if (route == Route::Messages) read_answer_usage(answer, used, served_model);
      Response res{static_cast<http::status>(status), 11};
      copy_response_headers(parser->get().base(), res);
      res.body() = std::move(answer);
      bool reusable = parser->is_done() && parser->keep_alive();
      if (reusable) pool.release(std::move(conn));
      if (route == Route::Messages) {
        auto e = usage_event(d, ex, key, *account, served_model, used, status, false, false, started);
        co_await meter(deps, ex, admission, key, std::move(e));
      }
      co_await ex.send(std::move(res));
      co_return;
    }

    http::response<http::empty_body> head{static_cast<http::status>(status), 11};
    copy_response_headers(parser->get().base(), head);
    head.set(http::field::cache_control, "no-cache");
    head.set("X-Accel-Buffering", "no");
    usage::SseUsageScanner scanner;
    watch->answering = true;
    bool client_gone = static_cast<bool>(co_await ex.start_stream(std::move(head)));
    beast::error_code upstream_ec;
    auto buf = chunk_buffer();
    while (!client_gone && !parser->is_done()) {
      conn->expires_after(idle);
      auto [ec, n] = co_await conn->read_body(*parser, buf.get(), kChunk);
      if (n > 0) {
        std::string_view chunk(buf.get(), n);
        scanner.feed(chunk);
        if (co_await ex.write_chunk(chunk)) client_gone = true;
      }
      if (ec) {
        upstream_ec = ec;
        break;
      }
    }
    client_gone = client_gone || watch->gone;
    guard.stop();
    bool partial = !scanner.completed();
    if (client_gone) conn->abort();
    if (route == Route::Messages) {
      // A cut stream (client gone, upstream lost) without its final count is charged at least
      // the output that passed through: a hang-up never makes output free.
      usage::Usage used = scanner.usage();
      bool estimated = !scanner.final_usage_seen() && scanner.estimated_output_tokens() > used.output_tokens;
      if (estimated) used.output_tokens = scanner.estimated_output_tokens();
      const std::string& served = scanner.served_model().empty() ? fields.model : scanner.served_model();
      auto e = usage_event(d, ex, key, *account, served, used, status, true, partial, started);
      e.estimated = estimated;
      co_await meter(deps, ex, admission, key, std::move(e));
    }
    if (client_gone) co_return;
    if (upstream_ec) {
      bool stalled = upstream_ec == beast::error::timeout;
      std::string text = watch->shutdown ? std::string(kShuttingDown)
                         : stalled       ? fmt::format("Upstream sent nothing for {} ms; the stream was cut", rc.idleTimeout)
                                         : "Upstream connection lost mid-stream: " + upstream_ec.message();
      spdlog::warn("request {} account {}: {}", ex.request_id(), account->name, text);
      std::string boundary = scanner.at_event_boundary() ? "" : "\n\n";
      co_await ex.write_chunk(boundary + error_event(stalled ? "timeout_error" : "api_error", text));
      co_await ex.end_stream();
    } else {
      if (parser->keep_alive()) pool.release(std::move(conn));
      co_await ex.end_stream();
    }
    co_return;
  }

  if (watch->gone) co_return;
  co_await admission.release_now();
  if (watch->shutdown) {
    co_await ex.send(shutting_down());
  } else if (last_error) {
    co_await ex.send(to_client(*last_error));
  } else if (!last_failure.empty()) {
    co_await ex.send(error(http::status::bad_gateway, "Upstream request failed: " + last_failure));
  } else {
    co_await ex.send(http_server::anthropic_error(
        http::status::service_unavailable, "overloaded_error",
        "No upstream account is available right now (all are rate-limited, overloaded, failing or disabled)"));
  }
}

// ---- models ----

// The model list; with a key, only the models its rules allow.
std::string models_body(const usage::PricingTable& pricing, const keys::ApiKey* key = nullptr) {
  json::array data;
  std::string first, last;
  for (const auto& id : pricing.model_ids()) {
    if (key && !keys::model_allowed(*key, id)) continue;
    // Anthropic's fields for the Anthropic SDKs, OpenAI's for OpenAI-style clients (as CRS).
    std::string date = id.size() > 8 ? id.substr(id.size() - 8) : "";
    std::string created_at = date.size() == 8 && std::all_of(date.begin(), date.end(), ::isdigit)
                                 ? date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2) + "T00:00:00Z"
                                 : "2025-01-01T00:00:00Z";
    std::tm tm{};
    strptime(created_at.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json::object m{{"type", "model"},      {"id", id},           {"display_name", id}, {"created_at", created_at},
                   {"object", "model"}, {"created", static_cast<int64_t>(timegm(&tm))}, {"owned_by", "anthropic"}};
    data.push_back(std::move(m));
    if (first.empty()) first = id;
    last = id;
  }
  return json::serialize(json::object{{"object", "list"},
                                      {"data", std::move(data)},
                                      {"has_more", false},
                                      {"first_id", first},
                                      {"last_id", last}});
}

Task<void> handle_models(std::shared_ptr<RelayDeps> deps, std::shared_ptr<const std::string> body, Exchange& ex) {
  keys::ApiKey key;
  if (auto refusal = co_await authenticate(*deps, ex, key)) {
    co_await ex.send(std::move(*refusal));
    co_return;
  }
  if (auto refusal = co_await check_key(*deps, ex, key, "", true)) {
    co_await ex.send(std::move(*refusal));
    co_return;
  }
  if (!key.allowed_models.empty() || !key.denied_models.empty()) {
    co_await ex.send(http_server::json_response(http::status::ok, models_body(deps->pricing, &key)));
    co_return;
  }
  co_await ex.send(http_server::json_response(http::status::ok, *body));
}

}  // namespace

void cut_requests_in_flight(RelayDeps& deps, const std::vector<asio::any_io_executor>& workers) {
  for (size_t w = 0; w < workers.size() && w < deps.in_flight.size(); ++w) {
    asio::post(workers[w], [&set = deps.in_flight[w]] {
      for (ClientWatch* watch : set) {
        watch->shutdown = true;
        if (watch->upstream) watch->upstream->abort();
      }
    });
  }
}

void register_relay_routes(http_server::Router& router, std::shared_ptr<RelayDeps> deps) {
  deps->lease_renewers.resize(deps->redis.size());
  deps->watch_sweepers.resize(deps->redis.size());
  deps->in_flight.resize(deps->redis.size());
  auto models = std::make_shared<const std::string>(models_body(deps->pricing));
  // The body is read by relay_call once the key is known: nobody without a key makes the relay
  // hold a body.
  http_server::BodyRule after_the_key{0, true};
  for (std::string prefix : {"", "/api", "/claude"}) {
    router.add(http::verb::post, prefix + "/v1/messages",
               [deps](Exchange& ex) { return relay_call(deps, ex, Route::Messages); }, after_the_key);
    router.add(http::verb::post, prefix + "/v1/messages/count_tokens",
               [deps](Exchange& ex) { return relay_call(deps, ex, Route::CountTokens); }, after_the_key);
    router.add(http::verb::get, prefix + "/v1/models",
               [deps, models](Exchange& ex) { return handle_models(deps, models, ex); });
  }
  // Claude Code's telemetry: answered so it does not retry or log errors (spec/crs-compat.md §3).
  auto ok = [](Exchange& ex) {
    return ex.send(http_server::json_response(http::status::ok, R"({"success":true})"));
  };
  router.add(http::verb::post, "/api/event_logging/batch", ok);
  router.add(http::verb::post, "/api/api/event_logging/batch", ok);
}

}  // namespace crs::relay
