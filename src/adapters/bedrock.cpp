// Bedrock accounts: Anthropic models on AWS Bedrock's runtime (spec/bedrock.md). Requests are
// signed with SigV4 (an access key pair, with a session token for temporary credentials) or
// carry a Bedrock API key as a bearer; the body is edited into Bedrock's form and the model
// named in the path; streamed answers arrive as AWS event-stream frames and leave as Anthropic
// SSE (bedrock_wire.hpp).
#include <chrono>

#include "adapters/bedrock_wire.hpp"
#include "adapters/builtin.hpp"
#include "aws/sigv4.hpp"

namespace crs::adapters {
namespace {

class BedrockAdapter final : public Adapter {
 public:
  std::string_view kind() const override { return accounts::kBedrock; }

  // No model list on the runtime host (GET /v1/models shows the price list for these
  // accounts), no token counting, and URL sources are not fetched by Bedrock.
  Features features() const override {
    Features f;
    f.count_tokens = false;
    f.models_list = false;
    f.url_sources = false;
    return f;
  }

  UpstreamRequest build_request(const ClientCall& call, const accounts::Account& account,
                                const upstream::BaseUrl& base) const override {
    std::string id = bedrock::model_id(call.model, account.region);
    http::request<http::empty_body> req{http::verb::post, base.path_prefix + bedrock::invoke_path(id, call.stream), 11};
    const std::string& host = base.authority;
    req.set(http::field::host, host);
    req.set(http::field::content_type, "application/json");
    req.set(call.stream ? "X-Amzn-Bedrock-Accept" : "Accept", "application/json");
    req.set(http::field::accept_encoding, "identity");
    std::string copy = call.body;
    std::string body = bedrock::bedrock_body(copy, bedrock::bedrock_betas(call.request));
    // Unreadable: never the client's bytes as they are (with fields Bedrock must not get);
    // Bedrock's 400 for an empty request goes back to the client.
    if (body.empty()) body = R"({"anthropic_version":"bedrock-2023-05-31"})";
    authorize(req, host, body, account);
    req.keep_alive(true);
    return UpstreamRequest{std::move(req), std::move(body)};
  }

  void copy_answer_headers(const http::response_header<>& upstream, http::fields& out) const override {
    out.set(http::field::content_type, is_stream(upstream) ? "text/event-stream; charset=utf-8" : "application/json");
    if (auto id = upstream["x-amzn-requestid"]; !id.empty()) out.set("request-id", id);
    if (auto after = upstream[http::field::retry_after]; !after.empty()) out.set(http::field::retry_after, after);
    out.set("X-Content-Type-Options", "nosniff");
  }

  bool is_stream(const http::response_header<>& upstream) const override {
    return upstream[http::field::content_type].starts_with("application/vnd.amazon.eventstream");
  }

  std::unique_ptr<AnswerReader> answer_reader(const ClientCall&) const override { return bedrock::answer_reader(); }

  ErrorVerdict classify(const UpstreamError& error, int64_t now_ms) const override {
    return bedrock::classify_error(error, now_ms);
  }
  UpstreamError client_error(const UpstreamError& error) const override { return bedrock::client_error(error); }

 private:
  // SigV4 over the exact bytes sent (signed at each attempt: X-Amz-Date must be fresh), or
  // the Bedrock API key as a bearer.
  static void authorize(http::request<http::empty_body>& req, const std::string& host, const std::string& body,
                        const accounts::Account& account) {
    const auto& c = account.credentials;
    if (c.aws_access_key_id.empty()) {
      req.set(http::field::authorization, "Bearer " + c.api_key);
      return;
    }
    aws::SigningInput in;
    std::string target(req.target());
    in.method = "POST";
    in.path = target;
    in.body = body;
    in.region = account.region;
    in.service = "bedrock";
    in.headers = {{"content-type", "application/json"}};
    in.host = host;
    in.now = std::chrono::system_clock::now();
    auto signature = aws::sign_v4(in, aws::Credentials{c.aws_access_key_id, c.aws_secret_access_key, c.aws_session_token});
    req.set("X-Amz-Date", signature.amz_date);
    if (!c.aws_session_token.empty()) req.set("X-Amz-Security-Token", c.aws_session_token);
    req.set(http::field::authorization, signature.authorization);
  }
};

}  // namespace

std::unique_ptr<Adapter> make_bedrock_adapter() { return std::make_unique<BedrockAdapter>(); }

}  // namespace crs::adapters
