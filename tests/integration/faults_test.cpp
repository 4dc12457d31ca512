// Fault injection against the real binary (issue 22): upstreams that cut an event in half,
// send one event of 10 MB or never end their stream; clients that dribble their body or stop
// reading; a full disk under the export and log directories. Each time the client gets a clean
// answer in its own shape, the usage is metered, and the relay keeps relaying.
#include <signal.h>
#include <sys/mount.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/json.hpp"
#include "support/support.hpp"

namespace crs::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kModel = "claude-sonnet-4-5-20250929";
const std::string kAccountKey = "sk-ant-api03-faults-account-0000";

std::string message_body(bool stream) {
  return R"({"model":")" + kModel + R"(","max_tokens":100,"stream":)" + (stream ? "true" : "false") +
         R"(,"messages":[{"role":"user","content":"hi"}]})";
}

// The events of an SSE body: each one's type and its data parsed ("" type when it is not JSON).
struct Event {
  std::string name;
  json::value data;
  bool json_ok = false;
};
std::vector<Event> events_of(const std::string& body) {
  std::vector<Event> out;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find("\n\n", at);
    std::string_view text(body.data() + at, (end == std::string::npos ? body.size() : end) - at);
    at = end == std::string::npos ? body.size() : end + 2;
    Event e;
    for (size_t line = 0; line < text.size();) {
      size_t eol = text.find('\n', line);
      std::string_view l = text.substr(line, eol == std::string_view::npos ? std::string_view::npos : eol - line);
      if (l.starts_with("event: ")) e.name = std::string(l.substr(7));
      if (l.starts_with("data: ")) {
        boost::system::error_code ec;
        e.data = json::parse(l.substr(6), ec);
        e.json_ok = !ec;
      }
      line = eol == std::string_view::npos ? text.size() : eol + 1;
    }
    if (!e.name.empty()) out.push_back(std::move(e));
  }
  return out;
}

int64_t status_kb(int pid, const std::string& field) {
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find(field + ":");
  return at == std::string::npos ? -1 : std::atoll(status.c_str() + at + field.size() + 1);
}

