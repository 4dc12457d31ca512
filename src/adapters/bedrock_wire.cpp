#include "adapters/bedrock_wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "adapters/anthropic_wire.hpp"
#include "aws/event_stream.hpp"
#include "aws/sigv4.hpp"
#include "core/crypto.hpp"
#include "core/model_names.hpp"
#include "http/responses.hpp"
#include "usage/json_number.hpp"
#include "usage/sse_usage_scanner.hpp"

namespace crs::adapters::bedrock {
namespace json = boost::json;
namespace od = simdjson::ondemand;
namespace {

constexpr std::string_view kVersion = "bedrock-2023-05-31";

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Dateless names the Anthropic API takes as aliases, with the dated model Bedrock knows.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"claude-sonnet-4-5", "claude-sonnet-4-5-20250929"},       {"claude-haiku-4-5", "claude-haiku-4-5-20251001"},
    {"claude-opus-4-1", "claude-opus-4-1-20250805"},           {"claude-sonnet-4-0", "claude-sonnet-4-20250514"},
    {"claude-opus-4-0", "claude-opus-4-20250514"},             {"claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219"},
    {"claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"},
};

od::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

// ---- the body ----

// A top-level member Bedrock refuses, or one whose beta is off.
bool dropped(std::string_view key, const std::vector<std::string>& betas) {
  auto beta_on = [&](std::string_view prefix) {
    return std::any_of(betas.begin(), betas.end(), [&](const std::string& b) { return b.starts_with(prefix); });
  };
  for (std::string_view refused : {"model", "stream", "metadata", "service_tier", "container", "inference_geo", "betas",
                                   "anthropic_version", "anthropic_beta"})
    if (key == refused) return true;
  if (key == "context_management") return !beta_on("context-management-");
  if (key == "output_config") return !beta_on("effort-") && !beta_on("structured-outputs-");
  return false;
}

// The text of a value (objects and arrays whole), consumed.
bool raw_of(od::value v, std::string_view& out) {
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type == od::json_type::object) {
    od::object o;
    return !v.get_object().get(o) && !o.raw_json().get(out);
  }
  if (type == od::json_type::array) {
    od::array a;
    return !v.get_array().get(a) && !a.raw_json().get(out);
  }
  out = usage::trim_json_token(v.raw_json_token());
  return true;
}

struct Edit {
  size_t at = 0, size = 0;  // in the text edited
  std::string text;
};

// A cache_control object with members besides type and ttl, without them; nullopt otherwise.
std::optional<std::string> reduced_cache_control(std::string_view raw) {
  boost::system::error_code ec;
  auto v = json::parse(raw, ec);
  if (ec || !v.is_object()) return std::nullopt;
  json::object kept;
  for (const auto& [k, value] : v.as_object())
    if (k == "type" || k == "ttl") kept[k] = value;
  if (kept.size() == v.as_object().size()) return std::nullopt;
  return json::serialize(kept);
}

// Every cache_control object under `v` that must shrink, as edits relative to `base`.
bool walk(od::value v, const char* base, std::vector<Edit>& edits) {
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type == od::json_type::array) {
    od::array a;
    if (v.get_array().get(a)) return false;
    for (auto element : a) {
      od::value child;
      if (element.get(child) || !walk(child, base, edits)) return false;
    }
    return true;
  }
  if (type != od::json_type::object) return true;
  od::object o;
  if (v.get_object().get(o)) return false;
  for (auto field : o) {
    std::string_view key;
    od::value child;
    if (field.unescaped_key().get(key) || field.value().get(child)) return false;
    if (key != "cache_control") {
      if (!walk(child, base, edits)) return false;
      continue;
    }
    std::string_view raw;
    if (!raw_of(child, raw)) return false;
    if (auto reduced = reduced_cache_control(raw))
      edits.push_back(Edit{static_cast<size_t>(raw.data() - base), raw.size(), std::move(*reduced)});
  }
  return true;
}

// The cache_control edits inside one member's value (parsed on its own: most members have none).
bool cache_control_edits(std::string_view value, std::vector<Edit>& edits) {
  if (value.find("\"cache_control\"") == std::string_view::npos) return true;
  std::string copy(value);
  copy.reserve(copy.size() + simdjson::SIMDJSON_PADDING);
  od::parser parser;  // its own: the thread's parser holds the whole body's document
  od::document doc;
  od::value root;
  if (parser.iterate(simdjson::padded_string_view(copy.data(), copy.size(), copy.capacity())).get(doc) ||
      doc.get_value().get(root))
    return false;
  return walk(root, copy.data(), edits);
}

