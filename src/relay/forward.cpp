#include "relay/forward.hpp"

#include <functional>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "accounts/account_store.hpp"
#include "adapters/request_needs.hpp"
#include "core/time.hpp"
#include "http/responses.hpp"
#include "metrics/metrics.hpp"
#include "relay/account_choice.hpp"
#include "relay/account_health.hpp"
#include "relay/attempt_log.hpp"
#include "relay/admission.hpp"
#include "relay/answers.hpp"
#include "relay/whole_events.hpp"
#include "scheduler/selection.hpp"

namespace crs::relay {
using namespace asio::experimental::awaitable_operators;
namespace {

constexpr size_t kErrorBodyLimit = 1 << 20;
constexpr size_t kWholeBodyLimit = 64 << 20;
constexpr size_t kChunk = 16384;
// An unfinished event is held back up to this size (relay/whole_events.hpp).
constexpr size_t kLongestHeldEvent = 256 * 1024;

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

// Streams read into one buffer per thread, free while they wait (relay_chunks).
thread_local std::unique_ptr<char[]> stream_chunks(new char[kChunk]);
constexpr size_t kKeptChunk = 4096;

ChunkBuffer chunk_buffer() {
  if (spare_chunks.kept.empty()) return ChunkBuffer(new char[kChunk]);
  char* p = spare_chunks.kept.back();
  spare_chunks.kept.pop_back();
  return ChunkBuffer(p);
}

// Keeps a request in its thread's set of requests in flight (for cut_requests_in_flight)
// while it lives.
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

// The upstream side of one attempt. The watch never outlives the connection it may abort.
struct UpstreamCall {
  explicit UpstreamCall(ClientWatch& w) : watch(w) {}
  ~UpstreamCall() {
    if (conn && watch.upstream == conn.get()) watch.upstream = nullptr;
  }
  UpstreamCall(const UpstreamCall&) = delete;
  UpstreamCall& operator=(const UpstreamCall&) = delete;

  ClientWatch& watch;
  std::unique_ptr<upstream::Connection> conn;
  double ttfb_ms = -1;  // from sending the request to the answer's head
  std::optional<upstream::ResponseParser> parser;
  unsigned status() const { return parser->get().result_int(); }
};

adapters::AdapterContext adapter_context(RelayedRequest& r) {
  return adapters::AdapterContext{r.cfg(), *r.d().redis.at(r.worker), r.d().accounts, r.d().tls};
}

// A stream being relayed, for /metrics.
struct OpenStream {
  OpenStream() { metrics::stream_opened(); }
  ~OpenStream() { metrics::stream_closed(); }
  OpenStream(const OpenStream&) = delete;
  OpenStream& operator=(const OpenStream&) = delete;
};

bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == http::error::partial_message;
}

// How long each read of an answer may wait: the idle timeout, or less when the request's own
// deadline (relay.requestTimeout, counted from its arrival) comes first.
struct ReadWait {
  std::chrono::milliseconds idle;
  std::chrono::steady_clock::time_point deadline;

