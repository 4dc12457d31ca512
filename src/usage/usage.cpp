#include "usage/usage.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

namespace crs::usage {
namespace json = boost::json;
namespace {

std::atomic<bool> g_warned{false};

void warn_once(std::string_view name, const json::value& v) {
  if (!g_warned.exchange(true))
    spdlog::warn("usage: the upstream reported {} = {}; rounded and clamped to 0..{} (logged once)", name,
                 json::serialize(v), kMaxTokenCount);
}

// A count from an upstream number of any JSON shape; nullopt for non-numbers.
std::optional<int64_t> count_of(std::string_view name, const json::value& v) {
  int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64()) {
    n = static_cast<int64_t>(std::min<uint64_t>(v.get_uint64(), kMaxTokenCount + 1));
  } else if (v.is_double()) {
    double d = v.get_double();
    if (!std::isfinite(d)) {
      warn_once(name, v);
      return d > 0 ? std::optional<int64_t>(kMaxTokenCount) : std::optional<int64_t>(0);
    }
    d = std::clamp(std::round(d), -1.0, static_cast<double>(kMaxTokenCount) + 1);
    n = static_cast<int64_t>(d);
    if (static_cast<double>(n) != v.get_double()) warn_once(name, v);
  } else {
    return std::nullopt;
  }
  if (n < 0 || n > kMaxTokenCount) {
    warn_once(name, v);
    n = std::clamp<int64_t>(n, 0, kMaxTokenCount);
  }
  return n;
}

bool read(const json::object& o, std::string_view name, int64_t& out) {
  auto* v = o.if_contains(name);
  if (!v) return false;
  auto n = count_of(name, *v);
  if (n) out = *n;
  return n.has_value();
}

}  // namespace

void apply_usage_object(const json::object& o, Usage& u) {
  read(o, "input_tokens", u.input_tokens);
  read(o, "output_tokens", u.output_tokens);
  read(o, "cache_read_input_tokens", u.cache_read_input_tokens);
  bool had_total = read(o, "cache_creation_input_tokens", u.cache_creation_input_tokens);
  if (auto* detail = o.if_contains("cache_creation"); detail && detail->is_object()) {
    const auto& d = detail->get_object();
    read(d, "ephemeral_5m_input_tokens", u.cache_creation_5m);
    read(d, "ephemeral_1h_input_tokens", u.cache_creation_1h);
    if (!had_total) u.cache_creation_input_tokens = u.cache_creation_5m + u.cache_creation_1h;
  } else if (had_total) {
    // A restatement (message_delta) without the breakdown: the one-hour part stays what it was.
    u.cache_creation_1h = std::min(u.cache_creation_1h, u.cache_creation_input_tokens);
    u.cache_creation_5m = u.cache_creation_input_tokens - u.cache_creation_1h;
  }
  if (auto* tools = o.if_contains("server_tool_use"); tools && tools->is_object()) {
    read(tools->get_object(), "web_search_requests", u.web_search_requests);
    read(tools->get_object(), "web_fetch_requests", u.web_fetch_requests);
  }
}

}  // namespace crs::usage