void append_edited(std::string& out, std::string_view text, const std::vector<Edit>& edits) {
  size_t at = 0;
  for (const auto& e : edits) {
    out.append(text.substr(at, e.at - at)).append(e.text);
    at = e.at + e.size;
  }
  out.append(text.substr(at));
}

// Adaptive thinking as Bedrock takes it: enabled with all but one of max_tokens, or none when
// that is under the API's minimum budget.
std::optional<std::string> explicit_thinking(std::string_view raw, int64_t max_tokens) {
  boost::system::error_code ec;
  auto v = json::parse(raw, ec);
  if (ec || !v.is_object()) return std::string(raw);
  const auto* type = v.as_object().if_contains("type");
  if (!type || !type->is_string() || type->as_string() != "adaptive") return std::string(raw);
  if (max_tokens <= 1024) return std::nullopt;
  return fmt::format(R"({{"type":"enabled","budget_tokens":{}}})", max_tokens - 1);
}

struct Member {
  std::string_view key;
  std::string_view text;   // from the key's opening quote to the value's end
  std::string_view value;
};

// ---- errors ----

struct Mapping {
  std::string_view bedrock;
  unsigned status;
  std::string_view anthropic;
  ErrorClass what;
};

constexpr Mapping kErrors[] = {
    {"ValidationException", 400, "invalid_request_error", ErrorClass::ClientError},
    {"ServiceQuotaExceededException", 429, "rate_limit_error", ErrorClass::BurstRateLimited},
    // The client names the model, and a model the AWS account may not invoke is refused with
    // this: never held against the account, or any key holder could pause every account.
    {"AccessDeniedException", 403, "permission_error", ErrorClass::ClientError},
    {"ResourceNotFoundException", 404, "not_found_error", ErrorClass::ClientError},
    {"ModelTimeoutException", 504, "timeout_error", ErrorClass::Timeout},
    {"ModelErrorException", 500, "api_error", ErrorClass::ServerError},
    {"ModelStreamErrorException", 500, "api_error", ErrorClass::ServerError},
    {"ThrottlingException", 429, "rate_limit_error", ErrorClass::BurstRateLimited},
    {"ModelNotReadyException", 529, "overloaded_error", ErrorClass::Overloaded},
    {"InternalServerException", 500, "api_error", ErrorClass::ServerError},
    {"ServiceUnavailableException", 529, "overloaded_error", ErrorClass::Overloaded},
    {"InvalidSignatureException", 500, "api_error", ErrorClass::Unauthorized},
    {"IncompleteSignatureException", 500, "api_error", ErrorClass::Unauthorized},
    {"UnrecognizedClientException", 500, "api_error", ErrorClass::Unauthorized},
    {"ExpiredTokenException", 500, "api_error", ErrorClass::Unauthorized},
    {"MissingAuthenticationTokenException", 500, "api_error", ErrorClass::Unauthorized},
};

Mapping mapping_of(std::string_view type, unsigned status) {
  for (const auto& m : kErrors)
    if (beast::iequals(m.bedrock, type)) return m;
  if (status == 401) return {type, 500, "api_error", ErrorClass::Unauthorized};
  if (status == 403) return {type, 403, "permission_error", ErrorClass::Refused};
  if (status == 408) return {type, 504, "timeout_error", ErrorClass::Timeout};
  if (status == 429) return {type, 429, "rate_limit_error", ErrorClass::BurstRateLimited};
  if (status == 503) return {type, 529, "overloaded_error", ErrorClass::Overloaded};
  if (status >= 500 || status == 424) return {type, 500, "api_error", ErrorClass::ServerError};
  return {type, status, http_server::anthropic_error_type(static_cast<http::status>(status)), ErrorClass::ClientError};
}

// The error's name (x-amzn-ErrorType before ':', else the body's __type) and message.
std::pair<std::string, std::string> error_facts(const UpstreamError& e) {
  std::string_view header = e.headers["x-amzn-ErrorType"];
  std::string type(header.substr(0, header.find(':')));
  std::string message;
  boost::system::error_code ec;
  auto v = json::parse(e.body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    for (const char* name : {"message", "Message"})
      if (const auto* m = o.if_contains(name); m && m->is_string() && message.empty()) message = m->as_string();
    if (const auto* t = o.if_contains("__type"); type.empty() && t && t->is_string()) {
      std::string_view full = t->as_string();
      type = full.substr(full.rfind('#') == std::string_view::npos ? 0 : full.rfind('#') + 1);
    }
  }
  return {type, message};
}