  explicit ReadWait(const RelayedRequest& r)
      : idle(r.rc().idleTimeout), deadline(r.started + std::chrono::milliseconds(r.rc().requestTimeout)) {}
  std::chrono::milliseconds next(std::chrono::milliseconds wait) const {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return std::max(std::min(wait, left), std::chrono::milliseconds(1));
  }
  std::chrono::milliseconds next() const { return next(idle); }
  bool past() const { return std::chrono::steady_clock::now() >= deadline; }
};

// The request outlived relay.requestTimeout: the cut is the relay's, not the account's.
bool past_deadline(const RelayedRequest& r, beast::error_code ec) {
  return ec == beast::error::timeout && ReadWait(r).past();
}

std::string deadline_text(const RelayedRequest& r) {
  return fmt::format("The request took longer than relay.requestTimeout ({} ms) and was cut", r.rc().requestTimeout);
}

Task<std::pair<beast::error_code, std::string>> read_whole(UpstreamCall& call, size_t limit, ReadWait wait) {
  std::string body;
  // One allocation when the upstream gives the size, with room for the padding the JSON reader
  // of the answer's usage wants after it (64 bytes, adapters::read_answer_usage).
  if (auto length = call.parser->content_length(); length && *length <= limit) body.reserve(*length + 64);
  auto buf = chunk_buffer();
  while (!call.parser->is_done()) {
    // An upstream that always has bytes ready never lets a read time out: the deadline is
    // checked here too.
    if (wait.past()) co_return std::pair{beast::error_code(beast::error::timeout), std::move(body)};
    call.conn->expires_after(wait.next());
    auto [ec, n] = co_await call.conn->read_body(*call.parser, buf.get(), kChunk);
    body.append(buf.get(), n);
    if (ec) co_return std::pair{ec, std::move(body)};
    if (body.size() > limit) co_return std::pair{beast::error_code(http::error::body_limit), std::move(body)};
  }
  co_return std::pair{beast::error_code{}, std::move(body)};
}

// Gives back a connection whose answer was read whole, if the upstream keeps it open.
// The watch forgets it first: a pooled connection may be closed or given to another request
// while this one still meters or writes to its client.
void release_if_reusable(RelayedRequest& r, UpstreamCall& call) {
  if (!call.conn || !call.parser->is_done() || !call.parser->keep_alive()) return;
  r.watch->upstream = nullptr;
  r.d().pools.at(r.worker)->release(std::move(call.conn));
}

// ---- accounts ----

// The account made ready by its adapter (a fresh OAuth token). Called only when the adapter
// says it must be: most calls need nothing, and pay for no coroutine here.
Task<bool> prepare_account(RelayedRequest& r, Picked& p, Attempts& a, bool refresh) {
  auto context = adapter_context(r);
  auto ready = co_await p.adapter->prepare(context, p.account(), refresh);
  if (!ready) {
    a.last_failure = ready.error().message;
    co_return false;
  }
  p.held = std::make_shared<const accounts::Account>(std::move(*ready));
  co_return true;
}

// Where the account is reached; "" or why its configuration is unusable.
std::string resolve_endpoint(Picked& p) {
  p.endpoint = p.adapter->endpoint(p.account());
  if (!p.endpoint->base) return p.endpoint->base.error().message;
  if (!p.endpoint->proxy) return p.endpoint->proxy.error().message;
  return {};
}

// ---- the upstream call ----

// Sends the request and reads the answer's head; a pooled connection the upstream closed
// meanwhile is retried once on a fresh one. False when no answer came (the account is marked).
Task<bool> send(RelayedRequest& r, const Picked& p, UpstreamCall& call, Attempts& a) {
  const auto& rc = r.rc();
  auto& pool = *r.d().pools.at(r.worker);
  // An account that serves the model under another name gets the body with that name spliced in.
  const adapters::ClientCall& client = r.client_call();
  std::optional<std::string> mapped;
  std::optional<adapters::ClientCall> mapped_call;
  auto upstream_model = p.account().scheduling.upstream_model(r.fields.model);
  if (upstream_model && r.fields.model_size > 0) {
    mapped = r.body();
    mapped->replace(r.fields.model_at, r.fields.model_size, "\"" + *upstream_model + "\"");
    mapped_call.emplace(
        adapters::ClientCall{client.request, client.query, client.op, *upstream_model, client.stream, *mapped});
  }
  auto out = p.adapter->build_request(mapped_call ? *mapped_call : client, p.account(), p.base());
  const std::string& body = out.body ? *out.body : (mapped ? *mapped : r.body());
  out.head.content_length(body.size());
  std::string failure;
  bool timed_out = false;
  for (int fresh = 0; fresh < 2; ++fresh) {
    auto c = co_await pool.acquire(p.base(), p.proxy(), p.endpoint->pool_key, std::chrono::milliseconds(rc.connectTimeout));
    if (!c) {
      failure = c.error().message;
      timed_out = failure.starts_with("connect timed out");  // upstream/connection.cpp's words
      break;
    }
    call.conn = std::move(*c);
    r.watch->upstream = call.conn.get();
    call.parser.emplace();
    call.parser->body_limit(boost::none);
    call.parser->header_limit(64 * 1024);
    call.conn->expires_after(ReadWait(r).next(std::chrono::milliseconds(rc.firstByteTimeout)));
    auto sent_at = std::chrono::steady_clock::now();
    beast::error_code ec = co_await call.conn->write(out.head, body);
    if (!ec) ec = co_await call.conn->read_header(*call.parser);
    if (!ec) {
      call.ttfb_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent_at).count();
      metrics::upstream_ttfb(call.ttfb_ms / 1000.0);
      co_return true;
    }
    bool stale = call.conn->reused && is_stale_connection_error(ec);
    timed_out = ec == beast::error::timeout;
    failure = timed_out ? fmt::format("no response within {} ms", rc.firstByteTimeout) : ec.message();
    r.watch->upstream = nullptr;
    call.conn.reset();
    if (!stale || r.watch->gone) break;
  }
  if (r.gone_or_cut()) co_return false;
  a.last_failure = failure;
  if (timed_out && ReadWait(r).past()) co_return false;  // the request's deadline, not the account's fault
  r.d().load_book.answered(p.account().id, -1, false);
  auto verdict = adapters::transport_failure(timed_out, "upstream unreachable: " + failure);
  log_failed_attempt(r, p, 0, verdict, -1);
  co_await account_failed(r, p, verdict, 0, -1);
  co_return false;
}

