#include "accounts/account_fields.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <boost/json.hpp>

#include "core/secret.hpp"
#include "upstream/endpoint.hpp"

namespace crs::accounts {
namespace json = boost::json;
namespace {

constexpr const char* kTypes = "type: must be claude-console, claude-oauth, bedrock or openai-compatible";

// A member as text: strings as they are, numbers and booleans spelled out, null as "".
std::string text_of(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return {};
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  if (v.is_double()) {
    std::string s = json::serialize(v);
    return s;
  }
  return json::serialize(v);
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

std::optional<double> number_of(const json::value& v) {
  if (v.is_number()) return v.to_number<double>();
  if (!v.is_string()) return std::nullopt;
  std::string s = trimmed(v.get_string());
  double n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(n)) return std::nullopt;
  return n;
}

std::optional<int64_t> integer_of(const json::value& v) {
  auto n = number_of(v);
  if (!n || *n != std::floor(*n) || std::fabs(*n) > 9e15) return std::nullopt;
  return static_cast<int64_t>(*n);
}

std::optional<bool> bool_of(const json::value& v) {
  if (v.is_bool()) return v.get_bool();
  if (v.is_string() && (v.get_string() == "true" || v.get_string() == "false")) return v.get_string() == "true";
  return std::nullopt;
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string item = trimmed(text.substr(pos, comma - pos));
    if (!item.empty()) out.push_back(std::move(item));
    pos = comma + 1;
  }
  return out;
}

Result<std::vector<std::string>> models_of(const json::value& v) {
  if (v.is_null()) return std::vector<std::string>{};
  if (v.is_string()) return split(v.get_string());
  if (!v.is_array()) return Error{"models: must be an array of model names or a comma-separated list"};
  std::vector<std::string> out;
  for (const auto& m : v.get_array()) {
    if (!m.is_string()) return Error{"models: must be an array of model names"};
    out.emplace_back(m.get_string());
  }
  return out;
}

Result<std::map<std::string, std::string>> model_map_of(const json::value& v) {
  std::map<std::string, std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) {
    for (const auto& pair : split(v.get_string())) {
      size_t eq = pair.find('=');
      if (eq == std::string::npos) return Error{"modelMapping: \"" + pair + "\" is not requested=upstream"};
      std::string from = trimmed(std::string_view(pair).substr(0, eq));
      if (out.count(from)) return Error{"modelMapping: \"" + from + "\" is mapped twice"};
      out[from] = trimmed(std::string_view(pair).substr(eq + 1));
    }
    return out;
  }
  if (!v.is_object()) return Error{"modelMapping: must be an object {\"requested\": \"upstream\"}"};
  for (const auto& [from, to] : v.get_object()) {
    if (!to.is_string()) return Error{"modelMapping: the value for \"" + std::string(from) + "\" must be a string"};
    out[std::string(from)] = std::string(to.get_string());
  }
  return out;
}

