#include "adapters/anthropic_wire.hpp"

#include <algorithm>
#include <vector>

#include <boost/json.hpp>
#include <simdjson.h>

#include "adapters/anthropic_errors.hpp"
#include "usage/sse_usage_scanner.hpp"
#include "usage/usage_json.hpp"

namespace crs::adapters {
namespace {

constexpr std::string_view kOauthBeta = "oauth-2025-04-20";
constexpr std::string_view kDefaultVersion = "2023-06-01";

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && beast::iequals(s.substr(0, prefix.size()), prefix);
}

bool forwarded_request_header(std::string_view name) {
  static constexpr std::string_view kAllowed[] = {
      "accept",     "accept-language", "anthropic-dangerous-direct-browser-access", "user-agent", "x-app",
      "x-claude-code-session-id", "x-client-request-id", "sec-fetch-mode"};
  return istarts_with(name, "x-stainless-") ||
         std::any_of(std::begin(kAllowed), std::end(kAllowed), [&](auto a) { return beast::iequals(name, a); });
}

// Comma-joined, de-duplicated, order kept; repeated headers are merged. The oauth-* flags
// belong to the OAuth kind: sent with an API key they could get the account refused, and a
// key holder must not be able to do that.
std::string merged_beta(const http_server::Request& client, bool oauth) {
  std::vector<std::string_view> flags;  // views of the client's header values
  auto add = [&](std::string_view flag) {
    while (!flag.empty() && flag.front() == ' ') flag.remove_prefix(1);
    while (!flag.empty() && flag.back() == ' ') flag.remove_suffix(1);
    if (!oauth && istarts_with(flag, "oauth-")) return;
    if (!flag.empty() && std::find(flags.begin(), flags.end(), flag) == flags.end()) flags.push_back(flag);
  };
  if (oauth) add(kOauthBeta);
  for (const auto& f : client) {
    if (!beast::iequals(f.name_string(), "anthropic-beta")) continue;
    std::string_view v = f.value();
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string_view::npos) comma = v.size();
      add(v.substr(start, comma - start));
      start = comma + 1;
    }
  }
  std::string out;
  for (auto f : flags) out.append(out.empty() ? "" : ",").append(f);
  return out;
}

// The query parameters the Messages API defines (`beta`), in their order; everything else is
// dropped: a relay key may arrive as `?key=cr_...` and must never travel upstream.
std::string upstream_query(std::string_view query) {
  std::string out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair == "beta" || pair.starts_with("beta=")) out.append(out.empty() ? "" : "&").append(pair);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

// A parser keeps its buffers between documents; one per I/O thread.
simdjson::ondemand::parser& thread_parser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

class PassThroughReader final : public AnswerReader {
 public:
  std::string_view stream_chunk(std::string_view upstream) override {
    scanner_.feed(upstream);
    return upstream;
  }
  void whole_answer(std::string& body) override {
    whole_ = true;
    read_answer_usage(body, whole_usage_, whole_model_);
  }
  AnswerFacts facts() const override {
    if (whole_) return AnswerFacts{whole_usage_, whole_model_, true, 0, true};
    return AnswerFacts{scanner_.usage(), scanner_.served_model(), scanner_.final_usage_seen(),
                       scanner_.estimated_output_tokens(), scanner_.completed()};
  }

 private:
  usage::SseUsageScanner scanner_;
  bool whole_ = false;
  usage::Usage whole_usage_;
  std::string whole_model_;
};

}  // namespace

std::string_view anthropic_path(Operation op) {
  return op == Operation::CountTokens ? "/v1/messages/count_tokens" : "/v1/messages";
}

http::request<http::empty_body> build_anthropic_request(const http_server::Request& client, std::string_view path,
                                                        std::string_view query, AnthropicAuth auth,
                                                        std::string_view credential, const upstream::BaseUrl& base) {
  std::string target;
  std::string forwarded_query = upstream_query(query);
  target.reserve(base.path_prefix.size() + path.size() + forwarded_query.size() + 1);
  target.append(base.path_prefix).append(path);
  if (!forwarded_query.empty()) target.append("?").append(forwarded_query);
  http::request<http::empty_body> req{client.method(), target, 11};
  std::optional<std::string_view> version;  // the first one given
  for (const auto& f : client) {
    std::string_view name = f.name_string();
    if (forwarded_request_header(name)) req.insert(f.name(), name, f.value());
    else if (!version && beast::iequals(name, "anthropic-version")) version = f.value();
  }
  // None of the fields below is one the client's could have set: inserted, not replaced.
  req.insert(http::field::host, base.authority);
  req.insert(http::field::content_type, "application/json");
  // Identity: the relay reads usage from the stream, so it must be able to read the stream.
  req.insert(http::field::accept_encoding, "identity");
  req.insert(http::field::unknown, "anthropic-version", version && !version->empty() ? *version : kDefaultVersion);
  bool oauth = auth == AnthropicAuth::OauthBearer;
  if (std::string beta = merged_beta(client, oauth); !beta.empty()) req.insert(http::field::unknown, "anthropic-beta", beta);
  if (oauth) req.insert(http::field::authorization, std::string("Bearer ").append(credential));
  else req.insert(http::field::unknown, "x-api-key", credential);
  // HTTP/1.1 without a Connection field: the connection is kept.
  return req;
}

