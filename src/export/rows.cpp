#include "export/rows.hpp"

#include <functional>
#include <map>

#include <fmt/format.h>

namespace crs::key_export {

namespace {

Cell text(const std::string& s) { return Cell{Cell::Kind::Text, 0, s, {}}; }
Cell date(const std::string& s) { return s.empty() ? Cell{} : text(s); }
Cell integer(int64_t n) { return Cell{Cell::Kind::Integer, n, {}, {}}; }
Cell usd(int64_t micro) { return Cell{Cell::Kind::Usd, micro, {}, {}}; }
Cell boolean(bool b) { return Cell{Cell::Kind::Bool, b ? 1 : 0, {}, {}}; }
Cell list(const std::vector<std::string>& items) { return Cell{Cell::Kind::List, 0, {}, items}; }

struct Context {
  const KeyRow& row;
  const ExportSpec& spec;
  const std::string& now_iso;
};
using Extract = std::function<Cell(const Context&)>;

void add_usage_fields(std::map<std::string, Extract>& m, const char* prefix, usage::UsageTotals KeyRow::*which) {
  auto add = [&](const char* suffix, int64_t usage::UsageTotals::*member, bool money) {
    m[std::string(prefix) + suffix] = [which, member, money](const Context& c) {
      int64_t v = (c.row.*which).*member;
      return money ? usd(v) : integer(v);
    };
  };
  add("Requests", &usage::UsageTotals::requests, false);
  add("InputTokens", &usage::UsageTotals::input, false);
  add("OutputTokens", &usage::UsageTotals::output, false);
  add("CacheCreateTokens", &usage::UsageTotals::cache_create, false);
  add("CacheReadTokens", &usage::UsageTotals::cache_read, false);
  add("Tokens", &usage::UsageTotals::all, false);
  add("Cost", &usage::UsageTotals::cost_micro, true);
}

const std::map<std::string, Extract>& extractors() {
  static const std::map<std::string, Extract> m = [] {
    std::map<std::string, Extract> e;
    auto key = [](const Context& c) -> const keys::ApiKey& { return c.row.key; };
    e["id"] = [key](const Context& c) { return text(c.spec.sanitize ? mask_id(key(c).id) : key(c).id); };
    e["name"] = [key](const Context& c) { return text(key(c).name); };
    e["description"] = [key](const Context& c) { return text(key(c).description); };
    e["tags"] = [key](const Context& c) { return list(key(c).tags); };
    e["status"] = [key](const Context& c) { return text(key_status(key(c), c.now_iso)); };
    e["isActive"] = [key](const Context& c) { return boolean(key(c).enabled); };
    e["createdAt"] = [key](const Context& c) { return date(key(c).created_at); };
    e["lastUsedAt"] = [key](const Context& c) { return date(key(c).last_used_at); };
    e["expirationMode"] = [key](const Context& c) { return text(key(c).expiration_mode); };
    e["expiresAt"] = [key](const Context& c) { return date(key(c).expires_at); };
    e["activationDays"] = [key](const Context& c) { return integer(key(c).activation_days); };
    e["activatedAt"] = [key](const Context& c) { return date(key(c).activated_at); };
    e["concurrencyLimit"] = [key](const Context& c) { return integer(key(c).limits.concurrency); };
    e["rateLimitWindow"] = [key](const Context& c) { return integer(key(c).limits.rate_window_minutes); };
    e["rateLimitRequests"] = [key](const Context& c) { return integer(key(c).limits.rate_requests); };
    e["rateLimitCost"] = [key](const Context& c) { return usd(key(c).limits.rate_cost_micro); };
    e["totalTokenLimit"] = [key](const Context& c) { return integer(key(c).limits.total_tokens); };
    e["dailyCostLimit"] = [key](const Context& c) { return usd(key(c).limits.daily_cost_micro); };
    e["weeklyCostLimit"] = [key](const Context& c) { return usd(key(c).limits.weekly_cost_micro); };
    e["totalCostLimit"] = [key](const Context& c) { return usd(key(c).limits.total_cost_micro); };
    e["weeklyResetDay"] = [key](const Context& c) { return integer(key(c).limits.weekly_reset_day); };
    e["weeklyResetHour"] = [key](const Context& c) { return integer(key(c).limits.weekly_reset_hour); };
    e["permissions"] = [key](const Context& c) { return list(key(c).permissions); };
    e["allowedModels"] = [key](const Context& c) { return list(key(c).allowed_models); };
    e["restrictedModels"] = [key](const Context& c) { return list(key(c).denied_models); };
    e["allowedClients"] = [key](const Context& c) { return list(key(c).allowed_clients); };
    e["claudeAccountId"] = [key](const Context& c) { return date(key(c).bound_account); };
    // parse_spec refuses keyHash in a sanitized export; the check here keeps it so if a
    // spec ever comes another way.
    e["keyHash"] = [key](const Context& c) { return c.spec.sanitize ? Cell{} : text(key(c).digest); };
    add_usage_fields(e, "total", &KeyRow::totals);
    add_usage_fields(e, "period", &KeyRow::period);
    return e;
  }();
  return m;
}

std::string decimal_usd(int64_t micro) {
  const char* sign = micro < 0 ? "-" : "";
  uint64_t m = micro < 0 ? static_cast<uint64_t>(-(micro + 1)) + 1 : static_cast<uint64_t>(micro);
  return fmt::format("{}{}.{:06}", sign, m / 1000000, m % 1000000);
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  out += '"';
}

void append_json_list(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, valid_utf8(items[i]));
  }
  out += ']';
}

