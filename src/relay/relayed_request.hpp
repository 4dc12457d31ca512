#pragma once
// One relayed request as its steps (relay.cpp) share it: the key, what the body asks for, the
// admission under the key's counted limits, and the watch on the client.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "adapters/adapter.hpp"
#include "http/exchange.hpp"
#include "keys/api_key.hpp"
#include "relay/client_watch.hpp"
#include "relay/relay.hpp"
#include "relay/request_fields.hpp"
#include "usage/usage_event.hpp"

namespace crs::relay {

// A request admitted under counted limits (limits/limits.hpp): its concurrency lease is
// renewed while it lives, and released on every way out — with the charge and the usage
// event at completion, or alone when there is nothing to charge.
struct Admission {
  std::shared_ptr<RelayDeps> deps;
  size_t worker = 0;
  // The request's key, set when it has counted limits (RelayedRequest::key(), which outlives this).
  const keys::ApiKey* key = nullptr;
  std::string lease;                // empty: no concurrency limit and no budget
  LeaseRenewer* renewer = nullptr;  // renews the lease while the request lives
  // Admitted from this thread's grant of the key's limits instead (no lease in Redis).
  limits::GrantBook* book = nullptr;
  limits::GrantTicket grant;
  bool settled = false;

  Admission() = default;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission();

  // The lease the completion of a metered answer gives back ("" = none; "G:<holder>" for a
  // request admitted from a grant, which takes its charge from the share); nothing is left to
  // release after it.
  std::string settle(int64_t charged_cost, int64_t charged_tokens);
  // Frees the slot before an error answer goes out, so the client's retry finds it free.
  Task<void> release_now();
};

struct RelayedRequest {
  RelayedRequest(std::shared_ptr<RelayDeps> d, http_server::Exchange& e, adapters::Operation o,
                 std::string_view endpoint_label = "/v1/messages")
      : deps(std::move(d)), ex(e), op(o), worker(e.worker()), view(deps->live.at(worker)),
        endpoint(endpoint_label) {}

  std::shared_ptr<RelayDeps> deps;
  http_server::Exchange& ex;
  adapters::Operation op;
  size_t worker;
  std::shared_ptr<const config::Config> view;  // the configuration this request started with
  std::string_view endpoint;                   // the API the client called, for usage events
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  keys::KeyCache::Record held_key;  // set by authenticate (key() before it is undefined)
  RequestFields fields;
  Admission admission;
  std::shared_ptr<ClientWatch> watch;
  // What the adapters see of the request; made once the fields are read, and outlives every
  // adapter call and answer reader of this request.
  std::optional<adapters::ClientCall> call;

  RelayDeps& d() const { return *deps; }
  const keys::ApiKey& key() const { return *held_key; }
  const config::Config& cfg() const { return *view; }
  const config::RelayConfig& rc() const { return view->relay; }
  std::string& body() { return ex.request().body(); }
  const adapters::ClientCall& client_call() {
    if (!call) call.emplace(adapters::ClientCall{ex.request(), ex.query(), op, fields.model, fields.stream, body()});
    return *call;
  }
  bool gone_or_cut() const { return watch && (watch->gone || watch->shutdown); }
};

}  // namespace crs::relay
