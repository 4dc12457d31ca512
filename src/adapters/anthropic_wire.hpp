#pragma once
// The Anthropic Messages wire, shared by the kinds that speak it (Claude Console, Claude
// OAuth): how a client request becomes the upstream request and what of the answer goes back
// (spec/anthropic-messages.md §10). Allow-listed headers, the account's credential, no client
// credential ever forwarded (headers or query: only `beta` of the query goes upstream).
#include <memory>
#include <string>
#include <string_view>

#include "adapters/adapter.hpp"

namespace crs::adapters {

// How the account's credential is sent.
enum class AnthropicAuth { ApiKey, OauthBearer };

http::request<http::empty_body> build_anthropic_request(const http_server::Request& client, std::string_view path,
                                                        std::string_view query, AnthropicAuth auth,
                                                        std::string_view credential, const upstream::BaseUrl& base);

// The upstream path of an operation.
std::string_view anthropic_path(Operation op);

bool is_forwarded_response_header(std::string_view name);
void copy_anthropic_answer_headers(const http::response_header<>& upstream, http::fields& out);
bool is_event_stream(const http::response_header<>& upstream);

// Passes the answer through unchanged and reads its usage: streams with usage::SseUsageScanner,
// whole answers with read_answer_usage.
std::unique_ptr<AnswerReader> anthropic_answer_reader();

// The "usage" and "model" members of a whole (non-streamed) Messages answer, without
// building a document of the answer, which can be hundreds of KB; the usage object itself is
// read by usage::apply_usage_object. False if the answer is not JSON or has no usage object.
bool read_answer_usage(std::string& body, usage::Usage& usage, std::string& served_model);

// The Anthropic kinds' adapter: everything but the credential is common.
class AnthropicAdapter : public Adapter {
 public:
  UpstreamRequest build_request(const ClientCall& call, const accounts::Account& account,
                                const upstream::BaseUrl& base) const override;
  void copy_answer_headers(const http::response_header<>& upstream, http::fields& out) const override {
    copy_anthropic_answer_headers(upstream, out);
  }
  bool is_stream(const http::response_header<>& upstream) const override { return is_event_stream(upstream); }
  std::unique_ptr<AnswerReader> answer_reader(const ClientCall&) const override { return anthropic_answer_reader(); }
  ErrorVerdict classify(const UpstreamError& error, int64_t now_ms) const override;
  std::optional<http::request<http::empty_body>> models_request(const accounts::Account& account,
                                                                 const upstream::BaseUrl& base) const override;
  std::vector<std::string> models_of_answer(std::string_view body) const override;

 protected:
  virtual AnthropicAuth auth() const = 0;
  virtual const std::string& credential(const accounts::Account& account) const = 0;
};

}  // namespace crs::adapters
