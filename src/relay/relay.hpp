#pragma once
// The Messages API relay: one request's life is admit (key) -> schedule (account) ->
// forward (with failover before the first byte) -> stream back -> meter.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "accounts/account_registry.hpp"
#include "config/config.hpp"
#include "config/live_config.hpp"
#include "http/router.hpp"
#include "health/health_book.hpp"
#include "keys/key_cache.hpp"
#include "limits/limits.hpp"
#include "limits/grant_book.hpp"
#include "limits/metering.hpp"
#include "relay/client_watch.hpp"
#include "relay/lease_renewer.hpp"
#include "relay/model_catalog.hpp"
#include "scheduler/load_book.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/slot_waiters.hpp"
#include "scheduler/sticky_cache.hpp"
#include "store/redis_client.hpp"
#include "upstream/connection_pool.hpp"
#include "usage/event_writer.hpp"
#include "usage/pricing.hpp"
#include "usage/spool.hpp"

namespace crs::relay {

struct RelayDeps {
  // The keys only a restart changes (security, ...) are read from `startup`, whose values never
  // change; the live keys from a request's view of `live` (RelayedRequest::cfg()), which SIGHUP
  // replaces.
  const config::Config& startup;
  const config::LiveConfig& live;
  keys::KeyCache& key_cache;
  accounts::AccountRegistry& accounts;
  scheduler::Scheduler& scheduler;
  const usage::Pricing& pricing;
  std::vector<store::RedisClient*> redis;        // one per I/O thread, by worker index
  std::vector<upstream::ConnectionPool*> pools;  // one per I/O thread, by worker index
  asio::ssl::context& tls;                       // for calls outside the pools (OAuth token endpoint)
  std::vector<usage::UsageEventWriter*> usage_writers;  // one per I/O thread, by worker index
  limits::Limits limits;                                 // the counted limits' scripts
  std::atomic<bool> stopping{false};                     // set at shutdown: writers may be gone
  std::atomic<bool> store_ready{false};                  // set once limit counters are seeded (serve.cpp)
  usage::UsageSpool* spool = nullptr;                    // what Redis could not take, sent again later
  std::vector<limits::Metering*> metering;               // completions in batches, by worker index
  // What is known of each account's load (the strategies read it), and the requests waiting
  // for an account slot.
  scheduler::LoadBook load_book;
  scheduler::SlotWaiters slot_waiters{static_cast<size_t>(live.at(0)->loadBalancing.maxWaiting)};
  scheduler::StickyCache sticky_cache;  // sessions confirmed in Redis a moment ago
  health::HealthBook health_book;       // circuits, health classes, attempts not yet written
  ModelCatalog model_catalog;  // what the accounts serve, for GET /v1/models
  // One per I/O thread, by worker index, each made by its own thread on first use.
  std::vector<std::unique_ptr<LeaseRenewer>> lease_renewers;
  std::vector<std::unique_ptr<limits::GrantBook>> grant_books;  // likewise
  std::string grant_holder;  // this run's name as a holder of grants (+ "." + worker index)
  // Shutdown: the books close (a book made later is closed at once); it waits for the count of
  // give-backs (and of closings posted to the threads) to reach zero.
  std::atomic<bool> grants_closed{false};
  std::shared_ptr<std::atomic<int>> grants_giving_back = std::make_shared<std::atomic<int>>(0);

  std::vector<std::shared_ptr<WatchSweeper>> watch_sweepers;  // likewise
  // The requests in flight on each I/O thread (each set touched by its own thread only), for
  // cut_requests_in_flight.
  std::vector<std::unordered_set<ClientWatch*>> in_flight;
  std::atomic<size_t> in_flight_count{0};  // all threads' together

  const std::shared_ptr<WatchSweeper>& watch_sweeper(size_t worker, asio::any_io_executor executor) {
    auto& s = watch_sweepers.at(worker);
    if (!s) s = std::make_shared<WatchSweeper>(executor);
    return s;
  }
  LeaseRenewer& lease_renewer(size_t worker, asio::any_io_executor executor) {
    auto& r = lease_renewers.at(worker);
    if (!r) r = std::make_unique<LeaseRenewer>(executor, *redis.at(worker), limits);
    return *r;
  }
  limits::GrantBook& grant_book(size_t worker, asio::any_io_executor executor) {
    auto& b = grant_books.at(worker);
    if (!b) {
      b = std::make_unique<limits::GrantBook>(executor, *redis.at(worker), limits,
                                              grant_holder + "." + std::to_string(worker), grants_giving_back);
      if (grants_closed) b->close();
    }
    return *b;
  }
};

// At the end of the shutdown grace period: every relayed request still in flight has its
// upstream cut; a stream ends with an error event, an answer not begun gets a 503, and each is
// metered (partial usage) and releases its slot as on any other way out. Thread-safe.
void cut_requests_in_flight(RelayDeps& deps, const std::vector<asio::any_io_executor>& workers);
// At shutdown: every thread gives its grants of keys' limits back as their requests end.
void close_grants(RelayDeps& deps, const std::vector<asio::any_io_executor>& workers);

// POST {,/api,/claude}/v1/messages, .../v1/messages/count_tokens, GET .../v1/models, and the
// telemetry sink Claude Code posts to.
void register_relay_routes(http_server::Router& router, std::shared_ptr<RelayDeps> deps);

}  // namespace crs::relay