// Starts VmHWM (the peak RSS) afresh from the current RSS (Linux: clear_refs 5).
void reset_peak(int pid) { std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5"; }

class FaultsTest : public ::testing::Test {
 protected:
  void start(const std::string& config_toml = "") {
    ASSERT_TRUE(fake.start());
    if (!config_toml.empty()) dir.write("config/config.toml", config_toml);
    relay = std::make_unique<RelayProcess>(dir, std::vector<std::string>{});
    ASSERT_TRUE(relay->start()) << relay->log();
    auto created = relay->cli({"keys", "create", "--name", "faults", "--json"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    auto o = parse_object(created.out);
    key = std::string(o["key"].as_string());
    key_id = std::string(o["id"].as_string());
    auto r = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "a", "--base-url", fake.url(),
                         "--api-key", kAccountKey, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    account_id = std::string(parse_object(r.out)["id"].as_string());
    ASSERT_TRUE(wait_until([&] { return post(message_body(false)).status == 200; }, 5s));
    ASSERT_EQ(http_request(fake.port(), "POST", "/_fake/reset").status, 200);
    ASSERT_TRUE(wait_until([&] { return records() == 1; }, 5s));
  }
  HttpResponse post(const std::string& body, std::chrono::milliseconds timeout = 30s) {
    return http_request(relay->port(), "POST", "/v1/messages", body,
                        {{"x-api-key", key}, {"content-type", "application/json"}}, timeout);
  }
  std::string redis(const std::vector<std::string>& args) {
    RedisServer cli(dir.file("unused"), relay->embedded_redis_port(), relay->embedded_redis_password());
    return cli.cli(args);
  }
  int records() {
    std::string n = redis({"LLEN", "usage:records:" + key_id});
    return n.empty() ? 0 : std::stoi(n);
  }
  json::object last_record() { return parse_object(redis({"LINDEX", "usage:records:" + key_id, "0"})); }
  int64_t upstream_in_flight() { return parse_object(fake.stats_json())["inFlight"].as_int64(); }
  // The admin API with the login generated at the first start (data/init.json).
  HttpResponse admin(const std::string& method, const std::string& target, const std::string& body) {
    if (admin_token.empty()) {
      auto init = parse_object(read_file(dir.file("data/init.json")));
      json::object login{{"username", init["adminUsername"]}, {"password", init["adminPassword"]}};
      auto r = http_request(relay->port(), "POST", "/web/auth/login", json::serialize(login));
      admin_token = std::string(parse_object(r.body)["token"].as_string());
    }
    return http_request(relay->port(), method, target, body,
                        {{"authorization", "Bearer " + admin_token}, {"content-type", "application/json"}});
  }

  TempDir dir;
  FakeUpstreamProcess fake{dir};
  std::unique_ptr<RelayProcess> relay;
  std::string key, key_id, account_id, admin_token;
};

// A burst of large bodies leaves buffers kept on the I/O threads for the next bodies (up to 8
// of up to 4 MB each); once nothing is in flight the relay gives them back (app/idle_trim,
// every 10 s), and its RSS falls back.
TEST_F(FaultsTest, BodyBuffersKeptAfterABurstAreGivenBackWhenIdle) {
  start();
  int pid = relay->process().pid();
  if (read_file("/proc/" + std::to_string(pid) + "/maps").find("libjemalloc") == std::string::npos)
    GTEST_SKIP() << "without jemalloc (sanitizer builds) freed memory is not given back to the system promptly";
  // Eight streams at once, each body read and held while the upstream waits: eight buffers.
  ASSERT_TRUE(fake.script(kAccountKey, R"({"firstEventDelayMs":800,"deltas":2})"));
  std::string big = R"({"model":"claude-sonnet-4-5-20250929","max_tokens":50,"stream":true,)"
                    R"("messages":[{"role":"user","content":")" + std::string(3 << 20, 'x') + R"("}]})";
  int64_t before_kb = status_kb(pid, "VmRSS");
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] { ok += post(big).status == 200 ? 1 : 0; });
  for (auto& c : clients) c.join();
  ASSERT_EQ(ok, 8);
  int64_t after_kb = status_kb(pid, "VmRSS");
  ASSERT_GT(after_kb - before_kb, 16 * 1024) << "the burst's buffers are kept for the next bodies";
  EXPECT_TRUE(wait_until([&] { return status_kb(pid, "VmRSS") < after_kb - 16 * 1024; }, 40s))
      << "RSS " << before_kb << " KB before, " << after_kb << " KB after the burst, now "
      << status_kb(pid, "VmRSS") << " KB";
}

// Half an event, then the upstream resets: the client gets every whole event, then one error
// event, each of them JSON (never the broken half its parser would choke on).
TEST_F(FaultsTest, HalfAnEventThenAResetEndsWithWholeEventsAndOneError) {
  start();
  ASSERT_TRUE(fake.script(kAccountKey, R"({"resetInEvent":4,"chunkBytes":7,"dripMs":50,"text":"partial"})"));
  auto r = post(message_body(true));
  ASSERT_EQ(r.status, 200);
  auto events = events_of(r.body);
  ASSERT_GE(events.size(), 4u) << r.body;
  for (const auto& e : events) EXPECT_TRUE(e.json_ok) << e.name << " in " << r.body;
  EXPECT_EQ(events.back().name, "error");
  EXPECT_EQ(events.back().data.at("error").at("type").as_string(), "api_error");
  EXPECT_EQ(std::count_if(events.begin(), events.end(), [](const Event& e) { return e.name == "error"; }), 1);
  EXPECT_TRUE(r.body.ends_with("\n\n")) << r.body;
  ASSERT_TRUE(wait_until([&] { return records() == 2; }, 5s));
  EXPECT_TRUE(last_record()["partial"].as_bool());
}

// One event of 10 MB passes whole, streamed and not, and is metered; the relay does not hold it
// (its peak memory grows by far less than the event).
TEST_F(FaultsTest, ATenMegabyteEventPassesWholeAndTheRelayDoesNotHoldIt) {
  start();
  constexpr int kBytes = 10 * 1000 * 1000;
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":1,"text":"x","textRepeat":)" + std::to_string(kBytes) + "}"));
  int pid = relay->process().pid();
  reset_peak(pid);
  int64_t before_kb = status_kb(pid, "VmRSS");
  auto streamed = post(message_body(true), 60s);
  ASSERT_EQ(streamed.status, 200);
  int64_t peak_growth_kb = status_kb(pid, "VmHWM") - before_kb;
  auto events = events_of(streamed.body);
  auto delta = std::find_if(events.begin(), events.end(), [](const Event& e) { return e.name == "content_block_delta"; });
  ASSERT_NE(delta, events.end());
  ASSERT_TRUE(delta->json_ok);
  EXPECT_EQ(delta->data.at("delta").at("text").as_string().size(), static_cast<size_t>(kBytes) + 2);  // "x…x0 "
  EXPECT_EQ(events.back().name, "message_stop");
  EXPECT_LT(peak_growth_kb, 8 * 1024) << "the relay held the event (peak grew " << peak_growth_kb << " KB)";
  ASSERT_TRUE(wait_until([&] { return records() == 2; }, 5s));
  EXPECT_FALSE(last_record()["partial"].as_bool());

  auto whole = post(message_body(false), 60s);
  ASSERT_EQ(whole.status, 200);
  auto message = parse_object(whole.body);
  EXPECT_EQ(message["content"].as_array()[0].as_object()["text"].as_string().size(), static_cast<size_t>(kBytes) + 2);
  ASSERT_TRUE(wait_until([&] { return records() == 3; }, 5s));
}

