// The adapter seam: a throw-away upstream kind, defined and registered here in the test binary
// (not in the product), serves relayed requests without any change to src/relay. The relay runs
// in this process (app::serve) so that it sees the registration; everything else is real: the
// embedded redis-server, the CLI, the fake upstream, sockets.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include <boost/json.hpp>

#include "adapters/anthropic_errors.hpp"
#include "adapters/anthropic_wire.hpp"
#include "app/serve.hpp"
#include "support/support.hpp"

namespace crs {
namespace {
using namespace crs::test;
namespace json = boost::json;

constexpr std::string_view kKind = "test-relabel";
constexpr std::string_view kUpstreamModel = "claude-sonnet-4-5-20250929";

// Passes the Anthropic answer through, and marks a stream with an SSE comment first (clients
// skip comments): proof that the answer went through this kind's reader.
class MarkingReader final : public adapters::AnswerReader {
 public:
  std::string_view stream_chunk(std::string_view upstream) override {
    inner_->stream_chunk(upstream);
    if (!first_) return upstream;
    first_ = false;
    out_ = ": relayed by test-relabel\n\n";
    out_.append(upstream);
    return out_;
  }
  void whole_answer(std::string& body) override { inner_->whole_answer(body); }
  adapters::AnswerFacts facts() const override { return inner_->facts(); }

 private:
  std::unique_ptr<adapters::AnswerReader> inner_ = adapters::anthropic_answer_reader();
  std::string out_;
  bool first_ = true;
};

// Its own model name ("seam-model", spliced into the body as the upstream's), an answer header
// of its own, and no count_tokens and no images.
class RelabelAdapter final : public adapters::Adapter {
 public:
  std::string_view kind() const override { return kKind; }
  adapters::Features features() const override {
    adapters::Features f;
    f.count_tokens = false;
    f.images = false;
    return f;
  }
  adapters::UpstreamRequest build_request(const adapters::ClientCall& call, const accounts::Account& account,
                                          const upstream::BaseUrl& base) const override {
    adapters::UpstreamRequest out{adapters::build_anthropic_request(call.request, "/v1/messages", call.query,
                                                                    adapters::AnthropicAuth::ApiKey,
                                                                    account.credentials.api_key, base),
                                  std::nullopt};
    std::string_view name = "\"seam-model\"";
    if (auto at = call.body.find(name); at != std::string::npos) {
      out.body = call.body;
      out.body->replace(at, name.size(), "\"" + std::string(kUpstreamModel) + "\"");
    }
    return out;
  }
  void copy_answer_headers(const http::response_header<>& upstream, http::fields& out) const override {
    adapters::copy_anthropic_answer_headers(upstream, out);
    out.set("x-test-kind", kKind);
  }
  bool is_stream(const http::response_header<>& upstream) const override {
    return adapters::is_event_stream(upstream);
  }
  std::unique_ptr<adapters::AnswerReader> answer_reader(const adapters::ClientCall&) const override {
    return std::make_unique<MarkingReader>();
  }
  adapters::ErrorVerdict classify(const adapters::UpstreamError& e, int64_t now_ms) const override {
    return adapters::classify_anthropic_error(e, now_ms);
  }
};

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  return ec ? json::value() : v;
}

class AdapterSeamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake.start());
    adapters::register_adapter(std::make_unique<RelabelAdapter>());
    env = {"PORT=" + std::to_string(port),
           "HOST=127.0.0.1",
           "WORKERS=1",
           "DATA_DIR=" + dir.file("data"),
           "REDIS_EMBEDDED_PORT=" + std::to_string(redis_port),
           "PRICING_FILE=" + source_dir() + "/config/pricing.json",
           "LOG_LEVEL=warn"};
    config::LoadOptions options;
    for (const auto& kv : env) options.environment[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    options.default_config_path = dir.file("absent.toml");
    options.env_file = dir.file("absent.env");
    auto loaded = config::load(options);
    ASSERT_TRUE(loaded.ok());
    server = std::thread([this, loaded = std::move(loaded), options]() mutable {
      exit_code = app::serve(std::move(loaded), options);
    });
    ASSERT_TRUE(wait_until([&] { return http_get(port, "/health").status == 200; }, 20s));
  }
  void TearDown() override {
    if (!server.joinable()) return;
    std::raise(SIGTERM);  // serve()'s signal set takes it
    server.join();
    EXPECT_EQ(exit_code, 0);
  }

  CommandResult cli(std::vector<std::string> args) {
    args.insert(args.begin(), crs_binary());
    return run_command(args, env, dir.path());
  }
  std::string redis(const std::vector<std::string>& args) {
    std::string secrets = read_file(dir.file("data/secrets.env"));
    auto at = secrets.find("REDIS_EMBEDDED_PASSWORD=") + 24;
    std::vector<std::string> argv{"redis-cli", "--no-auth-warning", "-p", std::to_string(redis_port), "-a",
                                  secrets.substr(at, secrets.find('\n', at) - at)};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
  HttpResponse post(const std::string& path, const std::string& body) {
    return http_request(port, "POST", path, body, {{"x-api-key", key}, {"content-type", "application/json"}});
  }
  size_t upstream_requests() { return parse(fake.requests_json()).as_object()["requests"].as_array().size(); }

  TempDir dir;
  FakeUpstreamProcess fake{dir};
  int port = free_port();
  int redis_port = free_port();
  std::vector<std::string> env;
  std::thread server;
  int exit_code = -1;
  std::string key;
};