// A non-2xx answer. The request's own fault goes to the client as is (true: answered); an
// account's fault marks the account, and the next one is tried (false).
Task<bool> settle_error(RelayedRequest& r, const Picked& p, UpstreamCall& call, Attempts& a) {
  auto [ec, body] = co_await read_whole(call, kErrorBodyLimit, ReadWait(r));
  if (past_deadline(r, ec)) {  // the request's deadline, in the middle of an error's body
    r.watch->upstream = nullptr;
    co_await r.admission.release_now();
    co_await r.ex.send(error(http::status::gateway_timeout, deadline_text(r)));
    co_return true;
  }
  adapters::UpstreamError e{call.status(), call.parser->get().base(), std::move(body)};
  if (!ec) release_if_reusable(r, call);
  r.watch->upstream = nullptr;
  auto verdict = p.adapter->classify(e, accounts::now_ms());
  const std::string& id = p.account().id;
  r.d().load_book.answered(id, call.ttfb_ms, verdict.what == adapters::ErrorClass::ClientError);
  if (verdict.what == adapters::ErrorClass::ClientError) {
    // No other account would do better, and this one is fine.
    attempt_ended(r, p, health::Outcome::Client, e.status, call.ttfb_ms);
    log_client_error_attempt(r, p, e.status, call.ttfb_ms);
    account_answered(r, p);
    co_await r.admission.release_now();
    co_await r.ex.send(to_client(*p.adapter, e));
    co_return true;
  }
  if (verdict.what == adapters::ErrorClass::Unauthorized && p.adapter->refreshes_credentials() &&
      !a.refresh_now.count(id)) {
    a.refresh_now.insert(id);  // refreshed, then tried once more
    a.tried.erase(id);
    attempt_ended(r, p, health::Outcome::Auth, e.status, call.ttfb_ms, verdict.reason);
  } else {
    co_await account_failed(r, p, verdict, e.status, call.ttfb_ms);
  }
  log_failed_attempt(r, p, e.status, verdict, call.ttfb_ms);
  a.last_error = std::move(e);
  a.last_error_adapter = p.adapter;
  co_return false;
}

// ---- answers ----

// A number in [0, 10] from a header, or -1.
double fraction_header(const http::response_header<>& h, std::string_view name) {
  auto it = h.find(name);
  if (it == h.end()) return -1;
  std::string text(it->value());
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  return end && *end == 0 && v >= 0 && v <= 10 ? v : -1;
}

