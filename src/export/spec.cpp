#include "export/spec.hpp"

#include <algorithm>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "usage/usage_reader.hpp"

namespace crs::key_export {
namespace json = boost::json;

namespace {

constexpr size_t kMaxDays = 366;
constexpr size_t kMaxMonths = 120;
constexpr size_t kMaxTags = 100;

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "YYYY-MM-DD", optionally followed by "THH:MM:SS", optional ".mmm", and "Z"; returned in the
// stored form. A bare date is the start of its day (`end_of_day`: its last millisecond).
std::optional<std::string> normalise_time(std::string_view t, bool end_of_day) {
  if (t.size() < 10 || !is_digits(t.substr(0, 4)) || t[4] != '-' || !is_digits(t.substr(5, 2)) || t[7] != '-' ||
      !is_digits(t.substr(8, 2)))
    return std::nullopt;
  int month = std::stoi(std::string(t.substr(5, 2))), day = std::stoi(std::string(t.substr(8, 2)));
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  std::string date(t.substr(0, 10));
  if (t.size() == 10) return date + (end_of_day ? "T23:59:59.999Z" : "T00:00:00.000Z");
  std::string_view rest = t.substr(10);
  if (rest.size() < 10 || rest[0] != 'T' || rest.back() != 'Z') return std::nullopt;
  std::string_view hms = rest.substr(1, 8);
  if (!is_digits(hms.substr(0, 2)) || hms[2] != ':' || !is_digits(hms.substr(3, 2)) || hms[5] != ':' ||
      !is_digits(hms.substr(6, 2)))
    return std::nullopt;
  std::string_view frac = rest.substr(9, rest.size() - 10);
  std::string millis = "000";
  if (!frac.empty()) {
    if (frac[0] != '.' || frac.size() < 2 || frac.size() > 10 || !is_digits(frac.substr(1))) return std::nullopt;
    millis = std::string(frac.substr(1, 3));
    millis.resize(3, '0');
  }
  return date + "T" + std::string(hms) + "." + millis + "Z";
}

const std::set<std::string>& known_filters() {
  static const std::set<std::string> s{"status",     "tags",         "boundAccount", "createdFrom",
                                       "createdTo", "lastUsedFrom", "lastUsedTo",   "hasUsage"};
  return s;
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Result<std::vector<std::string>> string_list(const json::value& v, const std::string& what, size_t max) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.emplace_back(v.as_string());
    return out;
  }
  if (!v.is_array()) return Error{what + ": an array of strings"};
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return Error{what + ": an array of strings"};
    out.emplace_back(item.as_string());
  }
  if (out.size() > max) return Error{fmt::format("{}: at most {} entries", what, max)};
  return out;
}

Status read_range_bound(const json::object& f, const char* name, bool end, std::string& out) {
  auto it = f.find(name);
  if (it == f.end() || it->value().is_null()) return Ok{};
  if (!it->value().is_string()) return Error{fmt::format("filters.{}: a date (YYYY-MM-DD) or an ISO 8601 UTC time", name)};
  auto t = normalise_time(std::string_view(it->value().as_string()), end);
  if (!t) return Error{fmt::format("filters.{}: a date (YYYY-MM-DD) or an ISO 8601 UTC time such as 2026-01-31T12:00:00Z", name)};
  out = *t;
  return Ok{};
}

Status read_status_filter(const json::object& f, Filters& out) {
  auto it = f.find("status");
  if (it == f.end() || it->value().is_null()) return Ok{};
  static const std::set<std::string> states{"active", "disabled", "expired"};
  if (!it->value().is_string() || !states.count(std::string(it->value().as_string())))
    return Error{"filters.status: active, disabled or expired"};
  out.status = std::string(it->value().as_string());
  return Ok{};
}

