#pragma once
// One upstream kind (Claude Console, Claude OAuth; later Bedrock, OpenAI-compatible) behind one
// interface: the relay calls it without knowing the kind. An adapter is stateless and shared by
// every I/O thread; what one request needs (an answer being read) it makes per request.
//
// Adding a kind: a file under src/adapters/ that implements Adapter, one line in builtin.cpp
// that registers it, and its tests (docs/architecture.md walks through an example).
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "accounts/account.hpp"
#include "accounts/account_registry.hpp"
#include "adapters/error_class.hpp"
#include "config/config.hpp"
#include "core/net.hpp"
#include "core/result.hpp"
#include "http/exchange.hpp"
#include "store/redis_client.hpp"
#include "upstream/endpoint.hpp"
#include "usage/usage.hpp"

namespace crs::adapters {

// What the client asked the relay to do.
enum class Operation { Messages, CountTokens };

// What an upstream kind can do. A request that needs what an account's kind lacks is not sent
// to that account (`missing_feature`).
struct Features {
  bool streaming = true;
  bool count_tokens = true;
  bool models_list = true;  // answers GET /v1/models
  bool images = true;
  bool tools = true;
  bool cache_control = true;
  bool url_sources = true;  // images and documents given by URL, fetched by the upstream

  bool complete() const {
    return streaming && count_tokens && models_list && images && tools && cache_control && url_sources;
  }
  // Lacks something only the request's content can ask for (its body must be read to know).
  bool lacks_content() const { return !(images && tools && cache_control && url_sources); }
};

// What one request needs of the upstream (request_needs.hpp reads the content parts).
struct RequestNeeds {
  Operation op = Operation::Messages;
  bool stream = false;
  bool images = false;
  bool tools = false;
  bool cache_control = false;
  bool url_sources = false;
};

// The name of the first feature `needs` asks for that `features` lacks; "" if none.
std::string_view missing_feature(const Features& features, const RequestNeeds& needs);

// The client's request as an adapter sees it: the same for every account tried.
struct ClientCall {
  const http_server::Request& request;  // the client's method and headers
  std::string_view query;
  Operation op = Operation::Messages;
  std::string_view model;
  bool stream = false;
  const std::string& body;  // the client's JSON
};

// What goes upstream. An adapter that must change the body (a mapped model, a field the
// upstream rejects) splices its edits into a copy of the client's body, never re-serialising
// it; one that changes nothing leaves `body` empty and the client's body is sent.
struct UpstreamRequest {
  http::request<http::empty_body> head;
  std::optional<std::string> body;
};

// Where an account's requests go: parsed once per I/O thread (see `Adapter::endpoint`).
struct Endpoint {
  Result<upstream::BaseUrl> base;
  Result<upstream::Proxy> proxy;
  std::string pool_key;  // upstream::pool_key of the two; "" if either is unusable
};

// What passed through, read from an answer as it went to the client.
struct AnswerFacts {
  usage::Usage usage;
  std::string served_model;             // "" if the answer did not say
  bool final_usage_seen = false;        // the final count arrived (streams)
  int64_t estimated_output_tokens = 0;  // from the content that passed (streams)
  bool completed = false;               // the answer ended properly
};

// One answer on its way to the client: turned into the client's format (for the Anthropic
// kinds, passed through unchanged) and its usage read as it passes.
class AnswerReader {
 public:
  virtual ~AnswerReader() = default;
  // The answer's head, before its body (a kind that reports usage in headers reads it here).
  virtual void upstream_head(const http::response_header<>&) {}
  // A streamed answer: one upstream chunk in, the bytes for the client out (valid until the
  // next call).
  virtual std::string_view stream_chunk(std::string_view upstream) = 0;
  // The upstream ended its streamed answer (not a lost connection): what is left to send, e.g.
  // the end of a translated stream or an error event for a frame cut in half. The reader may
  // find the stream broken here.
  virtual std::string_view stream_end() { return {}; }
  // Set once the upstream broke its stream in a way the reader found (a failed checksum, an
  // exception frame): the reader's output already ends with an error event, nothing more is
  // read, and the verdict says what it means for the account.
  virtual const ErrorVerdict* broken() const { return nullptr; }
  // A whole answer, made ready for the client in place.
  virtual void whole_answer(std::string& body) = 0;
  virtual AnswerFacts facts() const = 0;
};

// What an adapter may use while preparing an account (e.g. refreshing its token).
struct AdapterContext {
  const config::Config& config;
  store::RedisClient& redis;  // this I/O thread's
  accounts::AccountRegistry& accounts;
  asio::ssl::context& tls;
};

class Adapter {
 public:
  virtual ~Adapter() = default;

  // The account type this adapter serves ("claude-console", ...).
  virtual std::string_view kind() const = 0;
  // The account's own model list (GET /v1/models of the relay), when the kind has one: the
  // request to send, and the model ids of its answer.
  virtual std::optional<http::request<http::empty_body>> models_request(const accounts::Account&,
                                                                         const upstream::BaseUrl&) const {
    return std::nullopt;
  }
  virtual std::vector<std::string> models_of_answer(std::string_view) const { return {}; }
  virtual Features features() const { return {}; }

  // Whether `prepare` has work to do for this call; false (the default) skips it.
  virtual bool needs_prepare(const config::Config&, const accounts::Account&, bool /*refresh*/) const {
    return false;
  }
  // Makes the account ready for a call: e.g. an OAuth token near expiry (or after a 401, when
  // `refresh`) is refreshed first. An error means this account cannot be used now.
  virtual Task<Result<accounts::Account>> prepare(AdapterContext& context, accounts::Account account,
                                                   bool refresh) const;
  // Whether an Unauthorized answer may pass after `prepare(..., refresh = true)`.
  virtual bool refreshes_credentials() const { return false; }

  // Where the account's requests go. The default parses its base URL and proxy (cached per
  // I/O thread, keyed by their text, so an edited account is parsed anew); a request shares
  // the cached result.
  virtual std::shared_ptr<const Endpoint> endpoint(const accounts::Account& account) const;

  // The upstream request: path, the account's credential, the headers allowed through, and
  // the body's edits if any. Content-Length is set by the relay.
  virtual UpstreamRequest build_request(const ClientCall& call, const accounts::Account& account,
                                        const upstream::BaseUrl& base) const = 0;

  // Copies the upstream answer's headers a client may see onto `out`.
  virtual void copy_answer_headers(const http::response_header<>& upstream, http::fields& out) const = 0;
  // Whether an answer with these headers is a stream.
  virtual bool is_stream(const http::response_header<>& upstream) const = 0;
  // Reads (and, for a translating kind, converts) one answer. `call` outlives the reader.
  virtual std::unique_ptr<AnswerReader> answer_reader(const ClientCall& call) const = 0;

  // What a non-2xx answer says about the account (error_class.hpp).
  virtual ErrorVerdict classify(const UpstreamError& error, int64_t now_ms) const = 0;
  // A non-2xx answer as the client gets it: status and body in the Anthropic shape (the
  // Anthropic kinds' answers already are; answers.cpp wraps anything else).
  virtual UpstreamError client_error(const UpstreamError& error) const { return error; }
};

// The registry of kinds. Built-in kinds are registered on first use; `register_adapter` adds
// one (or replaces one of the same kind) and must be called before serving starts.
void register_adapter(std::unique_ptr<Adapter> adapter);
const Adapter* find_adapter(std::string_view kind);

}  // namespace crs::adapters
