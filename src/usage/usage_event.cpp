#include "usage/usage_event.hpp"

#include <array>
#include <charconv>

namespace crs::usage {
namespace {

// Version 2 appends web searches, web fetches and the flags to version 1's columns; events of
// version 1 still in the stream are read too.
constexpr std::string_view kVersion = "2";
constexpr size_t kColumnsV1 = 18;  // the version, then 17 members
constexpr size_t kColumns = 21;
constexpr int64_t kEstimated = 1, kPricedByFallback = 2, kLongContext = 4;  // the flags column

void put(std::string& out, int64_t value) {
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  out += '\t';
}

// Text members come from clients (the model name): a tab or a line break would shift columns.
void put(std::string& out, std::string_view text, bool last = false) {
  size_t from = out.size();
  out += text;
  for (size_t i = from; i < out.size(); ++i)
    if (out[i] == '\t' || out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  if (!last) out += '\t';
}

bool number(std::string_view text, int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string UsageEvent::to_wire() const {
  std::string out;
  out.reserve(200 + key_id.size() + account_id.size() + model.size() + request_id.size() + endpoint.size());
  const auto& u = usage;
  put(out, kVersion);
  put(out, timestamp_ms);
  put(out, key_id);
  put(out, account_id);
  put(out, model);
  for (int64_t v : {u.input_tokens, u.output_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens,
                    u.cache_creation_5m, u.cache_creation_1h, cost_micro, int64_t{status}, int64_t{stream},
                    int64_t{partial}, duration_ms})
    put(out, v);
  put(out, request_id);
  put(out, endpoint);
  put(out, u.web_search_requests);
  put(out, u.web_fetch_requests);
  int64_t flags = (estimated ? kEstimated : 0) | (priced_by_fallback ? kPricedByFallback : 0) |
                  (long_context ? kLongContext : 0);
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, flags).ptr);
  return out;
}

std::optional<UsageEvent> UsageEvent::from_wire(std::string_view line) {
  std::array<std::string_view, kColumns> col;
  size_t n = 0;
  while (n < kColumns) {
    size_t tab = line.find('\t');
    col[n++] = line.substr(0, tab);
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  bool v1 = n == kColumnsV1 && col[0] == "1";
  if (!v1 && (n != kColumns || col[0] != kVersion)) return std::nullopt;
  UsageEvent e;
  auto& u = e.usage;
  int64_t status = 0, stream = 0, partial = 0;
  int64_t* numbers[] = {&e.timestamp_ms, &u.input_tokens, &u.output_tokens, &u.cache_creation_input_tokens,
                        &u.cache_read_input_tokens, &u.cache_creation_5m, &u.cache_creation_1h, &e.cost_micro,
                        &status, &stream, &partial, &e.duration_ms};
  size_t columns[] = {1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  for (size_t i = 0; i < std::size(columns); ++i)
    if (!number(col[columns[i]], *numbers[i])) return std::nullopt;
  e.key_id = col[2];
  e.account_id = col[3];
  e.model = col[4];
  e.status = static_cast<int>(status);
  e.stream = stream != 0;
  e.partial = partial != 0;
  e.request_id = col[16];
  e.endpoint = col[17];
  if (v1) return e;
  int64_t flags = 0;
  if (!number(col[18], u.web_search_requests) || !number(col[19], u.web_fetch_requests) || !number(col[20], flags))
    return std::nullopt;
  e.estimated = flags & kEstimated;
  e.priced_by_fallback = flags & kPricedByFallback;
  e.long_context = flags & kLongContext;
  return e;
}

}  // namespace crs::usage