// An upstream that never ends its stream is cut at relay.requestTimeout: a timeout_error event,
// the upstream connection closed, the usage metered as partial, and the account not blamed.
// A whole answer that has not come by then gets 504; with more time (reloaded) it comes.
TEST_F(FaultsTest, AnUpstreamThatNeverEndsIsCutAtTheRequestTimeout) {
  start("[relay]\nrequestTimeout = 1500\n");
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":100000,"dripMs":20})"));
  auto t0 = std::chrono::steady_clock::now();
  auto r = post(message_body(true));
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.status, 200);
  auto events = events_of(r.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().name, "error");
  EXPECT_EQ(events.back().data.at("error").at("type").as_string(), "timeout_error");
  EXPECT_NE(r.body.find("relay.requestTimeout (1500 ms)"), std::string::npos) << r.body.substr(r.body.size() - 300);
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 10s);
  EXPECT_TRUE(wait_until([&] { return upstream_in_flight() == 0; }, 2s)) << "the upstream connection stays open";
  ASSERT_TRUE(wait_until([&] { return records() == 2; }, 5s));
  EXPECT_TRUE(last_record()["partial"].as_bool());
  // Metered as the client saw it: message_start's count, or the text that passed / 4.
  int64_t started_with = 0, chars = 0;
  for (const auto& e : events) {
    if (e.name == "message_start") started_with = e.data.at("message").at("usage").at("output_tokens").as_int64();
    if (e.name == "content_block_delta") chars += static_cast<int64_t>(e.data.at("delta").at("text").as_string().size());
  }
  EXPECT_EQ(last_record()["outputTokens"].as_int64(), std::max(started_with, (chars + 3) / 4)) << chars;
  auto shown = parse_object(relay->cli({"accounts", "show", account_id, "--json"}).out);
  EXPECT_EQ(shown["status"].as_string(), "active") << json::serialize(shown);

  ASSERT_EQ(http_request(fake.port(), "DELETE", "/_fake/behaviors").status, 200);
  ASSERT_TRUE(fake.script(kAccountKey, R"({"latencyMs":2500})"));
  auto late = post(message_body(false));
  EXPECT_EQ(late.status, 504) << late.body;
  EXPECT_NE(late.body.find("relay.requestTimeout"), std::string::npos) << late.body;

  dir.write("config/config.toml", "[relay]\nrequestTimeout = 20000\n");
  ASSERT_EQ(kill(relay->process().pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_until([&] {
    std::string log = relay->log();
    auto at = log.find("configuration reloaded: now in force:");
    return at != std::string::npos && log.find("relay.requestTimeout", at) != std::string::npos;
  }, 5s)) << relay->log();
  EXPECT_EQ(post(message_body(false)).status, 200);
}

// A body dribbled a byte at a time is cut at server.requestReadTimeout in all (not per byte).
TEST_F(FaultsTest, ADribbledBodyIsCutAtTheReadTimeoutInAll) {
  start("[server]\nrequestReadTimeout = 2\n");
  std::string body = message_body(false);
  RawConnection c(relay->port());
  ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  auto t0 = std::chrono::steady_clock::now();
  std::string answer;
  for (size_t i = 0; i < body.size() && answer.empty(); ++i) {
    if (!c.send(body.substr(i, 1))) break;
    answer = c.receive(300ms);
  }
  if (answer.empty()) answer = c.receive(5s);
  EXPECT_NE(answer.find("HTTP/1.1 408"), std::string::npos) << answer;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
  EXPECT_TRUE(c.closed_by_peer(5s));
}

// The size in bytes a TCP buffer of the kernel may grow to (the third field of the setting).
int64_t tcp_buffer_max(const std::string& setting) {
  std::ifstream in("/proc/sys/net/ipv4/" + setting);
  int64_t least = 0, initial = 0, most = 0;
  in >> least >> initial >> most;
  return most > 0 ? most : 32 << 20;
}