// ARNs and 12-digit AWS account ids name the relay's AWS account: never shown to a client.
std::string scrubbed(std::string_view message) {
  std::string out;
  for (size_t i = 0; i < message.size();) {
    if (message.substr(i).starts_with("arn:aws")) {
      out += "arn:…";
      while (i < message.size() && !std::isspace(static_cast<unsigned char>(message[i])) && message[i] != '"' &&
             message[i] != ',')
        ++i;
      continue;
    }
    size_t digits = 0;
    while (i + digits < message.size() && std::isdigit(static_cast<unsigned char>(message[i + digits]))) ++digits;
    if (digits == 12) out += "************";
    else out.append(message.substr(i, std::max<size_t>(digits, 1)));
    i += std::max<size_t>(digits, 1);
  }
  return out;
}

// ---- the answer ----

// A mid-stream exception frame's meaning (§5.5).
Mapping exception_mapping(std::string_view type) {
  if (type == "throttlingException") return {type, 429, "rate_limit_error", ErrorClass::BurstRateLimited};
  if (type == "validationException") return {type, 400, "invalid_request_error", ErrorClass::ClientError};
  if (type == "modelTimeoutException") return {type, 504, "timeout_error", ErrorClass::Timeout};
  if (type == "serviceUnavailableException") return {type, 529, "overloaded_error", ErrorClass::Overloaded};
  return {type, 500, "api_error", ErrorClass::ServerError};
}

int64_t count_header(const http::response_header<>& h, std::string_view name) {
  std::string_view v = h[name];
  int64_t n = 0;
  if (!all_digits(v) || std::from_chars(v.data(), v.data() + v.size(), n).ec != std::errc()) return 0;
  return n;
}

int64_t count_member(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v && v->is_int64() ? std::max<int64_t>(0, v->as_int64()) : 0;
}

class Reader final : public AnswerReader {
 public:
  void upstream_head(const http::response_header<>& h) override {
    head_usage_.input_tokens = count_header(h, "x-amzn-bedrock-input-token-count");
    head_usage_.output_tokens = count_header(h, "x-amzn-bedrock-output-token-count");
    head_usage_.cache_read_input_tokens = count_header(h, "x-amzn-bedrock-cache-read-input-token-count");
    head_usage_.cache_creation_input_tokens = count_header(h, "x-amzn-bedrock-cache-write-input-token-count");
  }

  std::string_view stream_chunk(std::string_view upstream) override {
    out_.clear();
    if (verdict_) return out_;
    frames_.clear();
    bool intact = decoder_.feed(upstream, frames_);
    for (const auto& frame : frames_) {
      if (verdict_) break;
      on_frame(frame);
    }
    if (!intact && !verdict_) corrupt("The upstream's event stream is corrupt (" + decoder_.error() + ")");
    scanner_.feed(out_);
    return out_;
  }

  std::string_view stream_end() override {
    out_.clear();
    if (!verdict_ && decoder_.has_partial()) {
      corrupt("The upstream's event stream ended in the middle of a frame");
      scanner_.feed(out_);
    }
    return out_;
  }

  const ErrorVerdict* broken() const override { return verdict_ ? &*verdict_ : nullptr; }

  void whole_answer(std::string& body) override {
    whole_ = true;
    whole_usage_seen_ = read_answer_usage(body, whole_usage_, whole_model_);
    if (whole_model_.find("anthropic.") == std::string::npos) return;
    // A Bedrock id where the model's name belongs (Claude Code sizes its context by the name).
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return;
    whole_model_ = plain_model(whole_model_);
    v.as_object()["model"] = whole_model_;
    body = json::serialize(v);
  }

  AnswerFacts facts() const override {
    if (whole_) return AnswerFacts{whole_usage_seen_ ? whole_usage_ : head_usage_, whole_model_, true, 0, true};
    AnswerFacts f{scanner_.usage(), scanner_.served_model(), scanner_.final_usage_seen(),
                  scanner_.estimated_output_tokens(), scanner_.completed() && !verdict_};
    if (!f.final_usage_seen && metrics_) {  // Bedrock's own count, when the events gave none
      f.usage.input_tokens = count_member(*metrics_, "inputTokenCount");
      f.usage.output_tokens = count_member(*metrics_, "outputTokenCount");
      f.usage.cache_read_input_tokens = count_member(*metrics_, "cacheReadInputTokenCount");
      f.usage.cache_creation_input_tokens = count_member(*metrics_, "cacheWriteInputTokenCount");
      f.final_usage_seen = true;
    }
    return f;
  }

