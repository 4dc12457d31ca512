#pragma once
// How one upstream attempt went, as the account's health counts it. The relay maps the
// adapter's error class onto these; `Client` (the request's own fault) and `RateLimited`
// (the upstream's announced limit, handled by the account's rate-limit state) are counted
// but never judged against the account.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crs::health {

enum class Outcome { Ok, RateLimited, Overloaded, Server, Network, Timeout, Auth, Client };
inline constexpr size_t kOutcomes = 8;

std::string_view outcome_name(Outcome o);
std::optional<Outcome> parse_outcome(std::string_view name);

// Judged against the account (success rate); the second set also counts as errors (error rate).
inline bool judged(Outcome o) { return o != Outcome::Client && o != Outcome::RateLimited; }
inline bool is_error(Outcome o) {
  return o == Outcome::Overloaded || o == Outcome::Server || o == Outcome::Network || o == Outcome::Timeout;
}

// One attempt on one account, as the passive stats record it.
struct Attempt {
  int64_t at_ms = 0;     // when it ended
  Outcome outcome = Outcome::Ok;
  unsigned status = 0;   // the upstream's status (0: no answer)
  double ttfb_ms = -1;   // time to the answer's head (-1: none)
  double total_ms = -1;  // time to the answer's end (-1: not measured)
  std::string message;   // for a failure: what went wrong, never the request's text

  // "<at>,<outcome>,<status>,<ttfb>,<total>" (the message is kept once per account, as its last error).
  std::string encode() const;
  static std::optional<Attempt> decode(std::string_view text);
};

}  // namespace crs::health