// Until when a reported utilisation holds: its window's reset (Unix seconds, capped at 7 days),
// else an hour.
int64_t reset_ms(const http::response_header<>& h, std::string_view name, int64_t now) {
  constexpr int64_t kHour = 3600 * 1000, kWeek = 7 * 24 * kHour;
  auto it = h.find(name);
  if (it == h.end()) return now + kHour;
  int64_t at = std::atoll(std::string(it->value()).c_str()) * 1000;
  return at > now ? std::min(at, now + kWeek) : now + kHour;
}

// What the answer tells of the account: its time to first byte, and the upstream's own view of
// its subscription windows (written for every instance by LoadBalancingSync).
void note_answer(RelayedRequest& r, const Picked& p, UpstreamCall& call) {
  account_answered(r, p);
  auto& book = r.d().load_book;
  book.answered(p.account().id, call.ttfb_ms, true);
  const auto& head = call.parser->get().base();
  scheduler::Utilization u;
  u.five_hour = fraction_header(head, "anthropic-ratelimit-unified-5h-utilization");
  u.seven_day = fraction_header(head, "anthropic-ratelimit-unified-7d-utilization");
  if (u.five_hour < 0 && u.seven_day < 0) return;
  int64_t now = accounts::now_ms();
  u.five_hour_until_ms = reset_ms(head, "anthropic-ratelimit-unified-5h-reset", now);
  u.seven_day_until_ms = reset_ms(head, "anthropic-ratelimit-unified-7d-reset", now);
  book.utilization(p.account().id, u);
}

const std::string& served_model(const RelayedRequest& r, const adapters::AnswerFacts& f) {
  return f.served_model.empty() ? r.fields.model : f.served_model;
}

// The upstream stopped in the middle of its answer: the account's failure.
adapters::ErrorVerdict cut_verdict(const RelayedRequest& r, beast::error_code ec) {
  bool stalled = ec == beast::error::timeout;
  std::string why = stalled ? fmt::format("upstream sent nothing for {} ms mid-answer", r.rc().idleTimeout)
                            : "upstream connection lost mid-answer: " + ec.message();
  return adapters::transport_failure(stalled, std::move(why));
}

// The usage and the account's lease both reach Redis before the client sees the end of the
// answer, so a sequential client's next request finds the slot free (a capped account with one
// slot answered 529 when the release still waited in the usage writer). With counted limits
// the completion script and the release leave in one write.
Task<void> meter_and_release(RelayedRequest& r, const Picked& p, usage::UsageEvent e) {
  if (!p.slot || !p.slot->holds_lease()) {  // the common case: no second coroutine at all
    co_await meter(r, std::move(e));
    co_return;
  }
  auto both = meter(r, std::move(e)) && p.slot->release_now();
  co_await std::move(both);
}

// An answer without its final count (a cut stream, a provider that reports no usage) is
// charged at least the output that passed through: a hang-up never makes output free.
usage::UsageEvent answer_usage_event(RelayedRequest& r, const Picked& p, const adapters::AnswerFacts& f,
                                     unsigned status, bool stream) {
  usage::Usage used = f.usage;
  bool estimated = !f.final_usage_seen && f.estimated_output_tokens > used.output_tokens;
  if (estimated) used.output_tokens = f.estimated_output_tokens;
  auto e = usage_event(r, p.account(), served_model(r, f), used, status, stream, !f.completed);
  e.estimated = estimated;
  return e;
}

