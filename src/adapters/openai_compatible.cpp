// OpenAI-compatible accounts: a provider that speaks Chat Completions (a base URL ending in its
// API version, e.g. https://api.example.com/v1, and a bearer key) serving Anthropic-format
// clients. The Messages request goes up as a Chat Completions request, and the answer comes
// back as an Anthropic message or Anthropic SSE, chunk by chunk (openai/messages_bridge.hpp).
// Such an account serves only the models its `models` list or `modelMapping` names (checked
// when it is added), so it never catches Claude traffic by accident.
#include <algorithm>

#include <boost/json.hpp>

#include "adapters/builtin.hpp"
#include "http/responses.hpp"
#include "openai/messages_bridge.hpp"
#include "usage/sse_usage_scanner.hpp"

namespace crs::adapters {
namespace {
namespace json = boost::json;

// The answer in Anthropic's shape, its usage read from what the bridge emits (one reading of
// usage for every kind). Without a usage report from the provider, input is estimated from the
// request and output from the text that passed, and the event says so.
class BridgeReader final : public AnswerReader {
 public:
  BridgeReader(std::string model, size_t request_bytes) : stream_(model), model_(std::move(model)), request_bytes_(request_bytes) {}

  std::string_view stream_chunk(std::string_view upstream) override {
    out_ = stream_.feed(upstream);
    scanner_.feed(out_);
    return out_;
  }
  std::string_view stream_end() override {
    out_ = stream_.finish();
    scanner_.feed(out_);
    return out_;
  }
  void whole_answer(std::string& body) override {
    whole_ = true;
    auto message = openai::completion_to_message(body, model_, whole_usage_);
    if (!message) return;
    body = std::move(*message);
    whole_estimate_ = output_estimate(body);
  }
  AnswerFacts facts() const override {
    if (whole_) {
      AnswerFacts f{usage_of(whole_usage_), served(whole_usage_), whole_usage_.reported, whole_estimate_, true};
      if (!whole_usage_.reported) f.usage.input_tokens = estimated_input();
      return f;
    }
    AnswerFacts f{usage_of(stream_.usage()), served(stream_.usage()), stream_.usage().reported,
                  std::max<int64_t>(1, scanner_.estimated_output_tokens()), scanner_.completed()};
    if (!f.final_usage_seen) f.usage.input_tokens = estimated_input();
    return f;
  }
  // The provider's stream ended with an error (its error chunk, or no answer at all).
  const ErrorVerdict* broken() const override { return stream_.failed() ? &kFailed : nullptr; }

 private:
  static usage::Usage usage_of(const openai::BridgedUsage& b) {
    usage::Usage u;
    u.input_tokens = b.input_tokens;
    u.cache_read_input_tokens = b.cache_read_input_tokens;
    u.output_tokens = b.output_tokens;
    return u;
  }
  int64_t estimated_input() const { return static_cast<int64_t>(request_bytes_ / 4) + 1; }
  // A token per 4 characters of the message's text and tool inputs, at least one.
  static int64_t output_estimate(const std::string& message) {
    boost::system::error_code ec;
    auto v = json::parse(message, ec);
    const auto* content = !ec && v.is_object() ? v.as_object().if_contains("content") : nullptr;
    size_t chars = 0;
    if (content && content->is_array())
      for (const auto& block : content->as_array()) {
        if (!block.is_object()) continue;
        const auto& b = block.as_object();
        if (const auto* text = b.if_contains("text"); text && text->is_string()) chars += text->as_string().size();
        if (const auto* input = b.if_contains("input")) chars += json::serialize(*input).size();
      }
    return static_cast<int64_t>(chars + 3) / 4 + 1;
  }
  static inline const ErrorVerdict kFailed{ErrorClass::ServerError, 0, "the provider's stream failed"};
  // The provider's name for the model that served (what the request is priced as; the price
  // file may name it), else the one asked for.
  const std::string& served(const openai::BridgedUsage& b) const { return b.served_model.empty() ? model_ : b.served_model; }

  openai::MessagesStream stream_;
  std::string model_;
  size_t request_bytes_;
  std::string out_;
  usage::SseUsageScanner scanner_;
  bool whole_ = false;
  openai::BridgedUsage whole_usage_;
  int64_t whole_estimate_ = 1;
};

// {"error":{"message","type","code"}} (or anything else) -> the Anthropic error shape.
std::string anthropic_error_of(unsigned status, const std::string& body) {
  std::string message;
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec && v.is_object())
    if (const auto* e = v.as_object().if_contains("error"); e && e->is_object())
      if (const auto* m = e->as_object().if_contains("message"); m && m->is_string()) message = m->as_string();
  if (message.empty()) message = "The upstream provider answered HTTP " + std::to_string(status);
  message = openai::without_identifiers(message);
  return http_server::anthropic_error_body(http_server::anthropic_error_type(static_cast<http::status>(status)), message);
}

std::string error_code(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto* e = v.as_object().if_contains("error");
  const auto* code = e && e->is_object() ? e->as_object().if_contains("code") : nullptr;
  return code && code->is_string() ? std::string(code->as_string()) : std::string();
}

class OpenAiCompatibleAdapter final : public Adapter {
 public:
  std::string_view kind() const override { return accounts::kOpenaiCompatible; }

