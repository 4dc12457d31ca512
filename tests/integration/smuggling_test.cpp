// Request smuggling and parsing (issue 22): a request whose framing or target two HTTP parsers
// could read differently (a proxy in front and the relay) is refused with 400 and its
// connection closed, so that no byte after it is ever taken as a request. Each case is sent
// with an innocent request right behind it, which must never be answered.
#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {
namespace {

using namespace std::chrono_literals;

const std::string kBehind = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

struct Case {
  const char* what;
  std::string request;
};

const std::vector<Case>& framing_cases() {
  static const std::vector<Case> cases{
      {"two Content-Length fields that differ",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"},
      {"two Content-Length fields that agree",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"},
      {"a Content-Length list", "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}"},
      {"a signed Content-Length", "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}"},
      {"Content-Length and Transfer-Encoding",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\n{}\r\n0\r\n\r\n"},
      {"Transfer-Encoding and Content-Length",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n"
       "2\r\n{}\r\n0\r\n\r\n"},
      {"chunked twice",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
       "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
      {"a coding before chunked",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
      {"Transfer-Encoding in HTTP/1.0",
       "POST /apiStats/api/get-key-id HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
      {"whitespace before a colon",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
      {"obsolete line folding", "GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\n\r\n"},
      {"a folded Transfer-Encoding",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
      {"bare LF line endings", "GET /health HTTP/1.1\nHost: x\n\n"},
      {"one bare LF", "GET /health HTTP/1.1\r\nHost: x\nX-Note: a\r\n\r\n"},
      {"a bare CR", "GET /health HTTP/1.1\r\nHost: x\rX-Note: a\r\n\r\n"},
      {"a NUL in a value", std::string("GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a") + '\0' + "b\r\n\r\n"},
      {"a bad chunk size", "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"an overflowing chunk size",
       "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "100000000000000002\r\n{}\r\n0\r\n\r\n"},
      {"no Host", "GET /health HTTP/1.1\r\n\r\n"},
      {"two Host fields", "GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
  };
  return cases;
}

// Targets that name the admin area in a way a path-based rule in front could miss.
const std::vector<Case>& target_cases() {
  static const std::vector<Case> cases{
      {"an absolute-form target", "GET http://x/admin/api-keys HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"an authority-form target", "CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"an asterisk-form target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a dot-dot segment", "GET /v1/../admin/api-keys HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a dot segment", "GET /admin/./api-keys HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"an encoded dot-dot segment", "GET /v1/%2e%2E/admin/api-keys HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a half-encoded dot-dot segment", "GET /v1/.%2e/admin/api-keys HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a dot-dot segment between encoded slashes", "GET /v1%2F..%2Fadmin/api-keys HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a backslash", "GET /v1\\..\\admin/api-keys HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"an encoded backslash", "GET /v1/%5C../admin/api-keys HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"an encoded NUL", "GET /admin/api-keys%00 HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a broken escape", "GET /admin/api-keys%zz HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"empty lines before the request line", "\r\n\r\n\r\n\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"},
  };
  return cases;
}

class Smuggling : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = new TempDir();
    relay = new RelayProcess(*dir, {});
    ASSERT_TRUE(relay->start()) << relay->log();
  }
  static void TearDownTestSuite() {
    delete relay;
    delete dir;
  }

  // The request and an innocent one behind it: one 400, then the connection closes.
  static void expect_refused(const Case& c) {
    SCOPED_TRACE(c.what);
    RawConnection conn(relay->port());
    ASSERT_TRUE(conn.send(c.request + kBehind));
    std::string answer = conn.receive(5s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("\"type\":\"error\""), std::string::npos) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "a second answer: " << answer;
    EXPECT_TRUE(conn.closed_by_peer(5s));
  }

  static TempDir* dir;
  static RelayProcess* relay;
};
TempDir* Smuggling::dir = nullptr;
RelayProcess* Smuggling::relay = nullptr;

TEST_F(Smuggling, AmbiguousFramingIsRefusedAndTheConnectionClosed) {
  for (const auto& c : framing_cases()) expect_refused(c);
  EXPECT_EQ(http_get(relay->port(), "/health").status, 200);
}

TEST_F(Smuggling, TargetsThatHideWhereTheyGoAreRefused) {
  for (const auto& c : target_cases()) expect_refused(c);
  EXPECT_EQ(http_get(relay->port(), "/health").status, 200);
}

// What the rules above must not refuse: pipelined requests, chunked bodies, escapes that are
// not dots (an escaped slash in an id), a query with dots and slashes, one leading empty line.
TEST_F(Smuggling, HonestRequestsStillPass) {
  RawConnection conn(relay->port());
  ASSERT_TRUE(conn.send("\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                        "POST /apiStats/api/get-key-id HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                        "2\r\n{}\r\n0\r\n\r\n"
                        "GET /%68ealth?next=/../admin/%2e%2e HTTP/1.1\r\nHost: x\r\nX-Note:  a\tb \r\n\r\n"
                        "GET /v1/models/anthropic%2Fclaude HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /health HTTP/1.0\r\n\r\n"));
  std::string answers;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string more = conn.receive(500ms);
    answers += more;
    if (more.empty() && !answers.empty()) break;
  }
  size_t count = 0;
  for (size_t at = answers.find("HTTP/1.", 0); at != std::string::npos; at = answers.find("HTTP/1.", at + 1)) ++count;
  EXPECT_EQ(count, 5u) << answers;
  EXPECT_EQ(answers.find("HTTP/1.1 200"), 0u) << answers;
  EXPECT_NE(answers.find("HTTP/1.1 400"), std::string::npos) << "get-key-id answers an empty body with 400";
  EXPECT_EQ(answers.find("Malformed"), std::string::npos) << answers;
}

}  // namespace
}  // namespace crs::test