 private:
  void on_frame(const aws::Frame& frame) {
    std::string_view kind = frame.header(":message-type");
    if (kind == "exception") {
      std::string type(frame.header(":exception-type"));
      UpstreamError e;
      e.body = frame.payload;
      std::string message = error_facts(e).second;
      return fail(exception_mapping(type), scrubbed(message.empty() ? type : message));
    }
    if (kind == "error") {
      std::string message = std::string(frame.header(":error-code")) + ": " + std::string(frame.header(":error-message"));
      return corrupt(scrubbed(message));
    }
    if (kind == "event" && frame.header(":event-type") == "chunk") on_chunk(frame.payload);
  }

  // {"bytes": base64 of one Anthropic event, "p": padding} -> "event: <type>\ndata: <event>\n\n".
  void on_chunk(const std::string& payload) {
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    const auto* bytes = !ec && v.is_object() ? v.as_object().if_contains("bytes") : nullptr;
    if (!bytes || !bytes->is_string()) return corrupt("The upstream sent a chunk without an event");
    auto event = crypto::base64_decode(bytes->as_string());
    if (!event) return corrupt("The upstream sent a chunk without an event");
    auto e = json::parse(*event, ec);
    if (ec || !e.is_object()) return corrupt("The upstream sent an event that is not JSON");
    auto& o = e.as_object();
    std::string type = o.contains("type") && o["type"].is_string() ? std::string(o["type"].as_string()) : "";
    bool identifier = !type.empty() && type.size() <= 64 &&
                      std::all_of(type.begin(), type.end(), [](unsigned char c) { return std::islower(c) || c == '_'; });
    if (!identifier) return corrupt("The upstream sent an event without a proper type");
    if (type == "message_stop" && o.contains("amazon-bedrock-invocationMetrics")) {
      if (o["amazon-bedrock-invocationMetrics"].is_object()) metrics_ = o["amazon-bedrock-invocationMetrics"].as_object();
      o.erase("amazon-bedrock-invocationMetrics");
      *event = json::serialize(o);
    } else if (type == "message_start" && o.contains("message") && o["message"].is_object()) {
      auto& message = o["message"].as_object();
      if (message.contains("model") && message["model"].is_string() &&
          message["model"].as_string().find("anthropic.") != json::string::npos) {
        message["model"] = plain_model(message["model"].as_string());
        *event = json::serialize(o);
      }
    }
    out_.append("event: ").append(type).append("\ndata: ").append(*event).append("\n\n");
  }

  void corrupt(const std::string& message) { fail(Mapping{"", 500, "api_error", ErrorClass::ServerError}, message); }

  void fail(const Mapping& m, const std::string& message) {
    out_.append("event: error\ndata: ").append(http_server::anthropic_error_body(m.anthropic, message)).append("\n\n");
    std::string reason = m.bedrock.empty() ? message : "upstream stream failed: " + std::string(m.bedrock);
    verdict_ = ErrorVerdict{m.what, 0, reason};
  }

  aws::EventStreamDecoder decoder_;
  std::vector<aws::Frame> frames_;
  std::string out_;
  usage::SseUsageScanner scanner_;
  std::optional<json::object> metrics_;
  std::optional<ErrorVerdict> verdict_;
  usage::Usage head_usage_;
  bool whole_ = false;
  bool whole_usage_seen_ = false;
  usage::Usage whole_usage_;
  std::string whole_model_;
};

}  // namespace

std::string_view geo_of(std::string_view region) {
  if (region.starts_with("us-gov-")) return "us-gov";
  if (region.starts_with("us-")) return "us";
  if (region.starts_with("eu-")) return "eu";
  if (region.starts_with("ap-")) return "apac";
  return "global";
}

std::string model_id(std::string_view model, std::string_view region) {
  std::string m(model);
  if (m.ends_with("[1m]")) m.resize(m.size() - 4);
  if (m.find("anthropic.") != std::string::npos || m.starts_with("arn:")) return m;
  for (auto [alias, dated] : kAliases)
    if (m == alias) m = dated;
  bool dated = m.size() > 9 && m[m.size() - 9] == '-' && all_digits(std::string_view(m).substr(m.size() - 8));
  return std::string(geo_of(region)) + ".anthropic." + m + (dated ? "-v1:0" : "-v1");
}