Result<Filters> parse_filters(const json::value& v) {
  Filters out;
  if (v.is_null()) return out;
  if (!v.is_object()) return Error{"filters: an object"};
  const auto& f = v.as_object();
  for (const auto& m : f)
    if (!known_filters().count(std::string(m.key())))
      return Error{fmt::format("filters.{}: unknown filter (known: {})", std::string(m.key()), joined(known_filters()))};
  if (auto s = read_status_filter(f, out); !s) return s.error();
  if (auto it = f.find("tags"); it != f.end() && !it->value().is_null()) {
    auto tags = string_list(it->value(), "filters.tags", kMaxTags);
    if (!tags) return tags.error();
    out.tags = std::move(*tags);
  }
  if (auto it = f.find("boundAccount"); it != f.end() && !it->value().is_null()) {
    if (!it->value().is_string()) return Error{"filters.boundAccount: an account id, group:<id>, or \"\" for unbound keys"};
    out.bound = std::string(it->value().as_string());
  }
  for (auto [name, end, range] : {std::tuple{"createdFrom", false, &out.created.from},
                                  std::tuple{"createdTo", true, &out.created.to},
                                  std::tuple{"lastUsedFrom", false, &out.last_used.from},
                                  std::tuple{"lastUsedTo", true, &out.last_used.to}})
    if (auto s = read_range_bound(f, name, end, *range); !s) return s.error();
  if (out.created.any() && !out.created.from.empty() && !out.created.to.empty() && out.created.from > out.created.to)
    return Error{"filters.createdFrom is after filters.createdTo"};
  if (!out.last_used.from.empty() && !out.last_used.to.empty() && out.last_used.from > out.last_used.to)
    return Error{"filters.lastUsedFrom is after filters.lastUsedTo"};
  if (auto it = f.find("hasUsage"); it != f.end() && !it->value().is_null()) {
    if (!it->value().is_bool()) return Error{"filters.hasUsage: true or false"};
    out.has_usage = it->value().as_bool();
  }
  return out;
}

Result<UsageRequest> parse_usage(const json::value& v) {
  UsageRequest u;
  if (v.is_null()) return u;
  if (!v.is_object()) return Error{"usage: an object {totals, period, from, to}"};
  const auto& o = v.as_object();
  for (const auto& m : o) {
    std::string name(m.key());
    if (name != "totals" && name != "period" && name != "from" && name != "to")
      return Error{"usage." + name + ": unknown member (known: totals, period, from, to)"};
  }
  if (auto it = o.find("totals"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_bool()) return Error{"usage.totals: true or false"};
    u.totals = it->value().as_bool();
  }
  auto text = [&](const char* name) {
    auto it = o.find(name);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
  };
  std::string period = text("period");
  if (period.empty() && o.contains("period") && !o.at("period").is_null()) return Error{"usage.period: day or month"};
  if (period.empty()) {
    if (o.contains("from") || o.contains("to")) return Error{"usage.from and usage.to need usage.period (day or month)"};
    return u;
  }
  if (period != "day" && period != "month") return Error{"usage.period: day or month"};
  u.period = period == "day" ? Period::Day : Period::Month;
  u.from = text("from");
  u.to = text("to");
  auto g = u.period == Period::Day ? usage::Granularity::Day : usage::Granularity::Month;
  auto buckets = usage::periods(g, u.from, u.to, u.period == Period::Day ? kMaxDays : kMaxMonths);
  if (!buckets) return Error{"usage." + buckets.error().message};
  u.buckets = std::move(*buckets);
  if (u.period == Period::Month) {
    u.from = u.buckets.front();
    u.to = u.buckets.back();
  }
  return u;
}

bool is_field(const std::string& name) {
  const auto& all = field_catalogue();
  return std::any_of(all.begin(), all.end(), [&](const FieldInfo& f) { return name == f.name; });
}

// `asked_unsanitized`: the request itself says "sanitize": false (a configured default is not
// enough for the key hash).
// "a,b" as a list: what a query string or a shell gives.
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

Result<std::vector<std::string>> parse_fields(const json::value& v, const UsageRequest& usage, bool asked_unsanitized) {
  if (v.is_null()) return default_fields(usage);
  auto names = v.is_string() ? Result<std::vector<std::string>>(split_commas(std::string(v.as_string())))
                             : string_list(v, "fields", field_catalogue().size());
  if (!names) return names.error();
  if (names->empty()) return Error{"fields: name at least one field, or leave fields out for the default set"};
  std::set<std::string> seen;
  for (const auto& n : *names) {
    if (!is_field(n)) return Error{"fields: unknown field \"" + n + "\" (GET /admin/exports/fields lists them)"};
    if (!seen.insert(n).second) return Error{"fields: \"" + n + "\" named twice"};
    if (n.starts_with("period") && usage.period == Period::None)
      return Error{"fields: \"" + n + "\" needs usage.period, usage.from and usage.to"};
    if (n == "keyHash" && !asked_unsanitized)
      return Error{"fields: keyHash is exported only when the request says \"sanitize\": false"};
  }
  return names;
}

