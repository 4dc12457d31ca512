// A fake OpenAI-compatible provider (spec/openai-compat.md §2): POST /v1/chat/completions,
// whole or streamed (chat.completion.chunk lines, usage in a last chunk when
// stream_options.include_usage asks, then [DONE]), with OpenAI's error bodies. The same
// scripts and behaviours as the Messages routes: text deltas, token counts, tool calls,
// faults before and during the answer.
#include <ctime>

#include <fmt/format.h>

#include "http/responses.hpp"
#include "http/router.hpp"
#include "shared.hpp"

namespace crs::fake {
namespace {

using http_server::Exchange;
using http_server::Response;

struct ChatRequest {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  std::string error;
};

ChatRequest read_chat_request(const std::string& body) {
  ChatRequest r;
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    r.error = "We could not parse the JSON body of your request.";
    return r;
  }
  const auto& o = v.as_object();
  if (const auto* m = o.if_contains("model"); m && m->is_string()) r.model = m->as_string();
  const auto* messages = o.if_contains("messages");
  if (r.model.empty()) r.error = "you must provide a model parameter";
  else if (!messages || !messages->is_array() || messages->as_array().empty()) r.error = "messages: a non-empty array is required";
  if (const auto* s = o.if_contains("stream"); s && s->is_bool()) r.stream = s->as_bool();
  if (const auto* so = o.if_contains("stream_options"); so && so->is_object())
    if (const auto* inc = so->as_object().if_contains("include_usage"); inc && inc->is_bool()) r.include_usage = inc->as_bool();
  return r;
}

Response openai_error(int status, const Behavior& b) {
  std::string type = status == 401 ? "invalid_request_error" : status == 429 ? "requests" : status >= 500 ? "server_error"
                                                                                                          : "invalid_request_error";
  std::string code = !b.error_type.empty() ? b.error_type : status == 401 ? "invalid_api_key" : status == 429 ? "rate_limit_exceeded" : "";
  std::string message = b.error_message.empty() ? fmt::format("Fake OpenAI-compatible error {}", status) : b.error_message;
  json::object error{{"message", message}, {"type", type}, {"param", nullptr},
                     {"code", code.empty() ? json::value(nullptr) : json::value(code)}};
  auto res = http_server::json_response(static_cast<http::status>(status), json::serialize(json::object{{"error", error}}));
  if (b.retry_after >= 0) res.set(http::field::retry_after, std::to_string(b.retry_after));
  return res;
}

json::object openai_usage(const Usage& u) {
  int64_t prompt = u.input + u.cache_read;
  return json::object{{"prompt_tokens", prompt},
                      {"completion_tokens", u.output},
                      {"total_tokens", prompt + u.output},
                      {"prompt_tokens_details", json::object{{"cached_tokens", u.cache_read}}}};
}

std::string text_of(const Behavior& b) {
  std::string text;
  for (int i = 0; i < b.deltas; ++i) text += fmt::format("{}{} ", b.text, i);
  return text;
}

json::array tool_calls(const Behavior& b) {
  json::object fn{{"name", b.tool_use->at("name")}, {"arguments", json::serialize(b.tool_use->at("input"))}};
  return json::array{json::object{{"id", "call_fakeprovider01"}, {"type", "function"}, {"function", fn}}};
}

std::string completion(const std::string& id, const std::string& model, const Behavior& b, const Usage& u) {
  json::object message{{"role", "assistant"}, {"content", text_of(b)}};
  if (b.tool_use) message["tool_calls"] = tool_calls(b);
  json::object choice{{"index", 0}, {"message", message}, {"finish_reason", b.tool_use ? "tool_calls" : "stop"}};
  json::object out{{"id", id}, {"object", "chat.completion"}, {"created", static_cast<int64_t>(std::time(nullptr))},
                   {"model", model}, {"choices", json::array{choice}}};
  if (!b.omit_usage) out["usage"] = openai_usage(u);
  return json::serialize(out);
}

std::string chunk_line(const std::string& id, const std::string& model, json::object delta, json::value finish,
                       bool usage_null) {
  json::object choice{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}};
  json::object c{{"id", id}, {"object", "chat.completion.chunk"}, {"created", static_cast<int64_t>(std::time(nullptr))},
                 {"model", model}, {"choices", json::array{choice}}};
  if (usage_null) c["usage"] = nullptr;
  return "data: " + json::serialize(c) + "\n\n";
}

