#include "usage/usage_event.hpp"

#include <array>
#include <charconv>

#include <fmt/format.h>

namespace crs::usage {
namespace {

constexpr std::string_view kVersion = "1";
constexpr size_t kColumns = 18;  // the version, then 17 members

// Text members come from clients (the model name): a tab or a line break would shift columns.
std::string_view clean(std::string_view text, std::string& scratch) {
  if (text.find_first_of("\t\r\n") == std::string_view::npos) return text;
  scratch.assign(text);
  for (char& c : scratch)
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
  return scratch;
}

bool number(std::string_view text, int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string UsageEvent::to_wire() const {
  std::string s1, s2, s3, s4, s5;
  std::string out;
  out.reserve(160 + key_id.size() + account_id.size() + model.size() + request_id.size() + endpoint.size());
  const auto& u = usage;
  fmt::format_to(std::back_inserter(out), "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                 kVersion, timestamp_ms, clean(key_id, s1), clean(account_id, s2), clean(model, s3), u.input_tokens,
                 u.output_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens, u.cache_creation_5m,
                 u.cache_creation_1h, cost_micro, status, stream ? 1 : 0, partial ? 1 : 0, duration_ms,
                 clean(request_id, s4), clean(endpoint, s5));
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
  if (n != kColumns || col[0] != kVersion) return std::nullopt;
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
  return e;
}

}  // namespace crs::usage