Result<Format> read_format(const json::object& body, const SpecPolicy& policy) {
  auto it = body.find("format");
  if (it == body.end() || it->value().is_null()) return Format::Json;
  auto name = it->value().is_string() ? std::string(it->value().as_string()) : std::string();
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto format = parse_format(name);
  bool supported = std::find(policy.supported_formats.begin(), policy.supported_formats.end(), name) !=
                   policy.supported_formats.end();
  if (!format || !supported) {
    std::string list;
    for (const auto& f : policy.supported_formats) list += (list.empty() ? "" : ", ") + f;
    return Error{"format: one of " + list + " (apiExport.supportedFormats)"};
  }
  return *format;
}

Result<bool> read_bool(const json::object& body, const char* name, bool fallback) {
  auto it = body.find(name);
  if (it == body.end() || it->value().is_null()) return fallback;
  if (!it->value().is_bool()) return Error{std::string(name) + ": true or false"};
  return it->value().as_bool();
}

json::object filters_json(const Filters& f) {
  json::object o;
  if (!f.status.empty()) o["status"] = f.status;
  if (!f.tags.empty()) {
    json::array tags;
    for (const auto& t : f.tags) tags.emplace_back(t);
    o["tags"] = std::move(tags);
  }
  if (f.bound) o["boundAccount"] = *f.bound;
  if (!f.created.from.empty()) o["createdFrom"] = f.created.from;
  if (!f.created.to.empty()) o["createdTo"] = f.created.to;
  if (!f.last_used.from.empty()) o["lastUsedFrom"] = f.last_used.from;
  if (!f.last_used.to.empty()) o["lastUsedTo"] = f.last_used.to;
  if (f.has_usage) o["hasUsage"] = *f.has_usage;
  return o;
}

// The all-time usage fields (total*), not the limits that share the prefix.
bool is_usage_total(const std::string& name) {
  return name.starts_with("total") && name != "totalTokenLimit" && name != "totalCostLimit";
}

}  // namespace

bool TimeRange::contains(const std::string& iso) const {
  if (!any()) return true;
  if (iso.empty()) return false;
  return (from.empty() || iso >= from) && (to.empty() || iso <= to);
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "json") return Format::Json;
  if (name == "csv") return Format::Csv;
  if (name == "ndjson") return Format::Ndjson;
  return std::nullopt;
}

const char* format_name(Format f) {
  switch (f) {
    case Format::Csv: return "csv";
    case Format::Ndjson: return "ndjson";
    case Format::Json: break;
  }
  return "json";
}

const char* file_extension(Format f) { return format_name(f); }

const char* content_type(Format f) {
  switch (f) {
    case Format::Csv: return "text/csv; charset=utf-8";
    case Format::Ndjson: return "application/x-ndjson";
    case Format::Json: break;
  }
  return "application/json";
}

bool ExportSpec::needs_totals() const {
  if (filters.has_usage) return true;
  return std::any_of(fields.begin(), fields.end(), is_usage_total);
}

bool ExportSpec::needs_period() const {
  return usage.period != Period::None &&
         std::any_of(fields.begin(), fields.end(), [](const std::string& f) { return f.starts_with("period"); });
}

Result<ExportSpec> parse_spec(const json::object& body, const SpecPolicy& policy) {
  static const std::set<std::string> members{"format", "fields", "filters", "sanitize", "bom", "usage"};
  for (const auto& m : body)
    if (!members.count(std::string(m.key())))
      return Error{std::string(m.key()) + ": unknown member (known: " + joined(members) + ")"};
  ExportSpec spec;
  auto format = read_format(body, policy);
  if (!format) return format.error();
  spec.format = *format;
  auto sanitize = read_bool(body, "sanitize", policy.sanitize_by_default);
  if (!sanitize) return sanitize.error();
  spec.sanitize = *sanitize;
  auto bom = read_bool(body, "bom", false);
  if (!bom) return bom.error();
  if (*bom && spec.format != Format::Csv) return Error{"bom: only for csv"};
  spec.bom = *bom;
  auto member = [&](const char* name) { return body.contains(name) ? body.at(name) : json::value(nullptr); };
  auto usage = parse_usage(member("usage"));
  if (!usage) return usage.error();
  spec.usage = std::move(*usage);
  auto filters = parse_filters(member("filters"));
  if (!filters) return filters.error();
  spec.filters = std::move(*filters);
  bool asked_unsanitized = body.contains("sanitize") && body.at("sanitize").is_bool() && !body.at("sanitize").as_bool();
  auto fields = parse_fields(member("fields"), spec.usage, asked_unsanitized);
  if (!fields) return fields.error();
  spec.fields = std::move(*fields);
  return spec;
}

