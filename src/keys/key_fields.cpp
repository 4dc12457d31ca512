#include "keys/key_fields.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace crs::keys {
namespace json = boost::json;

namespace {

std::string to_text(bool b) { return b ? "true" : "false"; }

std::string list_text(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return json::serialize(a);
}

// Lists are JSON arrays in the hash; the Node.js service also wrote "a,b" and "all".
std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (!ec && v.is_array()) {
    for (const auto& item : v.as_array())
      if (item.is_string() && !item.as_string().empty()) out.emplace_back(item.as_string());
    return out;
  }
  if (!ec && v.is_string()) return parse_list(std::string(v.as_string()));  // a JSON string holding "a,b"
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int64_t int_field(const store::HashRecord& r, const std::string& name) {
  std::string v = store::field(r, name);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc() && n > 0 ? n : 0;
}

int64_t usd_field(const store::HashRecord& r, const std::string& name) {
  int64_t micro = 0;
  return parse_usd(store::field(r, name), micro) ? micro : 0;
}

bool is_iso8601(std::string_view s) {
  // 2026-11-26T08:00:00Z or 2026-11-26T08:00:00.000Z
  if (s.size() != 20 && s.size() != 24) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool digit = c >= '0' && c <= '9';
    switch (i) {
      case 4: case 7: if (c != '-') return false; break;
      case 10: if (c != 'T') return false; break;
      case 13: case 16: if (c != ':') return false; break;
      case 19: if (s.size() == 20 ? c != 'Z' : c != '.') return false; break;
      case 23: if (c != 'Z') return false; break;
      default: if (!digit) return false;
    }
  }
  int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int month = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
  int hour = (s[11] - '0') * 10 + (s[12] - '0'), minute = (s[14] - '0') * 10 + (s[15] - '0');
  int second = (s[17] - '0') * 10 + (s[18] - '0');
  if (month < 1 || month > 12) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  return day >= 1 && day <= days && hour < 24 && minute < 60 && second < 60;
}

// ---- reading one JSON member, with the field's name in every error ----

struct Reader {
  const json::object& changes;
  std::string error;

  const json::value* get(const char* name) { return changes.if_contains(name); }
  bool fail(const char* name, const std::string& why) {
    if (error.empty()) error = fmt::format("{}: {}", name, why);
    return false;
  }

  bool text(const char* name, std::string& out, size_t max_length, bool allow_empty = true) {
    auto* v = get(name);
    if (!v) return true;
    if (v->is_null() && allow_empty) {
      out.clear();
      return true;
    }
    if (!v->is_string()) return fail(name, "must be a string");
    std::string s(v->as_string());
    if (!allow_empty && s.empty()) return fail(name, "must not be empty");
    if (s.size() > max_length) return fail(name, fmt::format("at most {} characters", max_length));
    out = std::move(s);
    return true;
  }

  bool boolean(const char* name, bool& out) {
    auto* v = get(name);
    if (!v) return true;
    if (v->is_bool()) {
      out = v->as_bool();
      return true;
    }
    if (v->is_string() && (v->as_string() == "true" || v->as_string() == "false")) {
      out = v->as_string() == "true";
      return true;
    }
    return fail(name, "must be true or false");
  }

