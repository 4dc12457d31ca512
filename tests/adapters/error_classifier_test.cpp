// The error classifier of the Anthropic kinds, table-driven, with the status lines, headers and
// bodies of spec/anthropic-messages.md §9 and spec/claude-oauth.md §6.4 and §8.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "adapters/adapter.hpp"
#include "adapters/anthropic_errors.hpp"

namespace crs {
namespace {

using adapters::ErrorClass;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string body(const std::string& type, const std::string& message) {
  return R"({"type":"error","error":{"type":")" + type + R"(","message":")" + message +
         R"("},"request_id":"req_011CFakeRequestId00000004"})";
}

// spec/claude-oauth.md §8: a subscription account's five-hour window is exhausted.
const Headers kWindowExhausted = {
    {"retry-after", "5400"},
    {"x-should-retry", "true"},
    {"anthropic-ratelimit-unified-status", "rejected"},
    {"anthropic-ratelimit-unified-representative-claim", "five_hour"},
    {"anthropic-ratelimit-unified-reset", "1767240000"},
    {"anthropic-ratelimit-unified-5h-status", "rejected"},
    {"anthropic-ratelimit-unified-5h-reset", "1767240000"},
    {"anthropic-ratelimit-unified-5h-utilization", "1.01"},
    {"anthropic-ratelimit-unified-7d-status", "allowed"},
    {"anthropic-ratelimit-unified-7d-reset", "1767600000"},
    {"anthropic-ratelimit-unified-7d-utilization", "0.57"},
    {"anthropic-ratelimit-unified-overage-status", "rejected"},
    {"anthropic-ratelimit-unified-overage-reset", "1769000000"},
    {"anthropic-ratelimit-unified-overage-disabled-reason", "org_level_disabled"},
};

// spec/anthropic-messages.md §9.3: an API-key account's per-minute limit.
const Headers kApiKeyLimit = {
    {"request-id", "req_011CFakeRequestId00000002"},
    {"retry-after", "17"},
    {"x-should-retry", "true"},
    {"anthropic-ratelimit-requests-limit", "50"},
    {"anthropic-ratelimit-requests-remaining", "0"},
    {"anthropic-ratelimit-requests-reset", "2026-01-05T10:15:30Z"},
    {"anthropic-ratelimit-input-tokens-limit", "30000"},
    {"anthropic-ratelimit-input-tokens-remaining", "0"},
    {"anthropic-ratelimit-input-tokens-reset", "2026-01-05T10:15:30Z"},
};

constexpr int64_t kBeforeWindowReset = 1767230000000;  // 10,000 s before 1767240000
constexpr int64_t kApiKeyNow = 1767608100000;          // 2026-01-05T10:15:00Z
constexpr int64_t kSevenDaysMs = 7LL * 24 * 3600 * 1000;

struct Case {
  const char* name;
  unsigned status;
  Headers headers;
  std::string body;
  int64_t now_ms;
  ErrorClass expected;
  int64_t until_ms = 0;
};