void append_json_value(std::string& out, const Cell& c) {
  switch (c.kind) {
    case Cell::Kind::Null: out += "null"; break;
    case Cell::Kind::Bool: out += c.number ? "true" : "false"; break;
    case Cell::Kind::Integer: out += std::to_string(c.number); break;
    case Cell::Kind::Usd: out += decimal_usd(c.number); break;
    case Cell::Kind::Text: append_json_string(out, valid_utf8(c.text)); break;
    case Cell::Kind::List: append_json_list(out, c.list); break;
  }
}

std::string json_object(const std::vector<std::string>& fields, const std::vector<Cell>& cells) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size() && i < cells.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, fields[i]);
    out += ':';
    append_json_value(out, cells[i]);
  }
  out += '}';
  return out;
}

class CsvWriter final : public RowWriter {
 public:
  CsvWriter(const ExportSpec& spec) : spec_(spec) {}
  std::string begin() override {
    std::string out = spec_.bom ? "\xEF\xBB\xBF" : "";
    for (size_t i = 0; i < spec_.fields.size(); ++i) out += (i ? "," : "") + spec_.fields[i];
    return out + "\r\n";
  }
  std::string row(const std::vector<Cell>& cells) override {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) out += ',';
      out += csv_cell(cells[i]);
    }
    return out + "\r\n";
  }
  std::string end(int64_t) override { return {}; }

 private:
  const ExportSpec& spec_;
};

// One document: {"taskId", "exportedAt", "sanitized", "fields", "keys": [...], "count"}; the
// count follows the rows, so nothing waits for the end.
class JsonWriter final : public RowWriter {
 public:
  JsonWriter(const ExportSpec& spec, ExportHeader header) : spec_(spec), header_(std::move(header)) {}
  std::string begin() override {
    std::string out = "{\"taskId\":";
    append_json_string(out, header_.task_id);
    out += ",\"exportedAt\":";
    append_json_string(out, header_.exported_at);
    out += header_.sanitized ? ",\"sanitized\":true" : ",\"sanitized\":false";
    out += ",\"fields\":";
    append_json_list(out, spec_.fields);
    return out + ",\"keys\":[";
  }
  std::string row(const std::vector<Cell>& cells) override {
    return (std::exchange(first_, false) ? "\n" : ",\n") + json_object(spec_.fields, cells);
  }
  std::string end(int64_t rows) override { return "\n],\"count\":" + std::to_string(rows) + "}\n"; }

 private:
  const ExportSpec& spec_;
  ExportHeader header_;
  bool first_ = true;
};

class NdjsonWriter final : public RowWriter {
 public:
  explicit NdjsonWriter(const ExportSpec& spec) : spec_(spec) {}
  std::string begin() override { return {}; }
  std::string row(const std::vector<Cell>& cells) override { return json_object(spec_.fields, cells) + "\n"; }
  std::string end(int64_t) override { return {}; }

 private:
  const ExportSpec& spec_;
};

}  // namespace

std::string key_status(const keys::ApiKey& key, const std::string& now_iso) {
  if (!key.enabled) return "disabled";
  if (!key.expires_at.empty() && key.expires_at <= now_iso) return "expired";
  return "active";
}

bool matches(const KeyRow& row, const Filters& f, const std::string& now_iso) {
  const auto& k = row.key;
  if (!f.status.empty() && key_status(k, now_iso) != f.status) return false;
  if (!f.tags.empty()) {
    bool any = false;
    for (const auto& t : f.tags) any = any || std::find(k.tags.begin(), k.tags.end(), t) != k.tags.end();
    if (!any) return false;
  }
  if (f.bound && k.bound_account != *f.bound) return false;
  if (!f.created.contains(k.created_at) || !f.last_used.contains(k.last_used_at)) return false;
  if (f.has_usage && (row.totals.requests > 0) != *f.has_usage) return false;
  return true;
}

std::vector<Cell> cells_of(const KeyRow& row, const ExportSpec& spec, const std::string& now_iso) {
  Context c{row, spec, now_iso};
  std::vector<Cell> cells;
  cells.reserve(spec.fields.size());
  for (const auto& f : spec.fields) {
    auto it = extractors().find(f);
    cells.push_back(it == extractors().end() ? Cell{} : it->second(c));
  }
  return cells;
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t j = 1; ok && j < len; ++j) {
      auto cc = static_cast<unsigned char>(s[i + j]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += 1;
    }
  }
  return out;
}

std::string csv_cell(const Cell& c) {
  std::string v;
  switch (c.kind) {
    case Cell::Kind::Null: return {};
    case Cell::Kind::Bool: return c.number ? "true" : "false";
    case Cell::Kind::Integer: return std::to_string(c.number);
    case Cell::Kind::Usd: return decimal_usd(c.number);
    case Cell::Kind::Text: v = valid_utf8(c.text); break;
    case Cell::Kind::List: append_json_list(v, c.list); break;
  }
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r'))
    v.insert(v.begin(), '\'');
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string quoted = "\"";
  for (char ch : v) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  return quoted + "\"";
}

std::unique_ptr<RowWriter> make_writer(const ExportSpec& spec, const ExportHeader& header) {
  switch (spec.format) {
    case Format::Csv: return std::make_unique<CsvWriter>(spec);
    case Format::Ndjson: return std::make_unique<NdjsonWriter>(spec);
    case Format::Json: break;
  }
  return std::make_unique<JsonWriter>(spec, header);
}

}  // namespace crs::key_export
