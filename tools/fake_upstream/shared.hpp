#pragma once
// What the fake upstream's route files share: the state every handler reads and records into
// (scripts, request log, counts), and the Anthropic answer each API wraps in its own framing
// (SSE for the Messages routes, the AWS event-stream for the Bedrock ones).
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "behavior.hpp"
#include "fake_upstream.hpp"
#include "http/exchange.hpp"

namespace crs::fake {
namespace json = boost::json;

struct Scripted {
  std::string credential;  // "*" matches every request
  std::string body_contains;  // if set, only requests whose body contains it
  json::value behavior;
  int64_t times = -1;      // -1: until cleared
  bool models = false;     // applies to GET /v1/models only (else to the Messages routes only)
};

struct Record {
  int64_t seq = 0;
  json::object data;       // method, target, headers, body, ...
};

struct Usage {
  int64_t input = 0, output = 0, cache_create = 0, cache_read = 0, cache_create_1h = 0, web_search = 0;
};

// Usage as the Messages API writes it; `full`: with the cache TTL breakdown.
json::object usage_json(const Usage& u, bool full);

struct FakeUpstream::State {
  explicit State(FakeOptions o) : options(o) {}
  FakeOptions options;
  std::mutex mutex;
  std::deque<Record> records;
  std::vector<Scripted> scripts;
  int64_t next_seq = 1;
  std::set<std::string> used_refresh_tokens;  // a refresh token works once, as the real one
  int64_t next_token = 1;
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> max_in_flight{0};
  std::atomic<int64_t> total{0};
  // What the answers carried, summed even without recording (the soak compares the relay's
  // metering with it): tokens as a client that read all that was sent would meter them.
  std::atomic<int64_t> emitted_input{0}, emitted_output{0}, emitted_cache_create{0}, emitted_cache_read{0};
  std::atomic<int64_t> emitted_answers{0};
  // The server, to report the connections it accepted since the last reset (set once it exists).
  std::atomic<const http_server::Server*> server{nullptr};
  std::atomic<uint64_t> accepted_at_reset{0};
  struct Counts {
    int64_t in_flight = 0, max_in_flight = 0, total = 0;
    int64_t models = 0;  // GET /v1/models calls
  };
  std::map<std::string, Counts> by_credential;  // under mutex
  std::map<std::string, std::string> aws_secrets;  // SigV4: access key id -> secret (under mutex)

  // The behaviour for a request: header first, then the first matching script.
  std::string choose(const http_server::Request& req, const std::string& credential, Behavior& out,
                     bool models = false) {
    std::string_view header = req["x-fake-behavior"];
    if (!header.empty()) {
      boost::system::error_code ec;
      auto v = json::parse(header, ec);
      if (ec) return "x-fake-behavior is not valid JSON";
      return parse_behavior(v, out);
    }
    json::value chosen;
    {
      std::lock_guard lock(mutex);
      for (auto it = scripts.begin(); it != scripts.end(); ++it) {
        if (it->credential != "*" && it->credential != credential) continue;
        if (it->models != models) continue;
        if (!it->body_contains.empty() && req.body().find(it->body_contains) == std::string::npos) continue;
        chosen = it->behavior;
        if (it->times > 0 && --it->times == 0) scripts.erase(it);
        break;
      }
    }
    if (chosen.is_null()) return {};
    return parse_behavior(chosen, out);
  }

  int64_t begin_record(json::object data) {
    std::lock_guard lock(mutex);
    int64_t seq = next_seq++;
    data["seq"] = seq;
    if (options.record) {
      records.push_back(Record{seq, std::move(data)});
      if (records.size() > options.max_records) records.pop_front();
    }
    return seq;
  }

  void finish_record(int64_t seq, std::string_view outcome, int status, const Usage* usage, int events) {
    if (usage && usage->input + usage->output + usage->cache_create + usage->cache_read > 0) {
      emitted_input += usage->input;
      emitted_output += usage->output;
      emitted_cache_create += usage->cache_create;
      emitted_cache_read += usage->cache_read;
      ++emitted_answers;
    }
    if (!options.record) return;
    std::lock_guard lock(mutex);
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      if (it->seq != seq) continue;
      it->data["outcome"] = outcome;
      it->data["status"] = status;
      it->data["eventsSent"] = events;
      if (usage) it->data["usage"] = usage_json(*usage, false);
      break;
    }
  }

  // A request in flight, from its arrival until `end()`: /v1/messages calls it just before the
  // answer's last write, so a relay that frees its slot on reading the answer's end never finds
  // the request still counted (the destructor ends it too, as for the other routes).
  struct InFlight {
    State& s;
    bool ended = false;
    explicit InFlight(State& st) : s(st) {
      int64_t now = ++s.in_flight;
      ++s.total;
      int64_t seen = s.max_in_flight.load();
      while (now > seen && !s.max_in_flight.compare_exchange_weak(seen, now)) {
      }
    }
    InFlight(const InFlight&) = delete;
    ~InFlight() { end(); }
    void end() {
      if (!std::exchange(ended, true)) --s.in_flight;
    }
  };

  // Requests in flight per credential (an account of the relay), ended as InFlight.
  struct CredentialInFlight {
    State& s;
    std::string credential;
    bool ended = false;
    CredentialInFlight(State& st, std::string c) : s(st), credential(std::move(c)) {
      std::lock_guard lock(s.mutex);
      auto& counts = s.by_credential[credential];
      counts.max_in_flight = std::max(counts.max_in_flight, ++counts.in_flight);
      ++counts.total;
    }
    CredentialInFlight(const CredentialInFlight&) = delete;
    ~CredentialInFlight() { end(); }
    void end() {
      if (std::exchange(ended, true)) return;
      std::lock_guard lock(s.mutex);
      --s.by_credential[credential].in_flight;
    }
  };
};

// The account's credential of a request: x-api-key, a bearer token, or a SigV4 access key id.
std::string credential_of(const http_server::Request& req);
// The log entry of a request (method, target, headers, body, credential).
json::object request_record(const http_server::Exchange& ex, const std::string& credential, bool stream);
// The usage an answer reports: the behaviour's, else body bytes / 4 in and 3 per delta out.
Usage usage_of(const Behavior& b, size_t body_bytes);
// Every event of a streamed answer as SSE text ("event: ...\ndata: ...\n\n"), in order.
std::vector<std::string> stream_events(const std::string& id, const std::string& model, const Behavior& b,
                                       const Usage& u);
// A whole answer's message JSON.
std::string message_json(const std::string& id, const std::string& model, const Behavior& b, const Usage& u);

Task<void> sleep_ms(int ms);
// Waits `ms`, or less if the client hangs up meanwhile; true if it did.
Task<bool> wait_unless_client_leaves(http_server::Exchange& ex, int ms);
void reset_connection(http_server::Exchange& ex);

// What every route's handler does first, after recording the request as `seq`: the behaviour
// chosen for it (a bad script becomes a 400), its latency waited, a reset instead of an answer.
// nullopt: the request is over (the client left, or the connection was reset) and recorded.
Task<std::optional<Behavior>> chosen_behavior(std::shared_ptr<FakeUpstream::State> state, http_server::Exchange& ex,
                                              const std::string& credential, int64_t seq);

// POST /model/{id}/invoke and /model/{id}/invoke-with-response-stream (bedrock_routes.cpp).
void register_bedrock_routes(http_server::Router& router, std::shared_ptr<FakeUpstream::State> state);
// POST /v1/chat/completions, an OpenAI-compatible provider (openai_routes.cpp).
void register_openai_routes(http_server::Router& router, std::shared_ptr<FakeUpstream::State> state);

}  // namespace crs::fake