  bool integer(const char* name, int64_t& out, int64_t max) {
    auto* v = get(name);
    if (!v) return true;
    int64_t n = 0;
    if (v->is_int64()) n = v->as_int64();
    else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(max)) n = static_cast<int64_t>(v->as_uint64());
    else if (v->is_double() && std::floor(v->as_double()) == v->as_double() && std::abs(v->as_double()) < 1e15)
      n = static_cast<int64_t>(v->as_double());
    else if (v->is_string()) {
      std::string_view s = v->as_string();
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc() || end != s.data() + s.size()) return fail(name, "must be a whole number");
    } else {
      return fail(name, "must be a whole number");
    }
    if (n < 0 || n > max) return fail(name, fmt::format("must be between 0 and {}", max));
    out = n;
    return true;
  }

  // USD: a JSON number or a decimal string, at most 6 decimals, not negative.
  bool usd(const char* name, int64_t& micro) {
    auto* v = get(name);
    if (!v) return true;
    std::string text;
    if (v->is_string()) text = std::string(v->as_string());
    else if (v->is_int64() || v->is_uint64()) text = json::serialize(*v);
    else if (v->is_double()) {
      double scaled = v->as_double() * 1e6;
      if (std::abs(scaled - std::round(scaled)) > 1e-3) return fail(name, "at most 6 decimals");
      text = fmt::format("{:.6f}", v->as_double());
    }
    else return fail(name, "must be an amount in USD");
    int64_t parsed = 0;
    if (!parse_usd(text, parsed)) return fail(name, "must be a non-negative amount in USD with at most 6 decimals");
    micro = parsed;
    return true;
  }

  bool list(const char* name, std::vector<std::string>& out, const std::set<std::string>* known = nullptr) {
    auto* v = get(name);
    if (!v) return true;
    std::vector<std::string> items;
    if (v->is_null()) {
      out.clear();
      return true;
    }
    if (v->is_string()) {
      items = parse_list(std::string(v->as_string()));
    } else if (v->is_array()) {
      for (const auto& item : v->as_array()) {
        if (!item.is_string()) return fail(name, "must be a list of strings");
        items.emplace_back(item.as_string());
      }
    } else {
      return fail(name, "must be a list of strings");
    }
    for (const auto& item : items)
      if (item.empty() || item.size() > 200) return fail(name, "items must be 1 to 200 characters");
    if (items.size() > 100) return fail(name, "at most 100 items");
    if (known) {
      for (const auto& item : items)
        if (!known->count(item)) {
          std::string allowed;
          for (const auto& k : *known) allowed += (allowed.empty() ? "" : ", ") + k;
          return fail(name, fmt::format("unknown value \"{}\" (one of: {})", item, allowed));
        }
    }
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    out = std::move(items);
    return true;
  }
};

// Members the Node.js service's clients send that mean nothing here (or are derived):
// accepted and ignored, so its scripts keep working.
const std::set<std::string>& ignored_members() {
  static const std::set<std::string> s{"icon", "activationUnit", "enableModelRestriction", "enableClientRestriction",
                                       "isActivated", "apiKey", "id", "createdAt", "lastUsedAt", "activatedAt"};
  return s;
}

const std::set<std::string>& known_members() {
  static const std::set<std::string> s{"name",           "description",     "tags",           "isActive",
                                       "expirationMode", "expiresAt",       "activationDays", "concurrencyLimit",
                                       "rateLimitWindow", "rateLimitRequests", "rateLimitCost", "totalTokenLimit",
                                       "dailyCostLimit", "weeklyCostLimit", "totalCostLimit", "weeklyResetDay",
                                       "weeklyResetHour", "permissions",    "allowedModels",  "restrictedModels",
                                       "allowedClients", "claudeAccountId"};
  return s;
}

}  // namespace

const std::vector<ClientRule>& client_rules() {
  static const std::vector<ClientRule> rules{
      {"claude_code", "User-Agent starts with claude-cli/ (Claude Code)"},
      {"gemini_cli", "User-Agent starts with GeminiCLI/ (Gemini CLI)"},
      {"codex_cli", "User-Agent starts with codex_cli_rs/, codex_exec/ or codex_vscode/ (Codex)"},
      {"droid_cli", "User-Agent starts with factory-cli/ (Droid)"},
  };
  return rules;
}

std::string client_family(std::string_view user_agent) {
  auto starts = [&](std::string_view prefix) {
    return user_agent.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), user_agent.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
  };
  if (starts("claude-cli/")) return "claude_code";
  if (starts("GeminiCLI/")) return "gemini_cli";
  if (starts("codex_cli_rs/") || starts("codex_exec/") || starts("codex_vscode/")) return "codex_cli";
  if (starts("factory-cli/")) return "droid_cli";
  return "";
}