std::string plain_model(std::string_view id) {
  if (id.find("anthropic.claude-") == std::string_view::npos) return std::string(id);
  return claude_model_name(id);
}

std::string invoke_path(std::string_view id, bool stream) {
  return "/model/" + aws::uri_encode(id, false) + (stream ? "/invoke-with-response-stream" : "/invoke");
}

std::vector<std::string> bedrock_betas(const http_server::Request& client) {
  std::vector<std::string> flags;
  for (const auto& f : client) {
    if (!beast::iequals(f.name_string(), "anthropic-beta")) continue;
    std::string_view v = f.value();
    for (size_t start = 0; start <= v.size();) {
      size_t comma = std::min(v.find(',', start), v.size());
      std::string_view flag = v.substr(start, comma - start);
      start = comma + 1;
      while (!flag.empty() && flag.front() == ' ') flag.remove_prefix(1);
      while (!flag.empty() && flag.back() == ' ') flag.remove_suffix(1);
      if (flag.empty() || flag.starts_with("oauth-") || flag.starts_with("claude-code-")) continue;
      if (std::find(flags.begin(), flags.end(), flag) == flags.end()) flags.emplace_back(flag);
    }
  }
  return flags;
}

std::string bedrock_body(std::string& body, const std::vector<std::string>& betas) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  od::object root;
  if (thread_parser().iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity())).get(doc) ||
      doc.get_object().get(root))
    return {};
  std::vector<Member> kept;
  int64_t max_tokens = 0;
  for (auto field : root) {
    od::raw_json_string raw_key;
    std::string_view key, value;
    od::value v;
    if (field.key().get(raw_key) || field.unescaped_key().get(key) || field.value().get(v) || !raw_of(v, value))
      return {};
    if (dropped(key, betas)) continue;
    const char* begin = raw_key.raw() - 1;  // the key's opening quote
    kept.push_back(Member{key, std::string_view(begin, static_cast<size_t>(value.data() + value.size() - begin)), value});
    if (key != "max_tokens") continue;
    std::optional<double> number = usage::json_number(v);
    if (number && *number > 0 && *number < 1e12) max_tokens = static_cast<int64_t>(*number);
  }
  std::string out = R"({"anthropic_version":")" + std::string(kVersion) + "\"";
  if (!betas.empty()) {
    json::array list;
    for (const auto& b : betas) list.emplace_back(b);
    out += R"(,"anthropic_beta":)" + json::serialize(list);
  }
  for (const auto& m : kept) {
    std::vector<Edit> edits;
    if (m.key == "thinking") {
      auto thinking = explicit_thinking(m.value, max_tokens);
      if (!thinking) continue;
      edits.push_back(Edit{static_cast<size_t>(m.value.data() - m.text.data()), m.value.size(), std::move(*thinking)});
    } else if (m.key == "messages" || m.key == "system" || m.key == "tools") {
      std::vector<Edit> inner;
      if (!cache_control_edits(m.value, inner)) return {};
      size_t offset = static_cast<size_t>(m.value.data() - m.text.data());
      for (auto& e : inner) edits.push_back(Edit{e.at + offset, e.size, std::move(e.text)});
    }
    out += ',';
    append_edited(out, m.text, edits);
  }
  out += '}';
  return out;
}

ErrorVerdict classify_error(const UpstreamError& e, int64_t) {
  auto [type, message] = error_facts(e);
  Mapping m = mapping_of(type, e.status);
  std::string reason = fmt::format("upstream answered {}", e.status);
  if (!type.empty()) reason += " " + type;
  return ErrorVerdict{m.what, 0, reason};
}

UpstreamError client_error(const UpstreamError& e) {
  auto [type, message] = error_facts(e);
  Mapping m = mapping_of(type, e.status);
  UpstreamError out{m.status, e.headers, ""};
  out.headers.erase("x-amzn-ErrorType");
  // A refused credential's message may quote the canonical request (with its session token):
  // the client is told only that the account was refused.
  bool credentials = m.what == ErrorClass::Unauthorized || ((e.status == 401 || e.status == 403) && m.bedrock != "AccessDeniedException");
  std::string text;
  if (credentials) text = "The upstream Bedrock account's credentials were refused";
  else text = message.empty() ? fmt::format("Bedrock answered HTTP {} {}", e.status, type) : scrubbed(message);
  out.body = http_server::anthropic_error_body(m.anthropic, text);
  return out;
}

std::unique_ptr<AnswerReader> answer_reader() { return std::make_unique<Reader>(); }

}  // namespace crs::adapters::bedrock