// Each member applied to `a`; an error names the member.
Status apply_member(Account& a, std::string_view name, const json::value& v, bool creating, bool& credentials) {
  auto& s = a.scheduling;
  if (name == "name") {
    a.name = trimmed(text_of(v));
    if (a.name.empty() || a.name.size() > 100) return Error{"name: must be 1 to 100 characters"};
  } else if (name == "type") {
    if (!creating) return Error{"type: cannot be changed; add a new account instead"};
    a.type = text_of(v);
    if (a.type != kClaudeConsole && a.type != kClaudeOauth && a.type != kBedrock && a.type != kOpenaiCompatible)
      return Error{kTypes};
  } else if (name == "baseUrl") {
    a.base_url = trimmed(text_of(v));
  } else if (name == "region") {
    a.region = trimmed(text_of(v));
    bool valid = !a.region.empty() && a.region.size() <= 32 &&
                 std::all_of(a.region.begin(), a.region.end(), [](char c) { return std::islower(c) || std::isdigit(c) || c == '-'; });
    if (!valid) return Error{"region: must be an AWS region such as us-east-1"};
  } else if (name == "proxy") {
    a.proxy = trimmed(text_of(v));
    if (auto p = upstream::parse_proxy_url(a.proxy); !p) return Error{"proxy: " + p.error().message};
  } else if (name == "priority") {
    auto n = integer_of(v);
    if (!n || *n < 1 || *n > 100) return Error{"priority: must be a whole number between 1 and 100"};
    a.priority = static_cast<int>(*n);
  } else if (name == "apiKey" || name == "accessToken" || name == "refreshToken") {
    std::string secret = trimmed(text_of(v));
    if (secret.empty() || secret.size() > 4096) return Error{std::string(name) + ": must be 1 to 4096 characters"};
    (name == "apiKey" ? a.credentials.api_key : name == "accessToken" ? a.credentials.access_token
                                                                      : a.credentials.refresh_token) = secret;
    credentials = true;
  } else if (name == "awsAccessKeyId" || name == "awsSecretAccessKey" || name == "awsSessionToken") {
    std::string secret = trimmed(text_of(v));
    if (secret.size() > 4096 || (secret.empty() && name != "awsSessionToken"))
      return Error{std::string(name) + ": must be 1 to 4096 characters"};
    auto& c = a.credentials;
    (name == "awsAccessKeyId" ? c.aws_access_key_id : name == "awsSecretAccessKey" ? c.aws_secret_access_key
                                                                                  : c.aws_session_token) = secret;
    credentials = true;
  } else if (name == "expiresAt") {
    auto n = integer_of(v);
    if (!n || *n <= 0) return Error{"expiresAt: must be the access token's expiry in Unix milliseconds"};
    a.credentials.expires_at_ms = *n;
    credentials = true;
  } else if (name == "maxConcurrency") {
    auto n = integer_of(v);
    if (!n) return Error{"maxConcurrency: must be a whole number (0 = no cap)"};
    s.max_concurrency = static_cast<int>(std::clamp<int64_t>(*n, -1, 1000000));
  } else if (name == "weight" || name == "costFactor") {
    std::optional<double> n;
    if (!text_of(v).empty()) {
      n = number_of(v);
      if (!n) return Error{std::string(name) + ": must be a number (\"\" for the default)"};
    }
    (name == "weight" ? s.weight : s.cost_factor) = n;
  } else if (name == "plan") {
    s.plan = trimmed(text_of(v));
  } else if (name == "schedulable") {
    auto b = bool_of(v);
    if (!b) return Error{"schedulable: must be true or false"};
    s.schedulable = *b;
  } else if (name == "models") {
    auto m = models_of(v);
    if (!m) return m.error();
    s.models = std::move(*m);
  } else if (name == "modelMapping") {
    auto m = model_map_of(v);
    if (!m) return m.error();
    s.model_map = std::move(*m);
  } else {
    return Error{std::string(name) + ": not an account field"};
  }
  return Ok{};
}

// A Bedrock account signs with an access key pair or sends a Bedrock API key, not both.
Status check_bedrock(const Account& a) {
  if (a.region.empty()) return Error{"region: required for bedrock accounts"};
  const auto& c = a.credentials;
  bool signs = !c.aws_access_key_id.empty() || !c.aws_secret_access_key.empty();
  if (signs && (c.aws_access_key_id.empty() || c.aws_secret_access_key.empty()))
    return Error{"awsAccessKeyId and awsSecretAccessKey: both required to sign requests"};
  if (signs == !c.api_key.empty())
    return Error{"apiKey: give either a Bedrock API key or awsAccessKeyId and awsSecretAccessKey"};
  if (!c.aws_session_token.empty() && !signs) return Error{"awsSessionToken: only with awsAccessKeyId"};
  return Ok{};
}

// The account as a whole: what its type needs, and the scheduling fields together.
Status check_whole(const Account& a, bool creating) {
  if (a.name.empty()) return Error{"name: required"};
  if (a.type != kBedrock && !a.region.empty()) return Error{"region: only bedrock accounts have a region"};
  if (a.type != kBedrock && (!a.credentials.aws_access_key_id.empty() || !a.credentials.aws_secret_access_key.empty()))
    return Error{"awsAccessKeyId: only bedrock accounts sign with AWS keys"};
  if (a.type == kClaudeConsole) {
    if (a.base_url.empty()) return Error{"baseUrl: required for claude-console accounts"};
    if (a.credentials.api_key.empty()) return Error{"apiKey: required for claude-console accounts"};
  } else if (a.type == kClaudeOauth) {
    const auto& c = a.credentials;
    if (creating && (c.access_token.empty() || c.refresh_token.empty() || c.expires_at_ms <= 0))
      return Error{"accessToken, refreshToken and expiresAt: required for claude-oauth accounts"};
  } else if (a.type == kBedrock) {
    if (auto s = check_bedrock(a); !s) return s;
  } else if (a.type == kOpenaiCompatible) {
    if (a.base_url.empty()) return Error{"baseUrl: required for openai-compatible accounts (e.g. https://api.example.com/v1)"};
    if (a.credentials.api_key.empty()) return Error{"apiKey: required for openai-compatible accounts"};
    // An account that serves any model would take Claude traffic meant for Claude accounts.
    if (a.scheduling.models.empty())
      return Error{"models: required for openai-compatible accounts: the model names it serves (or give modelMapping)"};
  } else {
    return Error{kTypes};
  }
  if (auto b = upstream::parse_base_url(a.base_url); !b) return Error{"baseUrl: " + b.error().message};
  if (a.type != kClaudeOauth && !a.scheduling.plan.empty())
    return Error{"plan: only claude-oauth accounts have a subscription plan"};
  if (auto problem = validate(a.scheduling); !problem.empty()) return Error{problem};
  return Ok{};
}

}  // namespace