json::object spec_json(const ExportSpec& spec) {
  json::array fields;
  for (const auto& f : spec.fields) fields.emplace_back(f);
  json::object usage;
  usage["totals"] = spec.usage.totals;
  if (spec.usage.period != Period::None) {
    usage["period"] = spec.usage.period == Period::Day ? "day" : "month";
    usage["from"] = spec.usage.from;
    usage["to"] = spec.usage.to;
  }
  json::object o;
  o["format"] = format_name(spec.format);
  o["fields"] = std::move(fields);
  o["filters"] = filters_json(spec.filters);
  o["sanitize"] = spec.sanitize;
  if (spec.bom) o["bom"] = true;
  o["usage"] = std::move(usage);
  return o;
}

const std::vector<FieldInfo>& field_catalogue() {
  static const std::vector<FieldInfo> fields{
      {"id", "key id (masked to its first and last four characters when sanitized)"},
      {"name", "name"},
      {"description", "description"},
      {"tags", "tags (CSV: a JSON array)"},
      {"status", "active, disabled or expired"},
      {"isActive", "enabled by an admin"},
      {"createdAt", "creation time (ISO 8601 UTC)"},
      {"lastUsedAt", "last request (empty: never)"},
      {"expirationMode", "fixed or activation"},
      {"expiresAt", "expiry (empty: never)"},
      {"activationDays", "days of validity after the first request (activation mode)"},
      {"activatedAt", "first request of an activation key"},
      {"concurrencyLimit", "requests at once (0: no limit)"},
      {"rateLimitWindow", "rate window in minutes"},
      {"rateLimitRequests", "requests per rate window"},
      {"rateLimitCost", "USD per rate window"},
      {"totalTokenLimit", "tokens ever"},
      {"dailyCostLimit", "USD per day"},
      {"weeklyCostLimit", "USD per week"},
      {"totalCostLimit", "USD ever"},
      {"weeklyResetDay", "1 = Monday ... 7 = Sunday"},
      {"weeklyResetHour", "0-23"},
      {"permissions", "route families allowed (empty: all)"},
      {"allowedModels", "models allowed (empty: all)"},
      {"restrictedModels", "models refused"},
      {"allowedClients", "client families allowed (empty: all)"},
      {"claudeAccountId", "bound account or group:<id> (empty: the pool)"},
      {"keyHash", "the stored SHA-256 digest (only with sanitize: false)"},
      {"totalRequests", "requests ever"},
      {"totalInputTokens", "input tokens ever"},
      {"totalOutputTokens", "output tokens ever"},
      {"totalCacheCreateTokens", "cache creation tokens ever"},
      {"totalCacheReadTokens", "cache read tokens ever"},
      {"totalTokens", "all tokens ever"},
      {"totalCost", "USD ever (exact to the micro-dollar)"},
      {"periodRequests", "requests in usage.from..usage.to"},
      {"periodInputTokens", "input tokens in the period"},
      {"periodOutputTokens", "output tokens in the period"},
      {"periodCacheCreateTokens", "cache creation tokens in the period"},
      {"periodCacheReadTokens", "cache read tokens in the period"},
      {"periodTokens", "all tokens in the period"},
      {"periodCost", "USD in the period"},
  };
  return fields;
}

std::vector<std::string> default_fields(const UsageRequest& usage) {
  std::vector<std::string> out{"id", "name", "description", "tags", "status", "createdAt", "lastUsedAt",
                               "expiresAt", "claudeAccountId"};
  for (const auto& f : field_catalogue()) {
    std::string name = f.name;
    bool total = is_usage_total(name);
    if ((usage.totals && total) || (usage.period != Period::None && name.starts_with("period"))) out.push_back(name);
  }
  return out;
}

std::string mask_id(std::string_view id) {
  if (id.size() <= 8) return std::string(id.size(), '*');
  return std::string(id.substr(0, 4)) + "****" + std::string(id.substr(id.size() - 4));
}

}  // namespace crs::key_export