TEST(ErrorClassifier, EveryClassFromTheSpecsExamples) {
  const auto rate_limit = body("rate_limit_error", "This request would exceed your account's rate limit. Please try again later.");
  Headers both_windows = kWindowExhausted;
  both_windows.push_back({"anthropic-ratelimit-unified-7d_opus-status", "rejected"});
  both_windows.push_back({"anthropic-ratelimit-unified-7d_opus-reset", "1767500000"});
  Headers rfc3339_reset = {{"anthropic-ratelimit-unified-reset", "2026-01-01T04:00:00Z"}};
  Headers far_reset = {{"anthropic-ratelimit-unified-reset", "1999999999"}};
  Headers mixed_case = {{"Anthropic-RateLimit-Unified-7d-Status", "Rejected"},
                        {"anthropic-ratelimit-unified-7d-reset", "1767600000"}};
  const std::vector<Case> cases = {
      {"window exhausted: until the rejected window's reset", 429, kWindowExhausted, rate_limit, kBeforeWindowReset,
       ErrorClass::RateLimited, 1767240000000},
      {"window reset already past: retry-after", 429, kWindowExhausted, rate_limit, 1767240000000 + 1000,
       ErrorClass::RateLimited, 1767240000000 + 1000 + 5400000},
      {"two rejected windows: the later reset (overage ignored)", 429, both_windows, rate_limit, kBeforeWindowReset,
       ErrorClass::RateLimited, 1767500000000},
      {"unified reset as RFC 3339", 429, rfc3339_reset, rate_limit, kBeforeWindowReset, ErrorClass::RateLimited,
       1767240000000},
      {"header names and values in any case", 429, mixed_case, rate_limit, kBeforeWindowReset,
       ErrorClass::RateLimited, 1767600000000},
      {"a reset years away is capped at 7 days", 429, far_reset, rate_limit, kBeforeWindowReset,
       ErrorClass::RateLimited, kBeforeWindowReset + kSevenDaysMs},
      {"API-key per-minute limit: retry-after", 429, kApiKeyLimit,
       body("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), kApiKeyNow,
       ErrorClass::RateLimited, kApiKeyNow + 17000},
      {"API-key limit without retry-after: the standard reset", 429, {kApiKeyLimit.begin() + 3, kApiKeyLimit.end()},
       rate_limit, kApiKeyNow, ErrorClass::RateLimited, kApiKeyNow + 30000},
      {"429 without any reset: a burst", 429, {}, rate_limit, kBeforeWindowReset, ErrorClass::BurstRateLimited, 0},
      {"429 Extra usage: the request's, not a limit", 429, {},
       body("rate_limit_error", "Extra usage is required for long context requests."), kBeforeWindowReset,
       ErrorClass::ClientError},
      {"400 invalid request", 400, {}, body("invalid_request_error", "messages: Field required"), 0,
       ErrorClass::ClientError},
      {"400 organization disabled", 400, {}, body("invalid_request_error", "This organization has been disabled."), 0,
       ErrorClass::Blocked},
      {"400 quoting the ban message", 400, {},
       body("invalid_request_error", "Input tag 'This organization has been disabled' found"), 0,
       ErrorClass::ClientError},
      {"400 ban message outside the error shape", 400, {}, "This organization has been disabled.", 0,
       ErrorClass::ClientError},
      {"400 ban message in another member", 400, {},
       R"({"error":{"type":"x","message":"ok"},"m":"This organization has been disabled."})", 0,
       ErrorClass::ClientError},
      {"401 authentication_error", 401, {}, body("authentication_error", "invalid x-api-key"), 0,
       ErrorClass::Unauthorized},
      {"401 without a body", 401, {}, "", 0, ErrorClass::Unauthorized},
      {"402 billing_error", 402, {}, body("billing_error", "Your credit balance is too low"), 0, ErrorClass::Refused},
      {"402 of another type", 402, {}, body("invalid_request_error", "x"), 0, ErrorClass::ClientError},
      {"403 OAuth not allowed for the organization", 403, {},
       body("permission_error", "OAuth authentication is currently not allowed for this organization."), 0,
       ErrorClass::Blocked},
      {"403 quoting the OAuth message", 403, {},
       body("permission_error", "'OAuth authentication is currently not allowed for this organization' is not a valid tool name"),
       0, ErrorClass::Refused},
      {"403 permission_error", 403, {}, body("permission_error", "Credential lacks permission"), 0,
       ErrorClass::Refused},
      {"403 permission_error the upstream says not to retry", 403, {{"x-should-retry", "false"}},
       body("permission_error", "Your organization does not have access to the API"), 0, ErrorClass::Blocked},
      {"403 not to retry, but not a permission error", 403, {{"x-should-retry", "false"}},
       body("forbidden", "Request not allowed"), 0, ErrorClass::Refused},
      {"403 permission_error that may be retried", 403, {{"x-should-retry", "true"}},
       body("permission_error", "Your organization does not have access to the API"), 0, ErrorClass::Refused},
      {"403 organization disabled", 403, {}, body("permission_error", "This organization has been disabled."), 0,
       ErrorClass::Blocked},
      {"404 unknown model", 404, {}, body("not_found_error", "model: claude-x"), 0, ErrorClass::ClientError},
      {"413 from the edge, HTML", 413, {}, "<html>413 Request Entity Too Large</html>", 0, ErrorClass::ClientError},
      {"500 api_error", 500, {}, body("api_error", "Internal server error"), 0, ErrorClass::ServerError},
      {"502 from the edge, HTML", 502, {}, "<html>bad gateway</html>", 0, ErrorClass::ServerError},
      {"504 timeout_error", 504, {}, body("timeout_error", "Request timed out"), 0, ErrorClass::ServerError},
      {"529 overloaded_error", 529, {{"retry-after", "5"}}, body("overloaded_error", "Overloaded"), 0,
       ErrorClass::Overloaded},
  };
  for (const auto& c : cases) {
    adapters::UpstreamError e;
    e.status = c.status;
    for (const auto& [name, value] : c.headers) e.headers.insert(name, value);
    e.body = c.body;
    for (const char* kind : {"claude-console", "claude-oauth"}) {
      auto v = adapters::find_adapter(kind)->classify(e, c.now_ms);
      EXPECT_EQ(adapters::error_class_name(v.what), adapters::error_class_name(c.expected)) << c.name << " (" << kind << ")";
      EXPECT_EQ(v.until_ms, c.until_ms) << c.name;
      // The reason names the status and error.type, never the message (it may quote the client).
      EXPECT_EQ(v.reason.find("tool name"), std::string::npos) << c.name;
      EXPECT_EQ(v.reason.find("Input tag"), std::string::npos) << c.name;
    }
  }
}

// A permanent refusal keeps the upstream's own words for the admin (they are about the
// organisation), on one line and bounded.
TEST(ErrorClassifier, BlockedKeepsTheUpstreamsMessage) {
  adapters::UpstreamError e;
  e.status = 403;
  e.headers.insert("x-should-retry", "false");
  e.body = body("permission_error", "Your organization does not have access\\nto the API " + std::string(400, 'x'));
  auto v = adapters::find_adapter("claude-oauth")->classify(e, 0);
  ASSERT_EQ(v.what, ErrorClass::Blocked);
  EXPECT_NE(v.reason.find("Your organization does not have access"), std::string::npos) << v.reason;
  EXPECT_EQ(v.reason.find('\n'), std::string::npos) << v.reason;
  EXPECT_LT(v.reason.size(), 300u) << v.reason;
}

TEST(ErrorClassifier, CallsWithoutAnAnswer) {
  EXPECT_EQ(adapters::transport_failure(true, "no response within 100 ms").what, ErrorClass::Timeout);
  EXPECT_EQ(adapters::transport_failure(false, "connection refused").what, ErrorClass::Network);
}

}  // namespace
}  // namespace crs