bool is_forwarded_response_header(std::string_view name) {
  static constexpr std::string_view kForwarded[] = {"content-type", "request-id", "retry-after", "retry-after-ms",
                                                     "x-should-retry"};
  return istarts_with(name, "anthropic-ratelimit-") ||
         std::any_of(std::begin(kForwarded), std::end(kForwarded), [&](auto f) { return beast::iequals(name, f); });
}

// Only the types an API client reads pass as they are: an upstream's text/html (a hostile or
// broken endpoint) must not become a page on the relay's origin, where the console's session
// cookie lives. Browsers are told not to guess either.
static std::string_view safe_content_type(std::string_view type) {
  if (istarts_with(type, "application/json") || istarts_with(type, "text/event-stream")) return type;
  return "application/octet-stream";
}

void copy_anthropic_answer_headers(const http::response_header<>& upstream, http::fields& out) {
  for (const auto& f : upstream) {
    if (!is_forwarded_response_header(f.name_string())) continue;
    if (f.name() == http::field::content_type) out.insert(f.name(), f.name_string(), safe_content_type(f.value()));
    else out.insert(f.name(), f.name_string(), f.value());
  }
  out.set("X-Content-Type-Options", "nosniff");
}

bool is_event_stream(const http::response_header<>& upstream) {
  return upstream[http::field::content_type].starts_with("text/event-stream");
}

std::unique_ptr<AnswerReader> anthropic_answer_reader() { return std::make_unique<PassThroughReader>(); }

bool read_answer_usage(std::string& body, usage::Usage& u, std::string& served_model) {
  if (body.empty()) return false;
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (thread_parser().iterate(view).get(doc) || doc.get_object().get(object)) return false;
  // The usage object goes through the one reading of usage the stream uses too
  // (usage::apply_usage_object), so both paths clamp and split alike. Applied to a copy: a
  // document that breaks off later leaves `u` as it was.
  usage::Usage read = u;
  bool found = false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "model") {
      std::string_view model;
      if (!field.value().get_string().get(model)) served_model = std::string(model);
    } else if (key == "usage") {
      simdjson::ondemand::object usage;
      if (field.value().get_object().get(usage)) return false;
      read = u;  // a repeated usage object replaces the first
      if (!usage::apply_usage_object(usage, read).readable) return false;
      found = true;
    }
  }
  if (!found) return false;
  u = read;
  return true;
}

UpstreamRequest AnthropicAdapter::build_request(const ClientCall& call, const accounts::Account& account,
                                               const upstream::BaseUrl& base) const {
  return {build_anthropic_request(call.request, anthropic_path(call.op), call.query, auth(), credential(account), base),
          std::nullopt};
}

std::optional<http::request<http::empty_body>> AnthropicAdapter::models_request(const accounts::Account& account,
                                                                                const upstream::BaseUrl& base) const {
  http_server::Request none;
  none.method(http::verb::get);
  auto req = build_anthropic_request(none, "/v1/models", "", auth(), credential(account), base);
  req.target(std::string(req.target()) + "?limit=1000");
  req.erase(http::field::content_type);
  return req;
}

// {"data": [{"id": ...}, ...]}
std::vector<std::string> AnthropicAdapter::models_of_answer(std::string_view body) const {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  const auto* data = ec || !v.is_object() ? nullptr : v.get_object().if_contains("data");
  if (!data || !data->is_array()) return out;
  for (const auto& m : data->get_array()) {
    const auto* id = m.is_object() ? m.get_object().if_contains("id") : nullptr;
    if (id && id->is_string() && id->get_string().size() <= 200) out.emplace_back(id->get_string());
  }
  return out;
}

ErrorVerdict AnthropicAdapter::classify(const UpstreamError& error, int64_t now_ms) const {
  return classify_anthropic_error(error, now_ms);
}

}  // namespace crs::adapters