  Features features() const override {
    Features f;
    f.count_tokens = false;
    return f;
  }

  UpstreamRequest build_request(const ClientCall& call, const accounts::Account& account,
                                const upstream::BaseUrl& base) const override {
    http::request<http::empty_body> req{http::verb::post, base.path_prefix + "/chat/completions", 11};
    bool default_port = base.port == (base.tls ? 443 : 80);
    req.set(http::field::host, default_port ? base.host : base.host + ":" + std::to_string(base.port));
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept_encoding, "identity");
    req.set(http::field::authorization, "Bearer " + account.credentials.api_key);
    req.keep_alive(true);
    auto chat = openai::messages_to_chat(call.body, call.model);
    // Unreadable: never the client's bytes as they are; the provider's 400 goes back.
    return UpstreamRequest{std::move(req), chat ? std::move(*chat) : std::string("{}")};
  }

  void copy_answer_headers(const http::response_header<>& upstream, http::fields& out) const override {
    out.set(http::field::content_type, is_stream(upstream) ? "text/event-stream; charset=utf-8" : "application/json");
    for (const char* name : {"x-request-id", "retry-after"})
      if (auto v = upstream[name]; !v.empty()) out.set(name == std::string_view("x-request-id") ? "request-id" : name, v);
    out.set("X-Content-Type-Options", "nosniff");
  }

  bool is_stream(const http::response_header<>& upstream) const override {
    return upstream[http::field::content_type].starts_with("text/event-stream");
  }

  std::unique_ptr<AnswerReader> answer_reader(const ClientCall& call) const override {
    return std::make_unique<BridgeReader>(std::string(call.model), call.body.size());
  }

  ErrorVerdict classify(const UpstreamError& e, int64_t) const override {
    std::string reason = "upstream answered " + std::to_string(e.status);
    std::string code = error_code(e.body);
    if (!code.empty()) reason += " " + code;
    switch (e.status) {
      case 400: case 404: case 413: case 422: return {ErrorClass::ClientError, 0, reason};
      case 401: return {ErrorClass::Unauthorized, 0, reason};
      case 402: case 403: return {ErrorClass::Refused, 0, reason};
      case 429: return {code == "insufficient_quota" ? ErrorClass::Refused : ErrorClass::BurstRateLimited, 0, reason};
      default: return {e.status >= 500 ? ErrorClass::ServerError : ErrorClass::ClientError, 0, reason};
    }
  }

  UpstreamError client_error(const UpstreamError& e) const override {
    UpstreamError out{e.status, e.headers, anthropic_error_of(e.status, e.body)};
    // The provider's own credential problems are the relay's, not the client's.
    if (e.status == 401 || e.status == 403) {
      out.status = 500;
      out.body = http_server::anthropic_error_body("api_error", "The upstream provider refused the account's credentials");
    }
    return out;
  }

  std::optional<http::request<http::empty_body>> models_request(const accounts::Account& account,
                                                                 const upstream::BaseUrl& base) const override {
    http::request<http::empty_body> req{http::verb::get, base.path_prefix + "/models", 11};
    bool default_port = base.port == (base.tls ? 443 : 80);
    req.set(http::field::host, default_port ? base.host : base.host + ":" + std::to_string(base.port));
    req.set(http::field::authorization, "Bearer " + account.credentials.api_key);
    req.set(http::field::accept_encoding, "identity");
    return req;
  }

  std::vector<std::string> models_of_answer(std::string_view body) const override {
    std::vector<std::string> ids;
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    const auto* data = !ec && v.is_object() ? v.as_object().if_contains("data") : nullptr;
    if (!data || !data->is_array()) return ids;
    for (const auto& m : data->as_array())
      if (const auto* id = m.is_object() ? m.as_object().if_contains("id") : nullptr; id && id->is_string())
        ids.emplace_back(id->as_string());
    return ids;
  }
};

}  // namespace

std::unique_ptr<Adapter> make_openai_compatible_adapter() { return std::make_unique<OpenAiCompatibleAdapter>(); }

}  // namespace crs::adapters