store::HashRecord to_hash(const ApiKey& k) {
  const auto& l = k.limits;
  return store::HashRecord{
      {"id", k.id},
      {"name", k.name},
      {"description", k.description},
      {"tags", list_text(k.tags)},
      {"apiKey", k.digest},
      {"isActive", to_text(k.enabled)},
      {"createdAt", k.created_at},
      {"lastUsedAt", k.last_used_at},
      {"expirationMode", k.expiration_mode},
      {"expiresAt", k.expires_at},
      {"activationDays", std::to_string(k.activation_days)},
      {"activationUnit", "days"},
      {"isActivated", to_text(!k.activated_at.empty())},
      {"activatedAt", k.activated_at},
      {"concurrencyLimit", std::to_string(l.concurrency)},
      {"rateLimitWindow", std::to_string(l.rate_window_minutes)},
      {"rateLimitRequests", std::to_string(l.rate_requests)},
      {"rateLimitCost", format_usd(l.rate_cost_micro)},
      {"totalTokenLimit", std::to_string(l.total_tokens)},
      {"dailyCostLimit", format_usd(l.daily_cost_micro)},
      {"weeklyCostLimit", format_usd(l.weekly_cost_micro)},
      {"totalCostLimit", format_usd(l.total_cost_micro)},
      {"weeklyResetDay", std::to_string(l.weekly_reset_day)},
      {"weeklyResetHour", std::to_string(l.weekly_reset_hour)},
      {"permissions", list_text(k.permissions)},
      {"allowedModels", list_text(k.allowed_models)},
      {"enableModelRestriction", to_text(!k.denied_models.empty())},
      {"restrictedModels", list_text(k.denied_models)},
      {"enableClientRestriction", to_text(!k.allowed_clients.empty())},
      {"allowedClients", list_text(k.allowed_clients)},
      {"claudeAccountId", k.bound_account},
  };
}

ApiKey from_hash(const store::HashRecord& r) {
  ApiKey k;
  k.id = store::field(r, "id");
  k.name = store::field(r, "name");
  k.description = store::field(r, "description");
  k.tags = parse_list(store::field(r, "tags"));
  k.digest = store::field(r, "apiKey");
  k.enabled = store::field(r, "isActive", "true") == "true";
  k.created_at = store::field(r, "createdAt");
  k.last_used_at = store::field(r, "lastUsedAt");
  k.expiration_mode = store::field(r, "expirationMode", "fixed") == "activation" ? "activation" : "fixed";
  k.expires_at = store::field(r, "expiresAt");
  k.activation_days = int_field(r, "activationDays");
  if (store::field(r, "activationUnit") == "hours") k.activation_days = (k.activation_days + 23) / 24;
  k.activated_at = store::field(r, "activatedAt");
  auto& l = k.limits;
  l.concurrency = int_field(r, "concurrencyLimit");
  l.rate_window_minutes = int_field(r, "rateLimitWindow");
  l.rate_requests = int_field(r, "rateLimitRequests");
  l.rate_cost_micro = usd_field(r, "rateLimitCost");
  l.total_tokens = int_field(r, "totalTokenLimit");
  l.daily_cost_micro = usd_field(r, "dailyCostLimit");
  l.weekly_cost_micro = usd_field(r, "weeklyCostLimit");
  l.total_cost_micro = usd_field(r, "totalCostLimit");
  l.weekly_reset_day = static_cast<int>(std::clamp<int64_t>(int_field(r, "weeklyResetDay"), 1, 7));
  l.weekly_reset_hour = static_cast<int>(std::clamp<int64_t>(int_field(r, "weeklyResetHour"), 0, 23));
  k.permissions = parse_list(store::field(r, "permissions"));
  if (k.permissions.size() == 1 && k.permissions[0] == "all") k.permissions.clear();
  k.allowed_models = parse_list(store::field(r, "allowedModels"));
  if (store::field(r, "enableModelRestriction") == "true") k.denied_models = parse_list(store::field(r, "restrictedModels"));
  if (store::field(r, "enableClientRestriction") == "true") k.allowed_clients = parse_list(store::field(r, "allowedClients"));
  k.bound_account = store::field(r, "claudeAccountId");
  return k;
}