Status apply_account_changes(Account& account, const json::object& changes, bool creating, bool* credentials_changed) {
  Account next = account;
  bool credentials = false;
  // The type first: what else is required depends on it.
  if (auto* type = changes.if_contains("type")) {
    if (auto s = apply_member(next, "type", *type, creating, credentials); !s) return s;
  }
  for (const auto& [name, value] : changes) {
    if (name == "type") continue;
    if (auto s = apply_member(next, name, value, creating, credentials); !s) return s;
  }
  // An OpenAI-compatible account given only a mapping serves the names it maps.
  if (next.type == kOpenaiCompatible && next.scheduling.models.empty())
    for (const auto& [from, to] : next.scheduling.model_map) next.scheduling.models.push_back(from);
  // A Bedrock account's endpoint follows from its region unless one is given (a VPC endpoint),
  // and moves with it when the region changes.
  auto regional = [](const std::string& region) { return "https://bedrock-runtime." + region + ".amazonaws.com"; };
  bool derived = next.base_url.empty() || (!account.region.empty() && next.base_url == regional(account.region));
  if (next.type == kBedrock && derived && !next.region.empty()) next.base_url = regional(next.region);
  if (auto s = check_whole(next, creating); !s) return s;
  account = std::move(next);
  if (credentials_changed) *credentials_changed = credentials;
  return Ok{};
}

json::object account_json(const Account& a) {
  json::object creds;
  if (!a.credentials.api_key.empty()) creds["apiKey"] = mask_secret(a.credentials.api_key);
  if (!a.credentials.access_token.empty()) creds["accessToken"] = mask_secret(a.credentials.access_token);
  if (!a.credentials.refresh_token.empty()) creds["refreshToken"] = mask_secret(a.credentials.refresh_token);
  if (a.credentials.expires_at_ms) creds["expiresAt"] = a.credentials.expires_at_ms;
  // The AWS secrets show only their last four characters.
  auto last_four = [](const std::string& secret) { return "…" + secret.substr(secret.size() > 4 ? secret.size() - 4 : 0); };
  if (!a.credentials.aws_access_key_id.empty()) creds["awsAccessKeyId"] = mask_secret(a.credentials.aws_access_key_id);
  if (!a.credentials.aws_secret_access_key.empty()) creds["awsSecretAccessKey"] = last_four(a.credentials.aws_secret_access_key);
  if (!a.credentials.aws_session_token.empty()) creds["awsSessionToken"] = last_four(a.credentials.aws_session_token);
  const auto& s = a.scheduling;
  json::array models;
  for (const auto& m : s.models) models.emplace_back(m);
  json::object mapping;
  for (const auto& [from, to] : s.model_map) mapping[from] = to;
  json::object o{{"id", a.id},
                 {"name", a.name},
                 {"type", a.type},
                 {"baseUrl", a.base_url},
                 {"region", a.region.empty() ? json::value(nullptr) : json::value(a.region)},
                 {"proxy", a.proxy.empty() ? json::value(nullptr) : json::value(upstream::redact_proxy_url(a.proxy))},
                 {"priority", a.priority},
                 {"enabled", a.enabled},
                 {"status", a.status},
                 {"statusReason", a.status_reason},
                 {"unavailableUntil", a.unavailable_until_ms},
                 {"createdAt", a.created_at},
                 {"lastUsedAt", a.last_used_at.empty() ? json::value(nullptr) : json::value(a.last_used_at)},
                 {"credentials", std::move(creds)}};
  o["maxConcurrency"] = s.max_concurrency;
  o["weight"] = s.effective_weight();
  o["costFactor"] = s.effective_cost_factor(a.type);
  o["plan"] = s.plan.empty() ? json::value(nullptr) : json::value(s.plan);
  o["schedulable"] = s.schedulable;
  o["models"] = std::move(models);
  o["modelMapping"] = std::move(mapping);
  return o;
}

json::object group_json(const AccountGroup& g) {
  json::array members;
  for (const auto& m : g.members) members.emplace_back(m);
  return json::object{{"id", g.id}, {"name", g.name}, {"createdAt", g.created_at}, {"accounts", std::move(members)}};
}

}  // namespace crs::accounts
