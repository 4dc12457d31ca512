#include "adapters/anthropic_errors.hpp"

#include <algorithm>
#include <ctime>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace crs::adapters {
namespace json = boost::json;
namespace {

constexpr int64_t kMaxCoolDownMs = 7LL * 24 * 3600 * 1000;
constexpr std::string_view kUnified = "anthropic-ratelimit-unified";

// A known message, whole, with or without its closing full stop. A message that quotes the
// client's input is always longer than the phrase, so it never matches.
bool is_message(std::string_view message, std::string_view known) {
  if (message.ends_with('.')) message.remove_suffix(1);
  return message == known;
}

// Unix seconds (all digits) or RFC 3339 "2026-01-05T10:15:30Z", as ms; 0 if neither.
int64_t parse_reset_ms(std::string_view text) {
  if (text.empty()) return 0;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return text.size() <= 12 ? std::stoll(std::string(text)) * 1000 : 0;
  std::tm tm{};
  std::string s(text);
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// The latest reset among the unified windows whose status is "rejected" (the overall one
// included). The extra-usage pool ("overage") is not a window the account waits for: it is
// "rejected" whenever the organisation has no extra usage, on allowed answers too.
int64_t rejected_windows_reset_ms(const http::response_header<>& h) {
  int64_t latest = 0;
  for (const auto& f : h) {
    std::string_view name = f.name_string();
    if (name.size() <= kUnified.size() || !beast::iequals(name.substr(0, kUnified.size()), kUnified)) continue;
    constexpr std::string_view kStatus = "-status";
    if (name.size() < kStatus.size() || !beast::iequals(name.substr(name.size() - kStatus.size()), kStatus)) continue;
    if (!beast::iequals(f.value(), "rejected")) continue;
    std::string window(name.substr(0, name.size() - kStatus.size()));
    if (std::search(window.begin(), window.end(), std::begin("overage"), std::end("overage") - 1,
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; }) != window.end())
      continue;
    latest = std::max(latest, parse_reset_ms(h[window + "-reset"]));
  }
  return latest;
}

int64_t retry_after_ms(const http::response_header<>& h, int64_t now_ms) {
  std::string_view v = h[http::field::retry_after];
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return 0;
  return now_ms + std::stoll(std::string(v)) * 1000;
}

int64_t standard_reset_ms(const http::response_header<>& h) {
  int64_t latest = 0;
  for (const char* name : {"anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
                           "anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset"})
    latest = std::max(latest, parse_reset_ms(h[name]));
  return latest;
}

// A refusal that says the account may not be used at all: the upstream's own words go into the
// account's status (a permission error's message is about the organisation, not the request).
ErrorVerdict blocked(const std::string& reason, std::string_view message) {
  std::string words;
  for (char c : message.substr(0, 200)) words += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  return {ErrorClass::Blocked, 0, reason + ": " + words};
}

bool says_no_retry(const http::response_header<>& h) { return beast::iequals(h["x-should-retry"], "false"); }

ErrorVerdict rate_limited(const UpstreamError& e, int64_t now_ms, std::string reason) {
  if (int64_t until = rate_limit_reset_ms(e.headers, now_ms)) return {ErrorClass::RateLimited, until, std::move(reason)};
  return {ErrorClass::BurstRateLimited, 0, std::move(reason)};
}

}  // namespace

ErrorFacts parse_error_body(std::string_view body) {
  ErrorFacts facts;
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return facts;
  auto* err = v.get_object().if_contains("error");
  if (!err || !err->is_object()) return facts;
  if (auto* t = err->get_object().if_contains("type"); t && t->is_string()) facts.type = t->get_string();
  if (auto* m = err->get_object().if_contains("message"); m && m->is_string()) facts.message = m->get_string();
  return facts;
}

int64_t rate_limit_reset_ms(const http::response_header<>& h, int64_t now_ms) {
  for (int64_t candidate : {rejected_windows_reset_ms(h), parse_reset_ms(h[std::string(kUnified) + "-reset"]),
                            retry_after_ms(h, now_ms), standard_reset_ms(h)}) {
    if (candidate > now_ms) return std::min(candidate, now_ms + kMaxCoolDownMs);
  }
  return 0;
}

ErrorVerdict classify_anthropic_error(const UpstreamError& e, int64_t now_ms) {
  auto facts = parse_error_body(e.body);
  // The reason names the status and error.type only: the message may quote the client's input.
  std::string reason = fmt::format("upstream answered {}", e.status);
  if (!facts.type.empty()) reason += " " + facts.type;
  switch (e.status) {
    case 400:
      // The one 400 that is about the account: a banned organisation, by its exact message.
      if (is_message(facts.message, "This organization has been disabled")) return blocked(reason, facts.message);
      return {ErrorClass::ClientError, 0, reason};
    case 401:
      return {ErrorClass::Unauthorized, 0, reason};
    case 402:
      return {facts.type == "billing_error" ? ErrorClass::Refused : ErrorClass::ClientError, 0, reason};
    case 403:
      // Permanent: a banned organisation, OAuth refused to it, or a permission error the upstream
      // says not to retry. Any other 403 pauses the account for a while.
      if (is_message(facts.message, "OAuth authentication is currently not allowed for this organization") ||
          is_message(facts.message, "This organization has been disabled") ||
          (facts.type == "permission_error" && says_no_retry(e.headers)))
        return blocked(reason, facts.message);
      return {ErrorClass::Refused, 0, reason};
    case 429:
      // "Extra usage" is not a rate limit: the plan lacks extra usage for this request
      // (long context, spec/claude-oauth.md §6.4). A 429 message never quotes the request.
      if (facts.message.starts_with("Extra usage")) return {ErrorClass::ClientError, 0, reason};
      return rate_limited(e, now_ms, reason);
    case 529:
      return {ErrorClass::Overloaded, 0, reason};
    default:
      return {e.status >= 500 ? ErrorClass::ServerError : ErrorClass::ClientError, 0, reason};
  }
}

}  // namespace crs::adapters
