// A fake Bedrock runtime (spec/bedrock.md §8): InvokeModel and InvokeModelWithResponseStream
// for Anthropic models, with the checks the real service makes that a relay can get wrong:
// the SigV4 signature recomputed from the raw request (or a bearer key), the clock skew, the
// body's anthropic_version and the fields it refuses, the model id. Streams are real AWS
// event-stream frames with CRCs, padded and cut at random offsets; faults are scripted per
// credential with the same behaviours as the Messages routes, plus Bedrock's own.
#include <random>

#include <fmt/format.h>

#include "aws/event_stream.hpp"
#include "aws/sigv4.hpp"
#include "core/crypto.hpp"
#include "http/responses.hpp"
#include "http/router.hpp"
#include "shared.hpp"

namespace crs::fake {
namespace {

using http_server::Exchange;
using http_server::Response;

constexpr std::string_view kErrorNamespace = ":http://internal.amazon.com/coral/com.amazon.bedrock/";

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view default_bedrock_error(int status) {
  switch (status) {
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 408: return "ModelTimeoutException";
    case 424: return "ModelErrorException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return status >= 500 ? "InternalServerException" : "ValidationException";
  }
}

Response bedrock_error(int status, std::string_view type, std::string_view message, const std::string& request_id) {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.set("x-amzn-ErrorType", std::string(type) + std::string(kErrorNamespace));
  res.set("x-amzn-RequestId", request_id);
  res.body() = json::serialize(json::object{{"message", message}});
  return res;
}

// "" when the request is authentic; else why not. A bearer key is accepted as it is.
std::string signature_problem(FakeUpstream::State& state, const Exchange& ex) {
  const auto& req = ex.request();
  std::string_view auth = req[http::field::authorization];
  if (auth.size() > 7 && beast::iequals(auth.substr(0, 7), "bearer ")) return {};
  constexpr std::string_view kScheme = "AWS4-HMAC-SHA256 Credential=";
  if (!auth.starts_with(kScheme)) return "Authorization header requires 'Credential' parameter.";
  std::string scope(auth.substr(kScheme.size(), auth.find(',') - kScheme.size()));  // AKID/date/region/bedrock/aws4_request
  std::vector<std::string> parts;
  for (size_t at = 0; at <= scope.size();) {
    size_t slash = std::min(scope.find('/', at), scope.size());
    parts.push_back(scope.substr(at, slash - at));
    at = slash + 1;
  }
  if (parts.size() != 5 || parts[3] != "bedrock") return "Credential should be scoped to correct service: 'bedrock'.";
  std::string secret;
  {
    std::lock_guard lock(state.mutex);
    auto it = state.aws_secrets.find(parts[0]);
    if (it == state.aws_secrets.end()) return "The security token included in the request is invalid.";
    secret = it->second;
  }
  std::tm tm{};
  std::string amz_date(req["x-amz-date"]);
  if (!strptime(amz_date.c_str(), "%Y%m%dT%H%M%SZ", &tm)) return "Missing or malformed X-Amz-Date.";
  auto signed_at = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (std::chrono::abs(std::chrono::system_clock::now() - signed_at) > std::chrono::minutes(5))
    return "Signature expired: " + amz_date + " is now earlier than the allowed window.";
  aws::SigningInput in;
  std::string method(req.method_string());
  in.method = method;
  in.path = ex.path();
  in.query = ex.query();
  in.body = req.body();
  in.region = parts[2];
  in.service = "bedrock";
  std::string_view host = req[http::field::host];
  in.host = host;
  in.now = signed_at;
  std::string_view signed_list = auth.substr(auth.find("SignedHeaders=") + 14);
  signed_list = signed_list.substr(0, signed_list.find(','));
  for (size_t at = 0; at <= signed_list.size();) {
    size_t semi = std::min(signed_list.find(';', at), signed_list.size());
    std::string name(signed_list.substr(at, semi - at));
    if (name != "host" && name != "x-amz-date" && name != "x-amz-security-token")
      in.headers.emplace_back(name, std::string(req[name]));
    at = semi + 1;
  }
  aws::Credentials credentials{parts[0], secret, std::string(req["x-amz-security-token"])};
  if (aws::sign_v4(in, credentials).authorization != auth)
    return "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
           "Access Key and signing method.";
  return {};
}

// What Bedrock refuses in a body (bedrock.md §3); "" if none.
std::string body_problem(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return "Malformed input request, please reformat your input and try again.";
  const auto& o = v.as_object();
  auto* version = o.if_contains("anthropic_version");
  if (!version || !version->is_string() || version->as_string() != "bedrock-2023-05-31")
    return "anthropic_version: Invalid value";
  for (const char* refused : {"model", "stream", "metadata", "service_tier", "container", "inference_geo", "betas"})
    if (o.contains(refused)) return fmt::format("{}: Extra inputs are not permitted", refused);
  if (auto* betas = o.if_contains("anthropic_beta"); betas) {
    if (!betas->is_array()) return "anthropic_beta: Input should be a valid list";
    for (const auto& b : betas->as_array())
      if (!b.is_string() || b.as_string().starts_with("oauth-") || b.as_string().starts_with("claude-code-"))
        return "invalid beta flag";
  }
  // cache_control anywhere: only type and ttl.
  std::vector<const json::value*> todo{&v};
  while (!todo.empty()) {
    const json::value* at = todo.back();
    todo.pop_back();
    if (at->is_array()) {
      for (const auto& e : at->as_array()) todo.push_back(&e);
    } else if (at->is_object()) {
      for (const auto& [k, child] : at->as_object()) {
        if (k == "cache_control" && child.is_object())
          for (const auto& [ck, cv] : child.as_object())
            if (ck != "type" && ck != "ttl") return fmt::format("cache_control.{}: Extra inputs are not permitted", std::string(ck));
        todo.push_back(&child);
      }
    }
  }
  return {};
}

// The Anthropic model inside a Bedrock id: "us.anthropic.claude-x-20250101-v1:0" -> "claude-x-20250101".
std::string plain_model(const std::string& id) {
  size_t at = id.find("anthropic.");
  std::string m = at == std::string::npos ? id : id.substr(at + 10);
  if (auto colon = m.rfind(':'); colon != std::string::npos) m.resize(colon);
  if (auto v = m.rfind("-v"); v != std::string::npos && v + 2 < m.size() && std::isdigit(static_cast<unsigned char>(m[v + 2])))
    m.resize(v);
  return m;
}

// Real Bedrock ids name the model with "anthropic." (with or without a geo prefix); newer
// models cannot be called by their base id.
std::optional<Response> model_problem(const std::string& id, const std::string& request_id) {
  if (id.find("anthropic.") == std::string::npos && !id.starts_with("arn:aws:bedrock:"))
    return bedrock_error(404, "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier.", request_id);
  if (id.starts_with("anthropic.claude-sonnet-4") || id.starts_with("anthropic.claude-opus-4") ||
      id.starts_with("anthropic.claude-haiku-4"))
    return bedrock_error(400, "ValidationException",
                         "Invocation of model ID " + id + " with on-demand throughput isn't supported. Retry your request "
                         "with the ID or ARN of an inference profile that contains this model.", request_id);
  return std::nullopt;
}

std::string event_json(const std::string& sse_event) {
  size_t at = sse_event.find("data: ");
  std::string data = sse_event.substr(at + 6);
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  return data;
}

// A chunk frame carrying one Anthropic event, padded as the real service pads; message_stop
// gains Bedrock's invocation metrics.
std::string chunk_frame(std::string event, const Usage& u, std::mt19937& rng) {
  if (event.find("\"message_stop\"") != std::string::npos) {
    auto e = json::parse(event).as_object();
    e["amazon-bedrock-invocationMetrics"] = json::object{{"inputTokenCount", u.input},
                                                        {"outputTokenCount", u.output},
                                                        {"invocationLatency", 412},
                                                        {"firstByteLatency", 98},
                                                        {"cacheReadInputTokenCount", u.cache_read},
                                                        {"cacheWriteInputTokenCount", u.cache_create}};
    event = json::serialize(e);
  }
  static const std::string kPad = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  json::object payload{{"bytes", crypto::base64(event)}, {"p", kPad.substr(0, rng() % kPad.size())}};
  return aws::encode_frame({{":event-type", aws::HeaderType::kString, "chunk"},
                            {":content-type", aws::HeaderType::kString, "application/json"},
                            {":message-type", aws::HeaderType::kString, "event"}},
                           json::serialize(payload));
}

std::string exception_frame(const std::string& type) {
  json::object payload{{"message", "Too many tokens, please wait before trying again."}};
  if (type != "throttlingException") payload["message"] = "The model stream failed (" + type + ").";
  return aws::encode_frame({{":exception-type", aws::HeaderType::kString, type},
                            {":content-type", aws::HeaderType::kString, "application/json"},
                            {":message-type", aws::HeaderType::kString, "exception"}},
                           json::serialize(payload));
}

// Writes `bytes` in one to three pieces cut at random offsets (inside the prelude, the
// headers or the payload alike).
Task<beast::error_code> write_cut(Exchange& ex, std::string bytes, std::mt19937& rng) {
  size_t at = 0;
  while (at < bytes.size()) {
    size_t piece = std::max<size_t>(1, rng() % (bytes.size() - at + 1));
    if (rng() % 3 == 0) piece = bytes.size() - at;
    auto ec = co_await ex.write_chunk(std::string_view(bytes).substr(at, piece));
    if (ec) co_return ec;
    at += piece;
  }
  co_return beast::error_code{};
}

std::string faulty_frame(std::string frame, const Behavior& b, int count) {
  if (count == b.corrupt_crc_at_event) frame[frame.size() / 2] ^= 0x20;  // inside the payload: the message CRC fails
  if (count == b.truncate_after_events) frame.resize(frame.size() / 2);
  return frame;
}

Task<void> stream_frames(std::shared_ptr<FakeUpstream::State> state, Exchange& ex, int64_t seq, const Behavior& b,
                         const std::vector<std::string>& events, const Usage& usage) {
  std::mt19937 rng(static_cast<uint32_t>(seq));
  int count = 0;
  for (const auto& event : events) {
    if (count == b.reset_after_events) {
      reset_connection(ex);
      state->finish_record(seq, "reset", 200, nullptr, count);
      co_return;
    }
    if (count == b.exception_after_events) {
      co_await ex.write_chunk(exception_frame(b.exception_type));
      co_await ex.end_stream();
      state->finish_record(seq, "error_event", 200, nullptr, count);
      co_return;
    }
    if (count > 0) co_await sleep_ms(b.drip_ms);
    std::string frame = faulty_frame(chunk_frame(event_json(event), usage, rng), b, count);
    if (co_await write_cut(ex, frame, rng)) {
      state->finish_record(seq, "client_gone", 200, nullptr, count);
      co_return;
    }
    if (count == b.corrupt_crc_at_event || count == b.truncate_after_events) {
      co_await ex.end_stream();
      state->finish_record(seq, count == b.corrupt_crc_at_event ? "corrupt" : "truncated", 200, nullptr, count);
      co_return;
    }
    ++count;
  }
  co_await ex.end_stream();
  state->finish_record(seq, "complete", 200, &usage, count);
}

Response whole_answer(const std::string& id, const std::string& model, const Behavior& b, const Usage& u,
                      const std::string& request_id) {
  Response res = http_server::json_response(http::status::ok, message_json(id, model, b, u));
  res.set("x-amzn-RequestId", request_id);
  res.set("x-amzn-bedrock-input-token-count", std::to_string(u.input));
  res.set("x-amzn-bedrock-output-token-count", std::to_string(u.output));
  res.set("x-amzn-bedrock-cache-read-input-token-count", std::to_string(u.cache_read));
  res.set("x-amzn-bedrock-cache-write-input-token-count", std::to_string(u.cache_create));
  res.set("x-amzn-bedrock-invocation-latency", "412");
  return res;
}

// The request's fate before any answer: its authentication, body and model, then the script.
std::optional<Response> refusal(FakeUpstream::State& state, const Exchange& ex, const std::string& model_id,
                                const Behavior& b, const std::string& request_id) {
  if (auto problem = signature_problem(state, ex); !problem.empty()) {
    bool unknown_key = problem.starts_with("The security token");
    return bedrock_error(403, unknown_key ? "UnrecognizedClientException" : "InvalidSignatureException", problem,
                         request_id);
  }
  if (auto problem = body_problem(ex.request().body()); !problem.empty())
    return bedrock_error(400, "ValidationException", problem, request_id);
  if (auto problem = model_problem(model_id, request_id)) return problem;
  if (b.status < 200 || b.status > 299) {
    std::string type = b.bedrock_error.empty() ? std::string(default_bedrock_error(b.status)) : b.bedrock_error;
    std::string message = b.error_message.empty() ? "Fake Bedrock error " + std::to_string(b.status) : b.error_message;
    return bedrock_error(b.status, type, message, request_id);
  }
  return std::nullopt;
}

json::object bedrock_record(const Exchange& ex, const std::string& credential, bool stream, const std::string& model_id,
                            bool signature_ok) {
  auto record = request_record(ex, credential, stream);
  record["modelId"] = model_id;
  record["signatureOk"] = signature_ok;
  return record;
}

Task<void> handle_invoke(std::shared_ptr<FakeUpstream::State> state, Exchange& ex, bool stream) {
  FakeUpstream::State::InFlight in_flight(*state);
  std::string credential = credential_of(ex.request());
  FakeUpstream::State::CredentialInFlight credential_in_flight(*state, credential);
  std::string model_id = percent_decoded(ex.params().at("id"));
  bool signature_ok = signature_problem(*state, ex).empty();
  int64_t seq = state->begin_record(bedrock_record(ex, credential, stream, model_id, signature_ok));
  std::string request_id = fmt::format("fake-bedrock-{:012}", seq);
  auto chosen = co_await chosen_behavior(state, ex, credential, seq);
  if (!chosen) co_return;
  Behavior b = std::move(*chosen);
  if (auto refused = refusal(*state, ex, model_id, b, request_id)) {
    int status = refused->result_int();
    co_await ex.send(std::move(*refused));
    state->finish_record(seq, "error_status", status, nullptr, 0);
    co_return;
  }
  Usage usage = usage_of(b, ex.request().body().size());
  std::string model = b.served_model.empty() ? plain_model(model_id) : b.served_model;
  std::string id = fmt::format("msg_bdrk_{:016}", seq);
  if (!stream) {
    co_await ex.send(whole_answer(id, model, b, usage, request_id));
    state->finish_record(seq, "complete", 200, &usage, 0);
    co_return;
  }
  http::response<http::empty_body> head{http::status::ok, 11};
  head.set(http::field::content_type, "application/vnd.amazon.eventstream");
  head.set("X-Amzn-Bedrock-Content-Type", "application/json");
  head.set("x-amzn-RequestId", request_id);
  if (co_await ex.start_stream(std::move(head))) {
    state->finish_record(seq, "client_gone", 200, nullptr, 0);
    co_return;
  }
  auto events = stream_events(id, model, b, usage);
  co_await stream_frames(state, ex, seq, b, events, usage);
}

}  // namespace

void register_bedrock_routes(http_server::Router& router, std::shared_ptr<FakeUpstream::State> state) {
  auto s = std::move(state);
  router.add(http::verb::post, "/model/:id/invoke", [s](Exchange& ex) { return handle_invoke(s, ex, false); });
  router.add(http::verb::post, "/model/:id/invoke-with-response-stream",
             [s](Exchange& ex) { return handle_invoke(s, ex, true); });
  // {"accessKeyId": "...", "secretAccessKey": "..."}: a key pair SigV4 requests may be signed with.
  router.add(http::verb::post, "/_fake/aws-credentials", [s](Exchange& ex) {
    boost::system::error_code ec;
    auto v = json::parse(ex.request().body(), ec);
    if (ec || !v.is_object() || !v.as_object().contains("accessKeyId") || !v.as_object().contains("secretAccessKey"))
      return ex.send(http_server::json_response(http::status::bad_request, R"({"error":"accessKeyId and secretAccessKey"})"));
    {
      std::lock_guard lock(s->mutex);
      s->aws_secrets[std::string(v.as_object().at("accessKeyId").as_string())] =
          std::string(v.as_object().at("secretAccessKey").as_string());
    }
    return ex.send(http_server::json_response(http::status::ok, R"({"ok":true})"));
  });
}

}  // namespace crs::fake