std::string message(const std::string& model, bool stream, const std::string& content = R"("hello")") {
  return R"({"model":")" + model + R"(","max_tokens":50,"stream":)" + (stream ? "true" : "false") +
         R"(,"messages":[{"role":"user","content":)" + content + "}]}";
}

TEST_F(AdapterSeamTest, AKindRegisteredOutsideTheRelayServesMetersAndRefuses) {
  auto created = cli({"keys", "create", "--name", "seam", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  key = std::string(parse(created.out).as_object()["key"].as_string());
  std::string key_id(parse(created.out).as_object()["id"].as_string());
  auto added = cli({"accounts", "add", "--type", "claude-console", "--name", "seam", "--base-url", fake.url(),
                    "--api-key", "sk-ant-api03-seam-account", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  std::string account_id(parse(added.out).as_object()["id"].as_string());
  // The account becomes one of the throw-away kind; the relay reloads it on the announcement.
  ASSERT_EQ(redis({"HSET", "crs:account:" + account_id, "type", std::string(kKind)}), "0");
  redis({"PUBLISH", "crs:invalidate", "account:" + account_id});
  ASSERT_TRUE(wait_until([&] { return post("/v1/messages", message("seam-model", false)).header("x-test-kind") == kKind; }, 10s));

  // A whole answer: the body went up with the model spliced in, the answer came back marked.
  ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/reset").status, 200);
  auto whole = post("/v1/messages", message("seam-model", false));
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(whole.header("x-test-kind"), kKind);
  auto sent = parse(fake.requests_json()).as_object()["requests"].as_array();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(json::serialize(sent[0]).find(kUpstreamModel), std::string::npos) << json::serialize(sent[0]);
  EXPECT_EQ(json::serialize(sent[0]).find("seam-model"), std::string::npos);

  // A stream, through the kind's reader.
  auto stream = post("/v1/messages", message("seam-model", true));
  ASSERT_EQ(stream.status, 200);
  EXPECT_TRUE(stream.body.starts_with(": relayed by test-relabel\n\n")) << stream.body.substr(0, 200);
  EXPECT_NE(stream.body.find("event: message_stop"), std::string::npos);

  // Metered like any other kind: the key's counters hold the tokens the fake upstream reported.
  EXPECT_TRUE(wait_until([&] { return redis({"HGET", "limit:" + key_id, "totalTokens"}) != ""; }, 5s));
  EXPECT_GT(std::stoll(redis({"HGET", "limit:" + key_id, "totalTokens"})), 0);

  // What the kind cannot do is refused before anything is sent.
  size_t before = upstream_requests();
  auto count = post("/v1/messages/count_tokens", R"({"model":"seam-model","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(count.status, 400) << count.body;
  EXPECT_NE(count.body.find("count_tokens"), std::string::npos) << count.body;
  std::string image = R"([{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}])";
  auto with_image = post("/v1/messages", message("seam-model", false, image));
  EXPECT_EQ(with_image.status, 400) << with_image.body;
  EXPECT_NE(with_image.body.find("images"), std::string::npos) << with_image.body;
  EXPECT_EQ(upstream_requests(), before);
  // Text that merely mentions images is not an image block.
  EXPECT_EQ(post("/v1/messages", message("seam-model", false, R"("type image here")")).status, 200);

  // With a Console account beside it, what this kind cannot do goes there instead.
  auto console = cli({"accounts", "add", "--type", "claude-console", "--name", "console", "--base-url", fake.url(),
                      "--api-key", "sk-ant-api03-console-account", "--priority", "90", "--json"});
  ASSERT_EQ(console.exit_code, 0) << console.err;
  EXPECT_TRUE(wait_until([&] { return post("/v1/messages", message("seam-model", false, image)).status != 400; }, 5s));
  auto counted = post("/v1/messages/count_tokens", R"({"model":"claude-sonnet-4-5-20250929","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(counted.status, 200) << counted.body;
  EXPECT_EQ(counted.header("x-test-kind"), "");
}

}  // namespace
}  // namespace crs