// Clients that stop reading big streams: the relay stops reading their upstreams (backpressure)
// instead of buffering, so its memory does not grow with what they leave unread.
TEST_F(FaultsTest, ClientsThatStopReadingDoNotGrowTheRelaysMemory) {
  start("[server]\nwriteTimeout = 30\n");
  // Each stream is larger than all the socket buffers on its way can hold: the relay's receive
  // buffer from the upstream (grown by the kernel as the relay reads, up to tcp_rmem's maximum),
  // both send buffers and the client's receive buffer (it never reads, so it stays small). Were
  // it smaller, a stream could end inside the kernel's buffers with a relay that does not buffer.
  int64_t kernel_holds = tcp_buffer_max("tcp_rmem") + 2 * tcp_buffer_max("tcp_wmem") + (1 << 20);
  constexpr int64_t kDeltaChars = 16000;
  int64_t deltas = (kernel_holds + (16 << 20)) / kDeltaChars;
  // The fake builds each stream whole before sending it: bounded, for a host with huge buffers.
  if (deltas * kDeltaChars > (256 << 20)) GTEST_SKIP() << "TCP buffers of up to " << kernel_holds << " bytes";
  ASSERT_TRUE(fake.script(kAccountKey, R"({"deltas":)" + std::to_string(deltas) + R"(,"text":")" +
                                           std::string(kDeltaChars, 'w') + "\"}"));
  int pid = relay->process().pid();
  int64_t before_kb = status_kb(pid, "VmRSS");
  std::string body = message_body(true);
  std::string request = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
  constexpr int kClients = 4;
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawConnection>(relay->port()));
    ASSERT_TRUE(clients.back()->send(request));
  }
  // Every stream started; then the upstream sends until the buffers on the way are full.
  ASSERT_TRUE(wait_until([&] { return upstream_in_flight() == kClients; }, 10s));
  // Time for a relay that buffers to take it all in. (A relay that does not holds the bounds below
  // at any moment: the wait adds to what the test can see, not to whether it passes.)
  std::this_thread::sleep_for(2s);
  int64_t growth_kb = status_kb(pid, "VmRSS") - before_kb;
  EXPECT_LT(growth_kb, 64 * 1024) << kClients << " stalled streams of " << deltas * kDeltaChars / (1 << 20)
                                  << " MB grew the relay by " << growth_kb << " KB";
  EXPECT_EQ(upstream_in_flight(), kClients) << "the upstreams wait for the relay to read";
  clients.clear();  // the clients leave: every upstream closes
  EXPECT_TRUE(wait_until([&] { return upstream_in_flight() == 0; }, 5s));
  EXPECT_EQ(post(message_body(false)).status, 200);
}

// A full disk under the export and log directories: the export fails with a clear error, the
// relay keeps relaying. (Needs a tmpfs mount: root.)
TEST_F(FaultsTest, AFullDiskFailsTheExportClearlyAndTheRelayKeepsRelaying) {
  std::string full = dir.file("full");
  std::filesystem::create_directories(full);
  if (mount("tmpfs", full.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{full};
  std::filesystem::create_directories(full + "/logs");
  std::filesystem::create_directories(full + "/exports");
  std::filesystem::permissions(full + "/exports", std::filesystem::perms::owner_all);  // the relay asks for 0700
  start("[logging]\nfile = \"" + full + "/logs/crs.log\"\n[apiExport]\noutputDir = \"" + full + "/exports\"\n");
  {
    std::ofstream filler(full + "/filler", std::ios::binary);
    std::string block(4096, 'f');
    while (filler.write(block.data(), block.size())) {
    }
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(post(message_body(i % 2 == 0)).status, 200) << "request " << i;
  auto started = admin("POST", "/admin/api-keys/export", R"({"format":"csv"})");
  ASSERT_EQ(started.status, 202) << started.body;
  std::string id(parse_object(started.body)["data"].as_object()["id"].as_string());
  json::object task;
  ASSERT_TRUE(wait_until([&] {
    task = parse_object(admin("GET", "/admin/exports/" + id, "").body)["data"].as_object();
    return task["state"] != "queued" && task["state"] != "running";
  }, 30s));
  EXPECT_EQ(task["state"], "failed") << json::serialize(task);
  EXPECT_NE(json::serialize(task).find("No space left on device"), std::string::npos) << json::serialize(task);
  EXPECT_EQ(post(message_body(false)).status, 200);
  EXPECT_EQ(http_get(relay->port(), "/health").status, 200);
}

}  // namespace
}  // namespace crs::test
