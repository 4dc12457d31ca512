#include "relay/relay.hpp"

#include "core/crypto.hpp"
#include "http/responses.hpp"
#include "keys/api_key.hpp"
#include "relay/answers.hpp"
#include "relay/key_rules.hpp"
#include "relay/admission.hpp"
#include "relay/account_choice.hpp"
#include "relay/forward.hpp"
#include "relay/front.hpp"

namespace crs::relay {
using adapters::Operation;
using http_server::Exchange;
using namespace asio::experimental::awaitable_operators;

namespace {

// Without Redis nothing can be counted: a Messages request is refused unless
// relay.admitWhenRedisDown (then the usage goes to the spool and is written once Redis is back).
std::optional<Response> refused_without_redis(RelayedRequest& r) {
  if (r.op == Operation::Messages && !r.rc().admitWhenRedisDown && !r.d().redis.at(r.worker)->connected())
    return error(http::status::service_unavailable, "Usage cannot be recorded right now, retry shortly");
  return std::nullopt;
}

// The fields the relay needs from the body (read only once the key is known: nobody without a
// key makes the relay hold a body).
std::optional<Response> read_fields(RelayedRequest& r) {
  r.fields = read_request_fields(r.body(), true);
  if (!r.fields.error.empty()) return error(http::status::bad_request, r.fields.error);
  return std::nullopt;
}

// The key's admission and, for a key with counted limits, the first account choice planned
// before it and, when Redis must take the account, taken beside it: both scripts leave in one
// write, one round trip. A refused request gives back the slot it was chosen (its AccountSlot,
// off the request path).
Task<std::optional<Response>> admit_and_choose(RelayedRequest& r, AttemptState& attempts) {
  if (!limits::Limits::counted(r.key())) co_return co_await admit(r);
  attempts.plan = plan_choice(r, attempts.attempts);
  if (!attempts.plan->in_redis) co_return co_await admit(r);  // taken without Redis in forward
  auto both = admit(r) && choose_ahead(r, attempts);
  co_return co_await std::move(both);
}

// A front door's request becomes a Messages body before anything reads it.
std::optional<Response> translate(RelayedRequest& r, const Front& front) {
  if (!front.to_messages) return std::nullopt;
  return front.to_messages(r.body());
}

// Every step before the upstream; false when the request was refused (and told). A frame of
// its own: it is gone before the answer streams, while relay_call's lasts as long as the stream.
Task<bool> admitted(RelayedRequest& r, AttemptState& attempts, const Front& front) {
  Exchange& ex = r.ex;
  auto refusal = co_await authenticate(r.d(), ex, r.held_key);
  if (!refusal) refusal = refused_without_redis(r);
  if (!refusal) refusal = co_await ex.read_body();
  if (!refusal) refusal = translate(r, front);
  if (!refusal) refusal = read_fields(r);
  // count_tokens too is held to the key's client allow-list: it reaches an upstream account
  // (Claude Code's own calls carry its user agent and pass).
  if (!refusal) refusal = co_await check_key(r.d(), ex, r.held_key, front.family, r.fields.model, false);
  // count_tokens uses no window, budget or slot: Claude Code fires dozens at once.
  if (!refusal && r.op == Operation::Messages) refusal = co_await admit_and_choose(r, attempts);
  if (!refusal) co_return true;
  attempts.first_pick.slot.reset();  // a refused request holds no account slot while it is told
  co_await ex.send(std::move(*refusal));
  co_return false;
}

}  // namespace

// One relayed request, step by step: authenticate -> read the body (and translate it) -> read
// its fields -> check the key's rules -> admit under its counted limits -> pick an account and
// forward through its adapter (failover) -> stream back -> meter and release (forward.cpp).
Task<void> relay_call(std::shared_ptr<RelayDeps> deps, Exchange& ex, Operation op, const Front& front) {
  RelayedRequest r(std::move(deps), ex, op, front.endpoint);
  AttemptState attempts;
  if (co_await admitted(r, attempts, front)) co_await forward_with_failover(r, attempts);
}

void cut_requests_in_flight(RelayDeps& deps, const std::vector<asio::any_io_executor>& workers) {
  for (size_t w = 0; w < workers.size() && w < deps.in_flight.size(); ++w) {
    asio::post(workers[w], [&set = deps.in_flight[w]] {
      for (ClientWatch* watch : set) {
        watch->shutdown = true;
        if (watch->upstream) watch->upstream->abort();
        if (watch->waiting) watch->waiting->cancel();
      }
    });
  }
}

void close_grants(RelayDeps& deps, const std::vector<asio::any_io_executor>& workers) {
  deps.grants_closed = true;
  for (size_t w = 0; w < workers.size() && w < deps.grant_books.size(); ++w) {
    ++*deps.grants_giving_back;  // until the thread has started its give-backs
    asio::post(workers[w], [&book = deps.grant_books[w], pending = deps.grants_giving_back] {
      if (book) book->close();
      --*pending;
    });
  }
}

void register_relay_routes(http_server::Router& router, std::shared_ptr<RelayDeps> deps) {
  deps->lease_renewers.resize(deps->redis.size());
  deps->grant_books.resize(deps->redis.size());
  deps->grant_holder = crypto::random_hex(8);
  deps->watch_sweepers.resize(deps->redis.size());
  deps->in_flight.resize(deps->redis.size());
  // The body is read by relay_call once the key is known: nobody without a key makes the relay
  // hold a body.
  http_server::BodyRule after_the_key{0, true};
  for (std::string prefix : {"", "/api", "/claude"}) {
    router.add(http::verb::post, prefix + "/v1/messages",
               [deps](Exchange& ex) { return relay_call(deps, ex, Operation::Messages, kMessagesFront); }, after_the_key);
    router.add(http::verb::post, prefix + "/v1/messages/count_tokens",
               [deps](Exchange& ex) { return relay_call(deps, ex, Operation::CountTokens, kMessagesFront); }, after_the_key);
    register_model_routes(router, deps, prefix, ModelShape::Anthropic);
  }
  register_openai_routes(router, deps);
  // Claude Code's telemetry: answered so it does not retry or log errors (spec/crs-compat.md §3).
  auto ok = [](Exchange& ex) {
    return ex.send(http_server::json_response(http::status::ok, R"({"success":true})"));
  };
  router.add(http::verb::post, "/api/event_logging/batch", ok);
  router.add(http::verb::post, "/api/api/event_logging/batch", ok);
}

}  // namespace crs::relay