Task<void> answer_whole(RelayedRequest& r, Picked& p, UpstreamCall& call, WatchGuard& guard) {
  auto [ec, answer] = co_await read_whole(call, kWholeBodyLimit, ReadWait(r));
  guard.stop();
  if (ec) {
    if (r.watch->gone) co_return;
    // A cut at shutdown or at the request's deadline is this instance's doing, not the account's.
    bool deadline = past_deadline(r, ec);
    if (!r.watch->shutdown && !deadline) {
      auto verdict = cut_verdict(r, ec);
      co_await account_failed(r, p, verdict, call.status(), call.ttfb_ms);
    }
    co_await r.admission.release_now();
    if (r.watch->shutdown) co_await r.ex.send(shutting_down());
    else if (deadline) co_await r.ex.send(error(http::status::gateway_timeout, deadline_text(r)));
    else co_await r.ex.send(error(http::status::bad_gateway, "Upstream connection failed while sending its answer"));
    co_return;
  }
  unsigned status = call.status();
  auto reader = p.adapter->answer_reader(r.client_call());
  reader->upstream_head(call.parser->get().base());
  reader->whole_answer(answer);
  http_server::Response res{static_cast<http::status>(status), 11};
  p.adapter->copy_answer_headers(call.parser->get().base(), res);
  res.body() = std::move(answer);
  release_if_reusable(r, call);
  attempt_ended(r, p, health::Outcome::Ok, status, call.ttfb_ms);
  if (r.op == adapters::Operation::Messages) {
    auto e = answer_usage_event(r, p, reader->facts(), status, false);
    log_served_attempt(r, p, e, call.ttfb_ms);
    co_await meter_and_release(r, p, std::move(e));
  }
  p.slot.reset();  // the account's work is done: a slow reader of the answer holds no slot
  co_await r.ex.send(std::move(res));
}


// How a stream's relaying ended: the upstream's read error, if any, and whether that error was
// the request's deadline (judged when the read ended: judged later, after metering, an idle
// timeout just before the deadline would pass for it and spare the account).
struct StreamEnd {
  beast::error_code ec;
  bool deadline = false;
};

// The upstream stopped mid-stream: the client gets an error event and a proper end.
// Why a stream was cut, for its client (a plain function: GCC 12 miscompiles ?: temporaries in
// coroutines).
std::string cut_text(const RelayedRequest& r, const StreamEnd& end) {
  if (r.watch->shutdown) return std::string(kShuttingDown);
  if (end.deadline) return deadline_text(r);
  if (end.ec == beast::error::timeout)
    return fmt::format("Upstream sent nothing for {} ms; the stream was cut", r.rc().idleTimeout);
  return "Upstream connection lost mid-stream: " + end.ec.message();
}

Task<void> end_cut_stream(RelayedRequest& r, const Picked& p, bool at_event_boundary, const StreamEnd& end) {
  bool stalled = end.ec == beast::error::timeout;
  std::string text = cut_text(r, end);
  spdlog::warn("request {} account {}: {}", r.ex.request_id(), p.account().name, text);
  std::string event = (at_event_boundary ? "" : "\n\n") + error_event(stalled ? "timeout_error" : "api_error", text);
  co_await r.ex.write_chunk(event);
  co_await r.ex.end_stream();
}

// Relays the stream's chunks as they arrive, until it ends, the client leaves, or the reader
// finds it broken.
Task<StreamEnd> relay_chunks(RelayedRequest& r, UpstreamCall& call, adapters::AnswerReader& reader,
                             WholeEvents& whole, bool& client_gone) {
  ReadWait wait(r);
  std::string kept;  // what goes out, while the write waits for the client
  while (!client_gone && !call.parser->is_done()) {
    if (wait.past()) co_return StreamEnd{beast::error::timeout, true};  // bytes always ready: see read_whole
    call.conn->expires_after(wait.next());
    char* shared = stream_chunks.get();
    auto [ec, n] = co_await call.conn->read_stream_body(*call.parser, shared, kChunk);
    std::string_view out = n > 0 ? whole.take(reader.stream_chunk(std::string_view(shared, n))) : std::string_view();
    if (!out.empty()) {
      // The thread's buffer is another stream's once this one waits: what points into it is
      // copied first.
      if (std::less_equal<>()(shared, out.data()) && std::less<>()(out.data(), shared + kChunk)) out = kept.assign(out);
      bool failed = static_cast<bool>(co_await r.ex.write_chunk(out));
      if (failed) client_gone = true;
      if (kept.capacity() > kKeptChunk) std::string().swap(kept);
    }
    if (ec) co_return StreamEnd{ec, ec == beast::error::timeout && wait.past()};
    if (reader.broken()) break;
  }
  // The upstream ended its answer: an event it did not finish, then what the reader still
  // holds (a translation's end, an error for a frame cut in half).
  if (!client_gone && !reader.broken()) {
    std::string_view held = whole.rest();
    if (!held.empty()) client_gone = static_cast<bool>(co_await r.ex.write_chunk(held));
    std::string_view rest = reader.stream_end();
    if (!client_gone && !rest.empty()) client_gone = static_cast<bool>(co_await r.ex.write_chunk(rest));
  }
  co_return StreamEnd{};
}

