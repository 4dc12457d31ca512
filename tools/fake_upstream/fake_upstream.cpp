#include "fake_upstream.hpp"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "core/net.hpp"
#include "http/responses.hpp"
#include "shared.hpp"

namespace crs::fake {
using namespace asio::experimental::awaitable_operators;
using http_server::Exchange;
using http_server::Response;

std::string credential_of(const http_server::Request& req) {
  std::string_view key = req["x-api-key"];
  if (!key.empty()) return std::string(key);
  std::string_view auth = req[http::field::authorization];
  if (auth.size() > 7 && beast::iequals(auth.substr(0, 7), "bearer ")) return std::string(auth.substr(7));
  constexpr std::string_view kSigV4 = "AWS4-HMAC-SHA256 Credential=";
  if (auth.starts_with(kSigV4)) {
    auth.remove_prefix(kSigV4.size());
    return std::string(auth.substr(0, auth.find('/')));
  }
  return std::string(auth);
}

std::string_view default_error_type(int status) {
  return http_server::anthropic_error_type(static_cast<http::status>(status));
}

json::object headers_json(const http_server::Request& req);

// Built outside coroutines: GCC 12 miscompiles initializer lists inside coroutine frames.
json::object request_record(const Exchange& ex, const std::string& credential, bool stream) {
  const auto& req = ex.request();
  return json::object{{"method", std::string(req.method_string())},
                      {"target", std::string(req.target())},
                      {"path", std::string(ex.path())},
                      {"headers", headers_json(req)},
                      {"body", req.body()},
                      {"credential", credential},
                      {"stream", stream},
                      {"outcome", "in_flight"}};
}

// ---- The Messages wire format ----


// `full`: the shape of a whole answer and of message_start (with the TTL breakdown).
json::object usage_json(const Usage& u, bool full) {
  json::object o{{"input_tokens", u.input},
                 {"cache_creation_input_tokens", u.cache_create},
                 {"cache_read_input_tokens", u.cache_read},
                 {"output_tokens", u.output}};
  if (full) {
    o["cache_creation"] = json::object{{"ephemeral_5m_input_tokens", u.cache_create - u.cache_create_1h},
                                       {"ephemeral_1h_input_tokens", u.cache_create_1h}};
    o["service_tier"] = "standard";
  }
  if (u.web_search > 0) o["server_tool_use"] = json::object{{"web_search_requests", u.web_search}};
  return o;
}

// message_delta's usage: the final output count; optionally the input fields restated without
// their TTL breakdown (the shape of the spec's example), and the server tools.
json::object delta_usage_json(const Usage& u, bool restate_input) {
  json::object o{{"output_tokens", u.output}};
  if (restate_input) {
    o["input_tokens"] = u.input;
    o["cache_creation_input_tokens"] = u.cache_create;
    o["cache_read_input_tokens"] = u.cache_read;
  }
  if (u.web_search > 0) o["server_tool_use"] = json::object{{"web_search_requests", u.web_search}};
  return o;
}

Usage usage_of(const Behavior& b, size_t body_bytes) {
  Usage usage;
  usage.input = b.input_tokens.value_or(std::max<int64_t>(1, static_cast<int64_t>(body_bytes / 4)));
  usage.output = b.output_tokens.value_or(3 * b.deltas);
  usage.cache_create = b.cache_creation_input_tokens;
  usage.cache_read = b.cache_read_input_tokens;
  usage.cache_create_1h = b.cache_creation_1h_tokens;
  usage.web_search = b.web_search_requests;
  return usage;
}

std::string delta_text(const Behavior& b, int i) {
  std::string text;
  text.reserve(b.text.size() * static_cast<size_t>(std::max(b.text_repeat, 1)) + 12);
  for (int r = 0; r < std::max(b.text_repeat, 1); ++r) text += b.text;
  return fmt::format("{}{} ", text, i);
}

std::string sse_event(std::string_view name, const json::object& data, bool crlf) {
  std::string nl = crlf ? "\r\n" : "\n";
  return fmt::format("event: {}{}data: {}{}{}", name, nl, json::serialize(data), nl, nl);
}

std::string overloaded_event(bool crlf) {
  json::object err{{"type", "error"}, {"error", json::object{{"type", "overloaded_error"}, {"message", "Overloaded"}}}};
  return sse_event("error", err, crlf);
}

std::string_view stop_reason(const Behavior& b) { return b.tool_use ? "tool_use" : "end_turn"; }

constexpr std::string_view kToolUseId = "toolu_01FakeUpstreamCall";

json::object tool_use_block(const json::object& call, bool with_input) {
  return json::object{{"type", "tool_use"},
                      {"id", kToolUseId},
                      {"name", call.at("name")},
                      {"input", with_input ? call.at("input") : json::object{}}};
}

// A tool call at block 1: its input in two fragments, the first cut in the middle of the JSON
// text (inside a string when there is one), as the real API cuts them.
void add_tool_use_events(const json::object& call, bool crlf, std::vector<std::string>& events) {
  events.push_back(sse_event("content_block_start",
                             {{"type", "content_block_start"}, {"index", 1}, {"content_block", tool_use_block(call, false)}},
                             crlf));
  std::string input = json::serialize(call.at("input"));
  size_t cut = input.size() / 2;
  for (std::string part : {input.substr(0, cut), input.substr(cut)}) {
    json::object delta{{"type", "input_json_delta"}, {"partial_json", part}};
    events.push_back(sse_event("content_block_delta", {{"type", "content_block_delta"}, {"index", 1}, {"delta", delta}}, crlf));
  }
  events.push_back(sse_event("content_block_stop", {{"type", "content_block_stop"}, {"index", 1}}, crlf));
}

// Every event of a streamed answer, in the order of spec §7.4.
std::vector<std::string> stream_events(const std::string& id, const std::string& model, const Behavior& b,
                                       const Usage& u) {
  std::vector<std::string> events;
  Usage start = u;
  start.output = 1;
  start.web_search = 0;
  json::object message{{"id", id},          {"type", "message"},       {"role", "assistant"},
                       {"model", model},    {"content", json::array{}}, {"stop_reason", nullptr},
                       {"stop_sequence", nullptr}, {"usage", usage_json(start, true)}};
  events.push_back(sse_event("message_start", {{"type", "message_start"}, {"message", std::move(message)}}, b.crlf));
  events.push_back(sse_event("content_block_start",
                             {{"type", "content_block_start"},
                              {"index", 0},
                              {"content_block", json::object{{"type", "text"}, {"text", ""}}}},
                             b.crlf));
  events.push_back(sse_event("ping", {{"type", "ping"}}, b.crlf));
  for (int i = 0; i < b.deltas; ++i) {
    events.push_back(sse_event("content_block_delta",
                               {{"type", "content_block_delta"},
                                {"index", 0},
                                {"delta", json::object{{"type", "text_delta"}, {"text", delta_text(b, i)}}}},
                               b.crlf));
  }
  events.push_back(sse_event("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}, b.crlf));
  if (b.tool_use) add_tool_use_events(*b.tool_use, b.crlf, events);
  events.push_back(sse_event("message_delta",
                             {{"type", "message_delta"},
                              {"delta", json::object{{"stop_reason", stop_reason(b)}, {"stop_sequence", nullptr}}},
                              {"usage", delta_usage_json(u, b.restate_input_in_delta)}},
                             b.crlf));
  events.push_back(sse_event("message_stop", {{"type", "message_stop"}}, b.crlf));
  return events;
}

std::string message_json(const std::string& id, const std::string& model, const Behavior& b, const Usage& u) {
  std::string text;
  for (int i = 0; i < b.deltas; ++i) text += delta_text(b, i);
  json::array content{json::object{{"type", "text"}, {"text", text}}};
  if (b.tool_use) content.push_back(tool_use_block(*b.tool_use, true));
  json::object message{{"id", id},
                       {"type", "message"},
                       {"role", "assistant"},
                       {"model", model},
                       {"content", content},
                       {"stop_reason", stop_reason(b)},
                       {"stop_sequence", nullptr},
                       {"usage", usage_json(u, true)}};
  return json::serialize(message);
}

Response error_response(const Behavior& b, const std::string& request_id) {
  auto status = static_cast<http::status>(b.status);
  Response res;
  if (b.html_error) {
    res = Response{status, 11};
    res.set(http::field::content_type, "text/html");
    res.body() = fmt::format("<html><head><title>{} {}</title></head><body><center><h1>{} {}</h1></center>"
                             "<hr><center>cloudflare</center></body></html>\n",
                             b.status, http::obsolete_reason(status), b.status, http::obsolete_reason(status));
  } else {
    std::string type = b.error_type.empty() ? std::string(default_error_type(b.status)) : b.error_type;
    std::string message = b.error_message.empty() ? fmt::format("Fake upstream error {}", b.status) : b.error_message;
    json::object body{{"type", "error"},
                      {"error", json::object{{"type", type}, {"message", message}}},
                      {"request_id", request_id}};
    res = http_server::json_response(status, json::serialize(body));
  }
  if (b.retry_after >= 0) res.set(http::field::retry_after, std::to_string(b.retry_after));
  if (b.status == 429) {
    res.set("anthropic-ratelimit-requests-limit", "50");
    res.set("anthropic-ratelimit-requests-remaining", "0");
    res.set("anthropic-ratelimit-requests-reset", "2026-01-05T10:15:30Z");
    res.set("anthropic-ratelimit-input-tokens-limit", "30000");
    res.set("anthropic-ratelimit-input-tokens-remaining", "0");
    res.set("anthropic-ratelimit-input-tokens-reset", "2026-01-05T10:15:30Z");
    res.set("x-should-retry", "true");
  }
  if (b.status == 429 && b.unified_reset_in >= 0) {
    // spec/claude-oauth.md §8: the five-hour window exhausted, resetting in unified_reset_in s.
    auto reset = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count() + b.unified_reset_in);
    res.set("anthropic-ratelimit-unified-status", "rejected");
    res.set("anthropic-ratelimit-unified-representative-claim", "five_hour");
    res.set("anthropic-ratelimit-unified-reset", reset);
    res.set("anthropic-ratelimit-unified-5h-status", "rejected");
    res.set("anthropic-ratelimit-unified-5h-reset", reset);
    res.set("anthropic-ratelimit-unified-5h-utilization", "1.01");
  }
  if (b.should_retry) res.set("x-should-retry", *b.should_retry ? "true" : "false");
  res.set("request-id", request_id);
  return res;
}

json::object models_json() {
  json::array data{
      json::object{{"type", "model"}, {"id", "claude-sonnet-4-5-20250929"}, {"display_name", "Claude Sonnet 4.5"},
                   {"created_at", "2025-09-29T00:00:00Z"}},
      json::object{{"type", "model"}, {"id", "claude-haiku-4-5-20251001"}, {"display_name", "Claude Haiku 4.5"},
                   {"created_at", "2025-10-01T00:00:00Z"}},
      json::object{{"type", "model"}, {"id", "claude-opus-4-1-20250805"}, {"display_name", "Claude Opus 4.1"},
                   {"created_at", "2025-08-05T00:00:00Z"}},
      // A model no price table has: the relay's list must come from the upstream.
      json::object{{"type", "model"}, {"id", "claude-fake-upstream-only-20260101"},
                   {"display_name", "Fake upstream only"}, {"created_at", "2026-01-01T00:00:00Z"}}};
  return {{"data", std::move(data)},
          {"has_more", false},
          {"first_id", "claude-sonnet-4-5-20250929"},
          {"last_id", "claude-fake-upstream-only-20260101"}};
}

json::object headers_json(const http_server::Request& req) {
  json::object headers;
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    auto it = headers.find(name);
    if (it == headers.end()) headers[name] = std::string(field.value());
    else it->value() = std::string(it->value().get_string()) + "," + std::string(field.value());
  }
  return headers;
}

Task<void> sleep_ms(int ms) {
  if (ms <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(std::chrono::milliseconds(ms));
  co_await t.async_wait(use_nothrow);
}

// Waits `ms`, or less if the client hangs up meanwhile; true if it did.
Task<bool> wait_unless_client_leaves(Exchange& ex, int ms) {
  if (ms <= 0) co_return false;
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(std::chrono::milliseconds(ms));
  char byte;
  auto first = co_await (ex.stream().socket().async_read_some(asio::buffer(&byte, 1), use_nothrow) ||
                         t.async_wait(use_nothrow));
  co_return first.index() == 0;
}

Task<std::optional<Behavior>> chosen_behavior(std::shared_ptr<FakeUpstream::State> state, Exchange& ex,
                                              const std::string& credential, int64_t seq) {
  Behavior b;
  if (auto problem = state->choose(ex.request(), credential, b); !problem.empty()) {
    b = Behavior{};
    b.status = 400;
    b.error_message = "fake upstream: " + problem;
  }
  if (co_await wait_unless_client_leaves(ex, b.latency_ms)) {
    state->finish_record(seq, "client_gone", 0, nullptr, 0);
    co_return std::nullopt;
  }
  if (b.reset_before_response) {
    reset_connection(ex);
    state->finish_record(seq, "reset", 0, nullptr, 0);
    co_return std::nullopt;
  }
  co_return b;
}

void reset_connection(Exchange& ex) {
  beast::error_code ec;
  ex.stream().socket().set_option(asio::socket_base::linger(true, 0), ec);
  ex.stream().socket().close(ec);
}

namespace {

struct Parsed {
  std::string model;
  bool stream = false;
  std::string error;
};

// Benchmark mode: no JSON parse of bodies that can be 200 KB; find the two fields by text.
Parsed scan_messages_request(const std::string& body) {
  Parsed p;
  // The value after "name", skipping JSON whitespace and the colon.
  auto value_at = [&](std::string_view name) -> size_t {
    auto k = body.find(name);
    if (k == std::string::npos) return std::string::npos;
    size_t i = k + name.size();
    while (i < body.size() && (body[i] == ' ' || body[i] == ':' || body[i] == '\n' || body[i] == '\t')) ++i;
    return i;
  };
  size_t m = value_at("\"model\"");
  if (m == std::string::npos || m >= body.size() || body[m] != '"') {
    p.error = "model: Field required";
    return p;
  }
  p.model = body.substr(m + 1, body.find('"', m + 1) - m - 1);
  size_t st = value_at("\"stream\"");
  p.stream = st != std::string::npos && body.compare(st, 4, "true") == 0;
  return p;
}

Parsed parse_messages_request(const std::string& body, bool require_max_tokens) {
  Parsed p;
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    p.error = "Request body is not valid JSON";
    return p;
  }
  const auto& o = v.get_object();
  auto* model = o.if_contains("model");
  if (!model || !model->is_string()) p.error = "model: Field required";
  else p.model = std::string(model->get_string());
  auto* messages = o.if_contains("messages");
  if (p.error.empty() && (!messages || !messages->is_array())) p.error = "messages: Field required";
  if (p.error.empty() && require_max_tokens && !o.if_contains("max_tokens")) p.error = "max_tokens: Field required";
  if (auto* s = o.if_contains("stream"); s && s->is_bool()) p.stream = s->get_bool();
  return p;
}

// The unified rate-limit headers of a subscription account, when the behaviour asks for them.
void set_utilization(http::fields& h, const Behavior& b) {
  if (!b.utilization_5h.empty()) h.set("anthropic-ratelimit-unified-5h-utilization", b.utilization_5h);
  if (!b.utilization_7d.empty()) h.set("anthropic-ratelimit-unified-7d-utilization", b.utilization_7d);
}

// Plain functions (no ?: inside coroutines: GCC 12 miscompiles it).
Parsed read_request(const std::string& body, bool full, bool require_max_tokens) {
  return full ? parse_messages_request(body, require_max_tokens) : scan_messages_request(body);
}

json::object record_of(const Exchange& ex, const std::string& credential, bool stream, bool recording) {
  return recording ? request_record(ex, credential, stream) : json::object{};
}

// What an answer to a Messages request is made of, streamed or not.
struct AnswerPlan {
  int64_t seq;
  std::string id;
  std::string request_id;
  std::string model;
  Behavior b;
  Usage usage;
  std::function<void()> answered;  // called just before the answer's last write
};

Task<void> send_whole_message(FakeUpstream::State& state, Exchange& ex, const AnswerPlan& plan) {
  Response res = http_server::json_response(http::status::ok, message_json(plan.id, plan.model, plan.b, plan.usage));
  if (!plan.b.content_type.empty()) res.set(http::field::content_type, plan.b.content_type);
  res.set("request-id", plan.request_id);
  set_utilization(res, plan.b);
  plan.answered();
  co_await ex.send(std::move(res));
  state.finish_record(plan.seq, "complete", 200, &plan.usage, 0);
}

// What a client that read every event so far would meter.
struct SentUsage {
  Usage sent;
  int64_t delta_chars = 0;
  int delta_index = 0;

  void after(const AnswerPlan& plan, const std::string& event, int count) {
    if (count == 1) {
      sent = plan.usage;
      sent.output = 1;
      sent.web_search = 0;
    }
    // Until message_delta gives the count, a relay meters the output that passed as the spec
    // estimates it: characters of the deltas / 4 (anthropic-messages.md §11.1).
    if (event.starts_with("event: content_block_delta") && event.find("\"text_delta\"") != std::string::npos) {
      delta_chars += static_cast<int64_t>(delta_text(plan.b, delta_index++).size());
      sent.output = std::max<int64_t>(1, (delta_chars + 3) / 4);
    }
    if (event.starts_with("event: message_delta")) sent = plan.usage;
  }
};

// The fault a behaviour injects before event number `count`, if any: the stream ends there and
// the outcome is recorded under the returned name.
Task<const char*> inject_fault(Exchange& ex, const AnswerPlan& plan, int count, const std::string& event) {
  const Behavior& b = plan.b;
  if (count == b.stall_after_events) {
    co_await wait_unless_client_leaves(ex, b.stall_ms);
    plan.answered();
    co_return "stalled";
  }
  if (count == b.reset_after_events) {
    plan.answered();
    reset_connection(ex);
    co_return "reset";
  }
  if (count == b.reset_in_event) {
    co_await sleep_ms(b.drip_ms);
    co_await ex.write_chunk(std::string_view(event).substr(0, event.size() / 2));
    co_await sleep_ms(200);  // a reset drops what the peer has not read yet: give it time to read the half
    plan.answered();
    reset_connection(ex);
    co_return "reset";
  }
  if (count == b.error_after_events) {
    std::string event_text = overloaded_event(b.crlf);
    co_await ex.write_chunk(event_text);
    plan.answered();
    co_await ex.end_stream();
    co_return "error_event";
  }
  co_return nullptr;
}

// One event, whole or in chunks of b.chunk_bytes; an error when the client is gone.
Task<beast::error_code> write_event(Exchange& ex, const Behavior& b, std::string_view event) {
  if (b.chunk_bytes <= 0) co_return co_await ex.write_chunk(event);
  beast::error_code ec;
  for (size_t off = 0; off < event.size() && !ec; off += static_cast<size_t>(b.chunk_bytes))
    ec = co_await ex.write_chunk(event.substr(off, static_cast<size_t>(b.chunk_bytes)));
  co_return ec;
}

Task<void> stream_message(FakeUpstream::State& state, Exchange& ex, const AnswerPlan& plan) {
  const Behavior& b = plan.b;
  http::response<http::empty_body> header{http::status::ok, 11};
  header.set(http::field::content_type, "text/event-stream; charset=utf-8");
  header.set(http::field::cache_control, "no-cache");
  header.set("request-id", plan.request_id);
  set_utilization(header, b);
  if (auto ec = co_await ex.start_stream(std::move(header)); ec) {
    state.finish_record(plan.seq, "client_gone", 200, nullptr, 0);
    co_return;
  }
  co_await sleep_ms(b.first_event_delay_ms);

  auto events = stream_events(plan.id, plan.model, b, plan.usage);
  SentUsage sent;
  int count = 0;
  for (const auto& event : events) {
    if (const char* fault = co_await inject_fault(ex, plan, count, event)) {
      state.finish_record(plan.seq, fault, 200, &sent.sent, count);
      co_return;
    }
    if (count > 0) co_await sleep_ms(b.drip_ms);
    if (co_await write_event(ex, b, event)) {
      state.finish_record(plan.seq, "client_gone", 200, &sent.sent, count);
      co_return;
    }
    ++count;
    sent.after(plan, event, count);
  }
  plan.answered();
  co_await ex.end_stream();
  state.finish_record(plan.seq, "complete", 200, &plan.usage, count);
}

Task<void> handle_messages(std::shared_ptr<FakeUpstream::State> state, Exchange& ex) {
  FakeUpstream::State::InFlight in_flight(*state);
  const auto& req = ex.request();
  std::string credential = credential_of(req);
  FakeUpstream::State::CredentialInFlight credential_in_flight(*state, credential);
  bool recording = state->options.record;
  Parsed parsed = read_request(req.body(), recording, true);
  int64_t seq = state->begin_record(record_of(ex, credential, parsed.stream, recording));
  std::string request_id = fmt::format("req_fake{:017}", seq);

  auto chosen = co_await chosen_behavior(state, ex, credential, seq);
  if (!chosen) co_return;
  Behavior b = std::move(*chosen);

  if (b.status == 200 && !parsed.error.empty()) {
    b.status = 400;
    b.error_type = "invalid_request_error";
    b.error_message = parsed.error;
  }
  auto answered = [&] {
    in_flight.end();
    credential_in_flight.end();
  };
  if (b.status < 200 || b.status > 299) {
    answered();
    co_await ex.send(error_response(b, request_id));
    state->finish_record(seq, "error_status", b.status, nullptr, 0);
    co_return;
  }

  Usage usage = usage_of(b, req.body().size());
  if (!b.served_model.empty()) parsed.model = b.served_model;
  AnswerPlan plan{seq, fmt::format("msg_fake{:016}", seq), request_id, parsed.model, std::move(b), usage, answered};
  if (parsed.stream) co_await stream_message(*state, ex, plan);
  else co_await send_whole_message(*state, ex, plan);
}

// GET /v1/models: the list, or what a script for this path says (status, latency).
Task<void> handle_models(std::shared_ptr<FakeUpstream::State> state, Exchange& ex, const std::string& models) {
  const auto& req = ex.request();
  std::string credential = credential_of(req);
  {
    std::lock_guard lock(state->mutex);
    ++state->by_credential[credential].models;
  }
  Behavior b;
  if (auto problem = state->choose(req, credential, b, true); !problem.empty()) {
    b.status = 400;
    b.error_message = "fake upstream: " + problem;
  }
  co_await sleep_ms(b.latency_ms);
  if (b.status != 200) {
    co_await ex.send(error_response(b, "req_fake_models"));
    co_return;
  }
  co_await ex.send(http_server::json_response(http::status::ok, models));
}

Task<void> handle_count_tokens(std::shared_ptr<FakeUpstream::State> state, Exchange& ex) {
  FakeUpstream::State::InFlight in_flight(*state);
  const auto& req = ex.request();
  std::string credential = credential_of(req);
  bool recording = state->options.record;
  int64_t seq = state->begin_record(record_of(ex, credential, false, recording));
  Behavior b;
  if (auto problem = state->choose(req, credential, b); !problem.empty()) {
    b.status = 400;
    b.error_message = "fake upstream: " + problem;
  }
  co_await sleep_ms(b.latency_ms);
  Parsed parsed = read_request(req.body(), recording, false);
  if (b.status == 200 && !parsed.error.empty()) {
    b.status = 400;
    b.error_type = "invalid_request_error";
    b.error_message = parsed.error;
  }
  std::string request_id = fmt::format("req_fake{:017}", seq);
  if (b.status != 200) {
    co_await ex.send(error_response(b, request_id));
    state->finish_record(seq, "error_status", b.status, nullptr, 0);
    co_return;
  }
  int64_t tokens = b.input_tokens.value_or(std::max<int64_t>(1, static_cast<int64_t>(req.body().size() / 4)));
  Response res = http_server::json_response(http::status::ok, fmt::format("{{\"input_tokens\":{}}}", tokens));
  res.set("request-id", request_id);
  co_await ex.send(std::move(res));
  state->finish_record(seq, "complete", 200, nullptr, 0);
}

// OAuth token endpoint (spec/claude-oauth.md §4): code exchange and refresh. Refresh tokens
// rotate and each works once, so a relay that refreshes twice with one token gets invalid_grant.
Response oauth_error(int status, const std::string& code, const std::string& description) {
  return http_server::json_response(static_cast<http::status>(status),
                                    json::serialize(json::object{{"error", code}, {"error_description", description}}));
}

Response handle_token_request(FakeUpstream::State& state, const std::string& body, const Behavior& b) {
  if (b.status != 200)
    return oauth_error(b.status, b.error_type.empty() ? "invalid_grant" : b.error_type,
                       b.error_message.empty() ? "Fake token endpoint error" : b.error_message);
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return oauth_error(400, "invalid_request", "body is not JSON");
  const auto& o = v.get_object();
  auto str = [&](const char* k) {
    auto* f = o.if_contains(k);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  std::string grant = str("grant_type");
  if (str("client_id").empty()) return oauth_error(400, "invalid_client", "client_id is required");
  int64_t n;
  {
    std::lock_guard lock(state.mutex);
    if (grant == "refresh_token") {
      std::string rt = str("refresh_token");
      if (rt.empty() || !state.used_refresh_tokens.insert(rt).second)
        return oauth_error(400, "invalid_grant", "Refresh token is invalid or was already used");
    } else if (grant == "authorization_code") {
      if (str("code").size() < 10 || str("code_verifier").empty() || str("redirect_uri").empty())
        return oauth_error(400, "invalid_grant", "Invalid or expired authorization code");
    } else {
      return oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token");
    }
    n = state.next_token++;
  }
  json::object answer{{"token_type", "Bearer"},
                      {"access_token", fmt::format("sk-ant-oat01-fake-access-{}", n)},
                      {"refresh_token", fmt::format("sk-ant-ort01-fake-refresh-{}", n)},
                      {"expires_in", b.output_tokens.value_or(28800)},
                      {"scope", "user:inference user:profile"},
                      {"account", json::object{{"uuid", "7c1d2e3f-2222-4a5b-8c9d-0e1f2a3b4c5d"},
                                               {"email_address", "someone@example.com"}}}};
  return http_server::json_response(http::status::ok, json::serialize(answer));
}

Task<void> handle_token(std::shared_ptr<FakeUpstream::State> state, Exchange& ex) {
  FakeUpstream::State::InFlight in_flight(*state);
  int64_t seq = state->begin_record(request_record(ex, "", false));
  Behavior b;
  if (auto problem = state->choose(ex.request(), "oauth-token-endpoint", b); !problem.empty()) b.status = 400;
  co_await sleep_ms(b.latency_ms);
  Response res = handle_token_request(*state, ex.request().body(), b);
  unsigned status = res.result_int();
  co_await ex.send(std::move(res));
  state->finish_record(seq, status == 200 ? "complete" : "error_status", static_cast<int>(status), nullptr, 0);
}

// ---- Control API for tests: /_fake/... ----

Response control_json(http::status status, const json::value& v) {
  return http_server::json_response(status, json::serialize(v));
}

// GET /_fake/requests[?since=N]: the recorded requests after N.
Task<void> control_requests(const std::shared_ptr<FakeUpstream::State>& s, Exchange& ex) {
  int64_t since = 0;
  std::string_view q = ex.query();
  if (auto p = q.find("since="); p != std::string_view::npos) since = std::atoll(std::string(q.substr(p + 6)).c_str());
  json::array list;
  {
    std::lock_guard lock(s->mutex);
    for (const auto& r : s->records)
      if (r.seq > since) list.push_back(r.data);
  }
  return ex.send(control_json(http::status::ok, json::object{{"requests", std::move(list)}}));
}

// GET /_fake/stats: requests in flight and in total, per credential, and the tokens emitted.
Task<void> control_stats(const std::shared_ptr<FakeUpstream::State>& s, Exchange& ex) {
  json::object o{{"inFlight", s->in_flight.load()}, {"maxInFlight", s->max_in_flight.load()},
                 {"total", s->total.load()}};
  json::object by;
  {
    std::lock_guard lock(s->mutex);
    for (const auto& [credential, c] : s->by_credential)
      by[credential] = json::object{
          {"inFlight", c.in_flight}, {"maxInFlight", c.max_in_flight}, {"total", c.total}, {"models", c.models}};
  }
  o["byCredential"] = std::move(by);
  if (const auto* server = s->server.load())
    o["connections"] = json::object{{"open", server->open_connections()},
                                    {"accepted", server->accepted_connections() - s->accepted_at_reset.load()}};
  o["emitted"] = json::object{{"input", s->emitted_input.load()}, {"output", s->emitted_output.load()},
                              {"cacheCreate", s->emitted_cache_create.load()},
                              {"cacheRead", s->emitted_cache_read.load()}, {"answers", s->emitted_answers.load()}};
  return ex.send(control_json(http::status::ok, o));
}

// POST /_fake/reset: forgets records, scripts and counts (requests in flight stay counted).
Task<void> control_reset(const std::shared_ptr<FakeUpstream::State>& s, Exchange& ex) {
  {
    std::lock_guard lock(s->mutex);
    s->records.clear();
    s->scripts.clear();
  }
  s->max_in_flight = s->in_flight.load();
  s->total = 0;
  if (const auto* server = s->server.load()) s->accepted_at_reset = server->accepted_connections();
  for (auto* sum : {&s->emitted_input, &s->emitted_output, &s->emitted_cache_create, &s->emitted_cache_read,
                    &s->emitted_answers})
    *sum = 0;
  {
    std::lock_guard lock(s->mutex);
    for (auto& [credential, c] : s->by_credential) c = {c.in_flight, c.in_flight, 0, 0};
  }
  return ex.send(control_json(http::status::ok, json::object{{"ok", true}}));
}

// POST /_fake/behaviors {"credential": "sk-..." | "*", "bodyContains": "text", "behavior": {...},
// "times": N}: appended to the script list.
Task<void> control_add_behavior(const std::shared_ptr<FakeUpstream::State>& s, Exchange& ex) {
  boost::system::error_code ec;
  auto v = json::parse(ex.request().body(), ec);
  const json::object* o = ec ? nullptr : v.if_object();
  Behavior check;
  std::string problem = !o ? "body must be a JSON object" : "";
  const json::value* behavior = o ? o->if_contains("behavior") : nullptr;
  if (problem.empty() && !behavior) problem = "behavior is required";
  if (problem.empty()) problem = parse_behavior(*behavior, check);
  if (!problem.empty())
    return ex.send(control_json(http::status::bad_request, json::object{{"error", problem}}));
  Scripted script;
  script.behavior = *behavior;
  script.credential = "*";
  if (auto* c = o->if_contains("credential"); c && c->is_string()) script.credential = std::string(c->get_string());
  if (auto* t = o->if_contains("times"); t && t->is_int64()) script.times = t->get_int64();
  if (auto* b = o->if_contains("bodyContains"); b && b->is_string()) script.body_contains = std::string(b->get_string());
  if (auto* m = o->if_contains("path"); m && m->is_string()) script.models = m->get_string() == "/v1/models";
  {
    std::lock_guard lock(s->mutex);
    s->scripts.push_back(std::move(script));
  }
  return ex.send(control_json(http::status::ok, json::object{{"ok", true}}));
}

// DELETE /_fake/behaviors: every script forgotten.
Task<void> control_clear_behaviors(const std::shared_ptr<FakeUpstream::State>& s, Exchange& ex) {
  {
    std::lock_guard lock(s->mutex);
    s->scripts.clear();
  }
  return ex.send(control_json(http::status::ok, json::object{{"ok", true}}));
}

}  // namespace

FakeUpstream::FakeUpstream(FakeOptions options) : state_(std::make_shared<State>(options)) {}
FakeUpstream::~FakeUpstream() = default;

void FakeUpstream::served_by(const http_server::Server& server) {
  state_->accepted_at_reset = server.accepted_connections();
  state_->server = &server;
}

void FakeUpstream::register_routes(http_server::Router& router) {
  auto s = state_;
  router.add(http::verb::post, "/v1/messages", [s](Exchange& ex) { return handle_messages(s, ex); });
  router.add(http::verb::post, "/v1/messages/count_tokens", [s](Exchange& ex) { return handle_count_tokens(s, ex); });
  router.add(http::verb::post, "/v1/oauth/token", [s](Exchange& ex) { return handle_token(s, ex); });
  register_bedrock_routes(router, s);
  register_openai_routes(router, s);
  std::string models = json::serialize(models_json());
  router.add(http::verb::get, "/v1/models", [s, models](Exchange& ex) { return handle_models(s, ex, models); });

  router.add(http::verb::get, "/_fake/requests", [s](Exchange& ex) { return control_requests(s, ex); });
  router.add(http::verb::get, "/_fake/stats", [s](Exchange& ex) { return control_stats(s, ex); });
  router.add(http::verb::post, "/_fake/reset", [s](Exchange& ex) { return control_reset(s, ex); });
  router.add(http::verb::post, "/_fake/behaviors", [s](Exchange& ex) { return control_add_behavior(s, ex); });
  router.add(http::verb::delete_, "/_fake/behaviors", [s](Exchange& ex) { return control_clear_behaviors(s, ex); });
}

}  // namespace crs::fake
