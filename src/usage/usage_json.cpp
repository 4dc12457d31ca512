#include "usage/usage_json.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "usage/json_number.hpp"

namespace crs::usage {
namespace ondemand = simdjson::ondemand;
namespace {

std::atomic<bool> g_warned{false};

// `number` is a JSON number's text (is_json_number): safe to log.
void warn_once(std::string_view name, std::string_view number) {
  if (!g_warned.exchange(true))
    spdlog::warn("usage: the upstream reported {} = {}; rounded and clamped to 0..{} (logged once)", name, number,
                 kMaxTokenCount);
}

int64_t clamped(std::string_view name, int64_t n, std::string_view text) {
  if (n >= 0 && n <= kMaxTokenCount) return n;
  warn_once(name, text);
  return std::clamp<int64_t>(n, 0, kMaxTokenCount);
}

int64_t count_of_double(std::string_view name, double d, std::string_view text) {
  if (!std::isfinite(d)) {
    warn_once(name, text);
    return d > 0 ? kMaxTokenCount : 0;
  }
  double r = std::clamp(std::round(d), -1.0, static_cast<double>(kMaxTokenCount) + 1);
  auto n = static_cast<int64_t>(r);
  if (static_cast<double>(n) != d) warn_once(name, text);
  return clamped(name, n, text);
}

// One member's value: a count for a number of any JSON shape, nullopt for any other value.
// False if the document breaks off here.
bool read_count(std::string_view name, ondemand::value v, std::optional<int64_t>& out) {
  ondemand::json_type type;
  if (v.type().get(type)) return false;
  out.reset();
  if (type != ondemand::json_type::number) return true;
  std::string_view text = trim_json_token(v.raw_json_token());
  std::optional<double> number = json_number(v);
  if (!number) return false;
  out = count_of_double(name, *number, text);
  return true;
}

// The members of a usage object that count, as read; applied only once all were read.
struct Counts {
  std::optional<int64_t> input, output, cache_read, cache_creation, ephemeral_5m, ephemeral_1h, web_searches,
      web_fetches;
  bool breakdown = false;  // cache_creation is an object
  bool output_named = false;
};

// The members of a nested object (cache_creation, server_tool_use) that are counts.
template <typename Member>
bool read_nested(ondemand::value v, bool& is_object, Member member) {
  ondemand::json_type type;
  if (v.type().get(type)) return false;
  is_object = type == ondemand::json_type::object;
  if (!is_object) return true;
  ondemand::object o;
  if (v.get_object().get(o)) return false;
  for (auto field : o) {
    std::string_view key;
    ondemand::value value;
    if (field.unescaped_key().get(key) || field.value().get(value) || !member(key, value)) return false;
  }
  return true;
}

bool read_counts(ondemand::object o, Counts& c) {
  for (auto field : o) {
    std::string_view key;
    ondemand::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) return false;
    bool ok = true;
    if (key == "output_tokens") c.output_named = true;
    if (key == "input_tokens") ok = read_count(key, v, c.input);
    else if (key == "output_tokens") ok = read_count(key, v, c.output);
    else if (key == "cache_read_input_tokens") ok = read_count(key, v, c.cache_read);
    else if (key == "cache_creation_input_tokens") ok = read_count(key, v, c.cache_creation);
    else if (key == "cache_creation") {
      c.ephemeral_5m.reset();  // a repeated object replaces the first one whole
      c.ephemeral_1h.reset();
      ok = read_nested(v, c.breakdown, [&](std::string_view k, ondemand::value n) {
        if (k == "ephemeral_5m_input_tokens") return read_count(k, n, c.ephemeral_5m);
        if (k == "ephemeral_1h_input_tokens") return read_count(k, n, c.ephemeral_1h);
        return true;
      });
    } else if (key == "server_tool_use") {
      c.web_searches.reset();
      c.web_fetches.reset();
      bool is_object = false;
      ok = read_nested(v, is_object, [&](std::string_view k, ondemand::value n) {
        if (k == "web_search_requests") return read_count(k, n, c.web_searches);
        if (k == "web_fetch_requests") return read_count(k, n, c.web_fetches);
        return true;
      });
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

UsageObjectRead apply_usage_object(ondemand::object o, Usage& u) {
  Counts c;
  if (!read_counts(o, c)) return {};
  auto set = [](const std::optional<int64_t>& from, int64_t& to) {
    if (from) to = *from;
  };
  set(c.input, u.input_tokens);
  set(c.output, u.output_tokens);
  set(c.cache_read, u.cache_read_input_tokens);
  set(c.cache_creation, u.cache_creation_input_tokens);
  if (c.breakdown) {
    set(c.ephemeral_5m, u.cache_creation_5m);
    set(c.ephemeral_1h, u.cache_creation_1h);
    if (!c.cache_creation) u.cache_creation_input_tokens = u.cache_creation_5m + u.cache_creation_1h;
  } else if (c.cache_creation) {
    // A restatement (message_delta) without the breakdown: the one-hour part stays what it was.
    u.cache_creation_1h = std::min(u.cache_creation_1h, u.cache_creation_input_tokens);
    u.cache_creation_5m = u.cache_creation_input_tokens - u.cache_creation_1h;
  }
  set(c.web_searches, u.web_search_requests);
  set(c.web_fetches, u.web_fetch_requests);
  return {true, c.output_named};
}

}  // namespace crs::usage