// What the end of a stream says about the account: a break the reader found, a connection
// lost mid-way, or a proper end.
Task<void> judge_stream(RelayedRequest& r, const Picked& p, UpstreamCall& call, const adapters::AnswerReader& reader,
                        const StreamEnd& end, bool client_gone) {
  if (client_gone || r.watch->shutdown) {
    if (!end.ec && !reader.broken()) attempt_ended(r, p, health::Outcome::Ok, call.status(), call.ttfb_ms);
    co_return;
  }
  if (const auto* verdict = reader.broken()) {
    co_await account_failed(r, p, *verdict, call.status(), call.ttfb_ms);
  } else if (end.ec && !end.deadline) {
    auto cut = cut_verdict(r, end.ec);  // named: no temporary inside co_await (GCC 12)
    co_await account_failed(r, p, cut, call.status(), call.ttfb_ms);
  } else {
    attempt_ended(r, p, health::Outcome::Ok, call.status(), call.ttfb_ms);
  }
}

// After the stream's last chunk: meter, judge the account, end the client's stream. A coroutine
// of its own so that what it uses is not held through the stream in stream_back's frame.
Task<void> finish_stream(RelayedRequest& r, const Picked& p, UpstreamCall& call, const adapters::AnswerReader& reader,
                         bool at_event_boundary, StreamEnd end, bool client_gone) {
  bool broken = reader.broken() != nullptr;
  if (client_gone || broken) call.conn->abort();  // never pooled: what is left of it is unread
  if (r.op == adapters::Operation::Messages) {
    auto e = answer_usage_event(r, p, reader.facts(), call.status(), true);
    log_served_attempt(r, p, e, call.ttfb_ms);
    co_await meter_and_release(r, p, std::move(e));
  }
  co_await judge_stream(r, p, call, reader, end, client_gone);
  if (client_gone) co_return;
  if (end.ec && !broken) {
    co_await end_cut_stream(r, p, at_event_boundary, end);
  } else {
    if (!broken) release_if_reusable(r, call);
    co_await r.ex.end_stream();
  }
}

