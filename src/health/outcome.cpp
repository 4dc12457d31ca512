#include "health/outcome.hpp"

#include <array>
#include <charconv>
#include <utility>

#include <fmt/compile.h>  // parsed at compile time: every attempt is encoded
#include <fmt/format.h>

namespace crs::health {
namespace {

constexpr std::array<std::pair<Outcome, std::string_view>, 8> kNames{{
    {Outcome::Ok, "ok"},
    {Outcome::RateLimited, "rate_limited"},
    {Outcome::Overloaded, "overloaded"},
    {Outcome::Server, "server"},
    {Outcome::Network, "network"},
    {Outcome::Timeout, "timeout"},
    {Outcome::Auth, "auth"},
    {Outcome::Client, "client"},
}};

template <typename T>
bool read_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string_view outcome_name(Outcome o) {
  for (auto [k, n] : kNames)
    if (k == o) return n;
  return "ok";
}

std::optional<Outcome> parse_outcome(std::string_view name) {
  for (auto [k, n] : kNames)
    if (n == name) return k;
  return std::nullopt;
}

std::string Attempt::encode() const {
  return fmt::format(FMT_COMPILE("{},{},{},{:.1f},{:.1f}"), at_ms, outcome_name(outcome), status, ttfb_ms, total_ms);
}

std::optional<Attempt> Attempt::decode(std::string_view text) {
  std::array<std::string_view, 5> parts;
  for (size_t i = 0; i < parts.size(); ++i) {
    size_t comma = i + 1 < parts.size() ? text.find(',') : text.size();
    if (comma == std::string_view::npos) return std::nullopt;
    parts[i] = text.substr(0, comma);
    text.remove_prefix(std::min(text.size(), comma + 1));
  }
  Attempt a;
  auto outcome = parse_outcome(parts[1]);
  if (!outcome || !read_number(parts[0], a.at_ms) || !read_number(parts[2], a.status) ||
      !read_number(parts[3], a.ttfb_ms) || !read_number(parts[4], a.total_ms))
    return std::nullopt;
  a.outcome = *outcome;
  return a;
}

}  // namespace crs::health