Status apply_changes(ApiKey& key, const json::object& changes) {
  for (const auto& member : changes) {
    std::string name(member.key());
    if (!known_members().count(name) && !ignored_members().count(name)) return Error{name + ": unknown field"};
  }
  ApiKey k = key;
  Reader in{changes, {}};
  auto& l = k.limits;
  static const std::set<std::string> families(std::begin(kPermissionFamilies), std::end(kPermissionFamilies));
  std::set<std::string> clients;
  for (const auto& rule : client_rules()) clients.insert(rule.id);
  int64_t reset_day = l.weekly_reset_day, reset_hour = l.weekly_reset_hour;

  in.text("name", k.name, 100, false);
  in.text("description", k.description, 500);
  in.list("tags", k.tags);
  in.boolean("isActive", k.enabled);
  in.text("expirationMode", k.expiration_mode, 20, false);
  in.text("expiresAt", k.expires_at, 40);
  in.integer("activationDays", k.activation_days, 36500);
  in.integer("concurrencyLimit", l.concurrency, 100000);
  in.integer("rateLimitWindow", l.rate_window_minutes, 525600);
  in.integer("rateLimitRequests", l.rate_requests, 1'000'000'000);
  in.usd("rateLimitCost", l.rate_cost_micro);
  in.integer("totalTokenLimit", l.total_tokens, 1'000'000'000'000'000);
  in.usd("dailyCostLimit", l.daily_cost_micro);
  in.usd("weeklyCostLimit", l.weekly_cost_micro);
  in.usd("totalCostLimit", l.total_cost_micro);
  in.integer("weeklyResetDay", reset_day, 7);
  in.integer("weeklyResetHour", reset_hour, 23);
  if (auto* v = in.get("permissions"); v && v->is_string() && v->as_string() == "all") k.permissions.clear();
  else in.list("permissions", k.permissions, &families);
  in.list("allowedModels", k.allowed_models);
  in.list("restrictedModels", k.denied_models);
  in.list("allowedClients", k.allowed_clients, &clients);
  in.text("claudeAccountId", k.bound_account, 200);
  if (!in.error.empty()) return Error{in.error};

  // The key as a whole.
  if (k.expiration_mode != "fixed" && k.expiration_mode != "activation")
    return Error{"expirationMode: \"fixed\" or \"activation\""};
  if (!k.expires_at.empty() && !is_iso8601(k.expires_at))
    return Error{"expiresAt: an ISO 8601 UTC time such as 2027-01-31T00:00:00Z"};
  if (k.expiration_mode == "activation" && k.activation_days == 0)
    return Error{"activationDays: required (> 0) when expirationMode is \"activation\""};
  if (reset_day < 1) return Error{"weeklyResetDay: 1 (Monday) to 7 (Sunday)"};
  l.weekly_reset_day = static_cast<int>(reset_day);
  l.weekly_reset_hour = static_cast<int>(reset_hour);
  bool window_limits = l.rate_requests > 0 || l.rate_cost_micro > 0;
  if (window_limits && l.rate_window_minutes == 0)
    return Error{"rateLimitWindow: required (minutes) when rateLimitRequests or rateLimitCost is set"};
  if (!window_limits && l.rate_window_minutes > 0)
    return Error{"rateLimitWindow: set rateLimitRequests or rateLimitCost too (the window limits nothing alone)"};
  if (!k.bound_account.empty() && k.bound_account.starts_with("group:") && k.bound_account.size() == 6)
    return Error{"claudeAccountId: group id missing after \"group:\""};
  key = std::move(k);
  return Ok{};
}

json::object to_json(const ApiKey& k) {
  const auto& l = k.limits;
  auto strings = [](const std::vector<std::string>& items) {
    json::array a;
    for (const auto& s : items) a.emplace_back(s);
    return a;
  };
  auto usd = [](int64_t micro) { return json::value(static_cast<double>(micro) / 1e6); };
  auto date = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
  json::object o;
  o["id"] = k.id;
  o["name"] = k.name;
  o["description"] = k.description;
  o["tags"] = strings(k.tags);
  o["isActive"] = k.enabled;
  o["createdAt"] = k.created_at;
  o["lastUsedAt"] = date(k.last_used_at);
  o["expirationMode"] = k.expiration_mode;
  o["expiresAt"] = date(k.expires_at);
  o["activationDays"] = k.activation_days;
  o["isActivated"] = !k.activated_at.empty();
  o["activatedAt"] = date(k.activated_at);
  o["concurrencyLimit"] = l.concurrency;
  o["rateLimitWindow"] = l.rate_window_minutes;
  o["rateLimitRequests"] = l.rate_requests;
  o["rateLimitCost"] = usd(l.rate_cost_micro);
  o["totalTokenLimit"] = l.total_tokens;
  o["dailyCostLimit"] = usd(l.daily_cost_micro);
  o["weeklyCostLimit"] = usd(l.weekly_cost_micro);
  o["totalCostLimit"] = usd(l.total_cost_micro);
  o["weeklyResetDay"] = l.weekly_reset_day;
  o["weeklyResetHour"] = l.weekly_reset_hour;
  o["permissions"] = strings(k.permissions);
  o["allowedModels"] = strings(k.allowed_models);
  o["restrictedModels"] = strings(k.denied_models);
  o["allowedClients"] = strings(k.allowed_clients);
  o["claudeAccountId"] = date(k.bound_account);
  return o;
}

}  // namespace crs::keys