// Every line of a streamed answer, [DONE] last.
std::vector<std::string> chunk_lines(const std::string& id, const std::string& model, const Behavior& b, const Usage& u,
                                     bool include_usage) {
  bool usage_chunk = include_usage && !b.omit_usage;
  std::vector<std::string> lines;
  lines.push_back(chunk_line(id, model, json::object{{"role", "assistant"}, {"content", ""}}, nullptr, usage_chunk));
  for (int i = 0; i < b.deltas; ++i)
    lines.push_back(chunk_line(id, model, json::object{{"content", fmt::format("{}{} ", b.text, i)}}, nullptr, usage_chunk));
  if (b.tool_use) {
    auto call = tool_calls(b)[0].as_object();
    std::string arguments(call["function"].as_object()["arguments"].as_string());
    call["index"] = 0;
    call["function"].as_object()["arguments"] = "";
    lines.push_back(chunk_line(id, model, json::object{{"tool_calls", json::array{call}}}, nullptr, usage_chunk));
    for (std::string part : {arguments.substr(0, arguments.size() / 2), arguments.substr(arguments.size() / 2)}) {
      json::object fragment{{"index", 0}, {"function", json::object{{"arguments", part}}}};
      lines.push_back(chunk_line(id, model, json::object{{"tool_calls", json::array{fragment}}}, nullptr, usage_chunk));
    }
  }
  lines.push_back(chunk_line(id, model, json::object{}, b.tool_use ? "tool_calls" : "stop", usage_chunk));
  if (usage_chunk) {
    json::object c{{"id", id}, {"object", "chat.completion.chunk"}, {"created", static_cast<int64_t>(std::time(nullptr))},
                   {"model", model}, {"choices", json::array{}}, {"usage", openai_usage(u)}};
    lines.push_back("data: " + json::serialize(c) + "\n\n");
  }
  lines.push_back("data: [DONE]\n\n");
  return lines;
}

Task<void> stream_lines(std::shared_ptr<FakeUpstream::State> state, Exchange& ex, int64_t seq, const Behavior& b,
                        const std::vector<std::string>& lines, const Usage& usage) {
  int count = 0;
  for (const auto& line : lines) {
    if (count == b.stall_after_events) {
      co_await wait_unless_client_leaves(ex, b.stall_ms);
      state->finish_record(seq, "stalled", 200, nullptr, count);
      co_return;
    }
    if (count == b.reset_after_events) {
      reset_connection(ex);
      state->finish_record(seq, "reset", 200, nullptr, count);
      co_return;
    }
    if (count == b.error_after_events) {
      co_await ex.write_chunk(R"(data: {"error":{"message":"The server is overloaded","type":"server_error"}})" "\n\n");
      co_await ex.end_stream();
      state->finish_record(seq, "error_event", 200, nullptr, count);
      co_return;
    }
    if (count > 0) co_await sleep_ms(b.drip_ms);
    if (co_await ex.write_chunk(line)) {
      state->finish_record(seq, "client_gone", 200, nullptr, count);
      co_return;
    }
    ++count;
  }
  co_await ex.end_stream();
  state->finish_record(seq, "complete", 200, &usage, count);
}

Task<void> handle_chat(std::shared_ptr<FakeUpstream::State> state, Exchange& ex) {
  FakeUpstream::State::InFlight in_flight(*state);
  std::string credential = credential_of(ex.request());
  FakeUpstream::State::CredentialInFlight credential_in_flight(*state, credential);
  ChatRequest request = read_chat_request(ex.request().body());
  int64_t seq = state->begin_record(request_record(ex, credential, request.stream));
  auto chosen = co_await chosen_behavior(state, ex, credential, seq);
  if (!chosen) co_return;
  Behavior b = std::move(*chosen);
  if (b.status == 200 && !request.error.empty()) {
    b.status = 400;
    b.error_message = request.error;
  }
  if (b.status < 200 || b.status > 299) {
    co_await ex.send(openai_error(b.status, b));
    state->finish_record(seq, "error_status", b.status, nullptr, 0);
    co_return;
  }
  Usage usage = usage_of(b, ex.request().body().size());
  std::string model = b.served_model.empty() ? request.model : b.served_model;
  std::string id = fmt::format("chatcmpl-fake{:016}", seq);
  if (!request.stream) {
    co_await ex.send(http_server::json_response(http::status::ok, completion(id, model, b, usage)));
    state->finish_record(seq, "complete", 200, &usage, 0);
    co_return;
  }
  http::response<http::empty_body> head{http::status::ok, 11};
  head.set(http::field::content_type, "text/event-stream; charset=utf-8");
  if (co_await ex.start_stream(std::move(head))) {
    state->finish_record(seq, "client_gone", 200, nullptr, 0);
    co_return;
  }
  auto lines = chunk_lines(id, model, b, usage, request.include_usage);
  co_await stream_lines(state, ex, seq, b, lines, usage);
}

}  // namespace

void register_openai_routes(http_server::Router& router, std::shared_ptr<FakeUpstream::State> state) {
  auto s = std::move(state);
  router.add(http::verb::post, "/v1/chat/completions", [s](Exchange& ex) { return handle_chat(s, ex); });
}

}  // namespace crs::fake