Task<void> stream_back(RelayedRequest& r, const Picked& p, UpstreamCall& call, WatchGuard& guard) {
  unsigned status = call.status();
  http::response<http::empty_body> head{static_cast<http::status>(status), 11};
  p.adapter->copy_answer_headers(call.parser->get().base(), head);
  head.set(http::field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");
  auto reader = p.adapter->answer_reader(r.client_call());
  reader->upstream_head(call.parser->get().base());
  // Everything needed of the upstream's head is read (its status and framing stay with the
  // parser): an open stream keeps none of its fields (~1 KB, more with rate-limit headers).
  call.parser->get().base().clear();
  r.watch->answering = true;
  OpenStream counted;
  bool client_gone = static_cast<bool>(co_await r.ex.start_stream(std::move(head)));
  r.ex.release_body();  // the answer is committed: no other attempt will send the body
  WholeEvents whole(kLongestHeldEvent);
  StreamEnd end = co_await relay_chunks(r, call, *reader, whole, client_gone);
  guard.stop();
  co_await finish_stream(r, p, call, *reader, !whole.partial_sent(), end, client_gone || r.watch->gone);
}

// An account whose endpoint cannot be reached as configured (its base URL or proxy).
Task<void> report_unusable(RelayedRequest& r, const Picked& p, std::string unusable) {
  std::string why = "invalid configuration: " + unusable;
  co_await report(r.d(), r.worker, p.account(), accounts::kStatusError, 0, why);
}

// Every attempt failed, or no account could be tried.
Task<void> answer_without_upstream(RelayedRequest& r, Attempts& a) {
  if (r.watch->gone) co_return;
  co_await r.admission.release_now();
  if (r.watch->shutdown) {
    co_await r.ex.send(shutting_down());
  } else if (ReadWait(r).past()) {
    co_await r.ex.send(error(http::status::gateway_timeout, deadline_text(r)));
  } else if (a.last_error) {
    co_await r.ex.send(to_client(*a.last_error_adapter, *a.last_error));
  } else if (!a.last_failure.empty()) {
    co_await r.ex.send(error(http::status::bad_gateway, "Upstream request failed: " + a.last_failure));
  } else if (model_served_nowhere(r)) {
    co_await r.ex.send(http_server::anthropic_error(
        http::status::not_found, "not_found_error",
        "model: " + r.fields.model + " is not served by any upstream account available to this key"));
  } else if (!a.unsupported.empty() && !some_account_can_serve(r, a)) {
    co_await r.ex.send(error(http::status::bad_request,
                             "No upstream account can serve this request: it needs " + a.unsupported +
                                 ", which the available accounts do not support"));
  } else if (a.waited_in_vain) {
    auto answer = http_server::anthropic_error(
        static_cast<http::status>(529), "overloaded_error",
        fmt::format("Every upstream account this key may use is at its concurrency cap (waited {} ms); retry shortly",
                    r.cfg().loadBalancing.selectionTimeout));
    co_await r.ex.send(std::move(answer));
  } else if (!r.key().bound_account.empty()) {
    const std::string& bound = r.key().bound_account;
    std::string why = bound.starts_with("group:")
                          ? "The account group " + bound.substr(6) + " this key is bound to has no usable account"
                          : "The account " + bound + " this key is bound to is not usable right now (rate-limited, "
                                                     "overloaded, failing, disabled or deleted)";
    auto answer = error(http::status::service_unavailable, why);
    co_await r.ex.send(std::move(answer));
  } else {
    co_await r.ex.send(http_server::anthropic_error(
        http::status::service_unavailable, "overloaded_error",
        "No upstream account is available right now (all are rate-limited, overloaded, failing or disabled)"));
  }
}

}  // namespace

Task<void> forward_with_failover(RelayedRequest& r, AttemptState& s) {
  r.watch = std::make_shared<ClientWatch>();
  WatchGuard guard(r.ex.stream().socket(), r.watch, r.d().watch_sweeper(r.worker, r.ex.stream().get_executor()));
  InFlight in_flight(r.d(), r.worker, *r.watch);
  Attempts& a = s.attempts;
  Picked picked;
  for (int attempt = 0; attempt < r.rc().maxAttempts && !r.gone_or_cut() && !ReadWait(r).past(); ++attempt) {
    // The failed attempt's slot goes back first: a retry on the same account must find it free.
    if (picked.slot) co_await picked.slot->release_now();
    picked = Picked{};
    if (co_await choose_account(r, s, picked) != Choice::Picked) break;
    picked.attempt = ++a.made;
    bool refresh = a.refresh_now.count(picked.account().id) > 0;
    if (picked.adapter->needs_prepare(r.cfg(), picked.account(), refresh)) {
      if (!co_await prepare_account(r, picked, a, refresh)) continue;
    }
    if (std::string unusable = resolve_endpoint(picked); !unusable.empty()) {
      co_await report_unusable(r, picked, std::move(unusable));
      continue;
    }
    UpstreamCall call(*r.watch);
    if (!co_await send(r, picked, call, a)) continue;
    if (r.gone_or_cut()) break;  // the head came in just as the client left or the cut came
    unsigned status = call.status();
    if (status < 200 || status > 299) {
      if (co_await settle_error(r, picked, call, a)) co_return;
      continue;
    }
    // Success: from here on the answer belongs to this account.
    note_answer(r, picked, call);
    if (picked.attempt > 1) metrics::failover_served();
    if (picked.adapter->is_stream(call.parser->get().base())) co_await stream_back(r, picked, call, guard);
    else co_await answer_whole(r, picked, call, guard);
    co_return;
  }
  co_await answer_without_upstream(r, a);
}

}  // namespace crs::relay
