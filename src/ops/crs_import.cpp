#include "ops/crs_import.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "accounts/account_store.hpp"
#include "admin/credentials.hpp"
#include "admin/password.hpp"
#include "core/crypto.hpp"
#include "core/time.hpp"
#include "keys/key_fields.hpp"
#include "limits/limits.hpp"
#include "store/hash_record.hpp"
#include "store/keyspace.hpp"
#include "usage/aggregator.hpp"

namespace crs::ops {
namespace {

namespace json = boost::json;
namespace ks = store::keyspace;
using store::HashRecord;
using store::make_command;
using store::RedisCommand;

// The Node.js service's names (spec/crs-compat.md §8).
constexpr std::string_view kCrsConsoleIndex = "claude_console_account:index";
constexpr std::string_view kCrsConsolePrefix = "claude_console_account:";
constexpr std::string_view kCrsOauthIndex = "claude:account:index";
constexpr std::string_view kCrsOauthPrefix = "claude:account:";
constexpr std::string_view kCrsGroups = "account_groups";
constexpr std::string_view kConsoleSalt = "claude-console-salt";
constexpr std::string_view kOauthSalt = "salt";

std::optional<std::string> unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n;
  }
  return true;
}

int to_int(const std::string& s, int fallback) {
  try {
    return s.empty() ? fallback : std::stoi(s);
  } catch (...) {
    return fallback;
  }
}

std::string encode(std::string_view s) { return boost::urls::encode(s, boost::urls::unreserved_chars); }

// {type, host, port, username, password} -> "socks5://user:pass@host:port" ("" for none). A
// proxy that cannot be read is an error: the account must not go out directly instead.
Result<std::string> proxy_url(const std::string& stored) {
  if (stored.empty() || stored == "null") return std::string();
  boost::system::error_code ec;
  auto v = json::parse(stored, ec);
  if (ec || !v.is_object()) return Error{"its proxy is not a JSON object"};
  const auto& o = v.as_object();
  auto text = [&](const char* name) -> std::string {
    auto* m = o.if_contains(name);
    if (!m) return "";
    if (m->is_string()) return std::string(m->as_string());
    if (m->is_int64()) return std::to_string(m->as_int64());
    return "";
  };
  std::string type = text("type"), host = text("host"), port = text("port");
  if (host.empty() && port.empty()) return std::string();  // the form left empty: no proxy
  if (host.empty() || port.empty()) return Error{"its proxy has no host or no port"};
  if (type.empty()) type = "http";
  if (type != "socks5" && type != "http" && type != "https") return Error{"its proxy type \"" + type + "\" is unknown"};
  std::string auth;
  if (!text("username").empty()) auth = encode(text("username")) + ":" + encode(text("password")) + "@";
  return fmt::format("{}://{}{}:{}", type, auth, host, port);
}

// The account's state as the Node.js service left it, in our terms (a rate limit counts
// until its end; an error is left to our health checks).
void import_state(const HashRecord& r, accounts::Account& a, std::string& note) {
  a.enabled = store::field(r, "isActive", "true") != "false";
  // Only its shared accounts are in the Node.js service's pool; dedicated ones serve their keys.
  std::string type = store::field(r, "accountType", "shared");
  a.scheduling.schedulable = (type == "shared" || type.empty()) && store::field(r, "schedulable", "true") != "false";
  // Stopped by the service itself (a rate limit, the five-hour window, errors), not by an admin:
  // usable again when the stop ends.
  bool auto_stopped = store::field(r, "rateLimitAutoStopped") == "true" ||
                      store::field(r, "fiveHourAutoStopped") == "true" ||
                      store::field(r, "tempErrorAutoStopped") == "true";
  if (auto_stopped) {
    a.enabled = true;
    a.scheduling.schedulable = type == "shared" || type.empty();
    int64_t until = parse_iso8601_ms(store::field(r, "rateLimitEndAt"));
    if (until == 0 && parse_iso8601_ms(store::field(r, "rateLimitedAt")) > 0)
      until = parse_iso8601_ms(store::field(r, "rateLimitedAt")) + to_int(store::field(r, "rateLimitDuration"), 60) * 60000LL;
    if (until == 0) until = parse_iso8601_ms(store::field(r, "sessionWindowEnd"));
    if (until > unix_ms()) {
      a.status = std::string(accounts::kStatusRateLimited);
      a.unavailable_until_ms = until;
      a.status_reason = "imported: stopped by the Node.js service until its limit ends";
    }
  }
  std::string status = store::field(r, "status");
  if (status == "unauthorized" || status == "blocked") {
    a.status = status;
    a.status_reason = "imported: " + store::field(r, "errorMessage", status + " in the Node.js service");
  }
  int64_t limited_until = parse_iso8601_ms(store::field(r, "rateLimitEndAt"));
  if (!auto_stopped && store::field(r, "rateLimitStatus") == "limited" && limited_until > unix_ms()) {
    a.status = std::string(accounts::kStatusRateLimited);
    a.unavailable_until_ms = limited_until;
    a.status_reason = "imported: rate-limited in the Node.js service";
  }
  if (status == "error" || status == "temp_error")
    note = "was in error in the Node.js service (" + store::field(r, "errorMessage") + "); our health checks judge it again";
}

void import_models(const std::string& stored, accounts::AccountScheduling& s) {
  boost::system::error_code ec;
  auto v = json::parse(stored, ec);
  if (ec) return;
  if (v.is_array()) {
    for (const auto& m : v.as_array())
      if (m.is_string() && !m.as_string().empty()) s.models.emplace_back(m.as_string());
  } else if (v.is_object()) {
    // A mapping restricts the account to its models, as in the Node.js service.
    for (const auto& [from, to] : v.as_object())
      if (to.is_string() && !from.empty()) {
        s.model_map[std::string(from)] = std::string(to.as_string());
        s.models.emplace_back(from);
      }
  }
}

Result<accounts::Account> console_account(const HashRecord& r, const ImportOptions& o, std::string& note) {
  accounts::Account a;
  a.id = store::field(r, "id");
  a.name = store::field(r, "name");
  a.type = std::string(accounts::kClaudeConsole);
  a.base_url = store::field(r, "apiUrl");
  while (a.base_url.size() > 1 && a.base_url.back() == '/') a.base_url.pop_back();
  if (a.base_url.size() > 12 && a.base_url.ends_with("/v1/messages")) a.base_url.resize(a.base_url.size() - 12);
  auto secret = crs_decrypt(o.crs_encryption_key, kConsoleSalt, store::field(r, "apiKey"));
  if (!secret) return Error{"its API key does not decrypt (" + secret.error().message + ")"};
  a.credentials.api_key = std::move(*secret);
  auto proxy = proxy_url(store::field(r, "proxy"));
  if (!proxy) return proxy.error();
  a.proxy = std::move(*proxy);
  a.priority = to_int(store::field(r, "priority"), 50);
  a.created_at = store::field(r, "createdAt");
  a.scheduling.max_concurrency = std::max(0, to_int(store::field(r, "maxConcurrentTasks"), 0));
  import_models(store::field(r, "supportedModels"), a.scheduling);
  import_state(r, a, note);
  return a;
}

Result<accounts::Account> oauth_account(const HashRecord& r, const ImportOptions& o, std::string& note) {
  accounts::Account a;
  a.id = store::field(r, "id");
  a.name = store::field(r, "name");
  a.type = std::string(accounts::kClaudeOauth);
  a.base_url = o.oauth_base_url;
  auto bundle = crs_decrypt(o.crs_encryption_key, kOauthSalt, store::field(r, "claudeAiOauth"));
  if (bundle) {
    boost::system::error_code ec;
    auto v = json::parse(*bundle, ec);
    if (!ec && v.is_object()) {
      const auto& b = v.as_object();
      if (auto* t = b.if_contains("accessToken"); t && t->is_string()) a.credentials.access_token = t->as_string();
      if (auto* t = b.if_contains("refreshToken"); t && t->is_string()) a.credentials.refresh_token = t->as_string();
      if (auto* t = b.if_contains("expiresAt"); t && t->is_number())
        a.credentials.expires_at_ms = static_cast<int64_t>(t->to_number<double>());
    }
  }
  if (a.credentials.refresh_token.empty()) {  // older records: the tokens as their own fields
    auto access = crs_decrypt(o.crs_encryption_key, kOauthSalt, store::field(r, "accessToken"));
    // A setup-token account has an access token and no refresh token.
    auto refresh = crs_decrypt(o.crs_encryption_key, kOauthSalt, store::field(r, "refreshToken"));
    if (!refresh && !access) return Error{"its tokens do not decrypt (" + refresh.error().message + ")"};
    if (refresh) a.credentials.refresh_token = std::move(*refresh);
    if (access) a.credentials.access_token = std::move(*access);
    try {
      a.credentials.expires_at_ms = std::stoll(store::field(r, "expiresAt", "0"));
    } catch (...) {
    }
  }
  auto proxy = proxy_url(store::field(r, "proxy"));
  if (!proxy) return proxy.error();
  a.proxy = std::move(*proxy);
  a.priority = to_int(store::field(r, "priority"), 50);
  a.created_at = store::field(r, "createdAt");
  import_state(r, a, note);
  return a;
}

// The key's record in our form; `note` says what of it was not carried over.
keys::ApiKey key_from(HashRecord r, std::string& note) {
  // Theirs are JavaScript numbers as text ("30.299999999999997"): ours take six decimals.
  for (const char* f : {"dailyCostLimit", "totalCostLimit", "rateLimitCost", "weeklyCostLimit"})
    if (!store::field(r, f).empty()) r[f] = fmt::format("{:.6f}", std::strtod(r[f].c_str(), nullptr));
  if (store::field(r, "claudeAccountId").empty() && !store::field(r, "claudeConsoleAccountId").empty())
    r["claudeAccountId"] = store::field(r, "claudeConsoleAccountId");
  keys::ApiKey k = keys::from_hash(r);
  std::vector<std::string> dropped;
  if (to_int(store::field(r, "tokenLimit"), 0) > 0) dropped.push_back("tokenLimit (legacy window tokens)");
  if (store::field(r, "weeklyOpusCostLimit", "0") != "0" && !store::field(r, "weeklyOpusCostLimit").empty())
    dropped.push_back("weeklyOpusCostLimit (Opus only; set weeklyCostLimit if wanted)");
  for (const char* other : {"geminiAccountId", "openaiAccountId", "azureOpenaiAccountId", "bedrockAccountId", "droidAccountId"})
    if (!store::field(r, other).empty()) dropped.push_back(std::string(other) + " binding");
  if (!dropped.empty()) note = "not carried over: " + fmt::format("{}", fmt::join(dropped, ", "));
  return k;
}

// ---- usage ----

// Writes a hash only where ours has none (a second run, or usage of our own, is never added to).
// KEYS[1] the hash; ARGV[1] a TTL in ms (0: none), then field/value pairs.
constexpr std::string_view kWriteIfAbsentScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
)lua";

// The Node.js service's usage names for one key (a uuid), in groups.
struct KeyUsage {
  std::vector<std::string> alltime_models;  // usage:<k>:model:alltime:<m>
  std::vector<std::string> buckets;          // usage:{daily,monthly,hourly}:<k>:<b>, usage:<k>:model:{g}:<m>:<b>
};

// An imported account's usage: its totals and its day, month and hour buckets, named as ours.
struct AccountUsage {
  bool totals = false;               // account_usage:<a>
  std::vector<std::string> buckets;  // account_usage:{daily,monthly,hourly}:<a>:<b>
};

void sort_account_usage_name(const std::string& name, const std::set<std::string>& ids,
                             std::map<std::string, AccountUsage>& out) {
  constexpr size_t kId = 36;
  std::string_view n(name);
  if (!n.starts_with("account_usage:")) return;
  std::string_view rest = n.substr(14);
  if (rest.size() == kId && ids.count(std::string(rest))) {
    out[std::string(rest)].totals = true;
    return;
  }
  for (std::string_view g : {"daily:", "monthly:", "hourly:"})
    if (rest.starts_with(g) && rest.size() > g.size() + kId + 1 && rest[g.size() + kId] == ':' &&
        ids.count(std::string(rest.substr(g.size(), kId))))
      return out[std::string(rest.substr(g.size(), kId))].buckets.push_back(name);
}

// Sorts a SCAN's usage names by the imported key they belong to.
void sort_usage_name(const std::string& name, const std::set<std::string>& keys, std::map<std::string, KeyUsage>& out) {
  constexpr size_t kId = 36;
  std::string_view n(name);
  if (!n.starts_with("usage:")) return;
  std::string_view rest = n.substr(6);
  for (std::string_view g : {"daily:", "monthly:", "hourly:"})
    if (rest.starts_with(g) && rest.size() > g.size() + kId && keys.count(std::string(rest.substr(g.size(), kId))))
      return out[std::string(rest.substr(g.size(), kId))].buckets.push_back(name);
  if (rest.size() <= kId || !keys.count(std::string(rest.substr(0, kId)))) return;
  std::string id(rest.substr(0, kId));
  std::string_view tail = rest.substr(kId);
  if (tail.starts_with(":model:alltime:")) out[id].alltime_models.emplace_back(tail.substr(15));
  else if (tail.starts_with(":model:")) out[id].buckets.push_back(name);
}

int64_t num(const HashRecord& r, const char* name) { return std::atoll(store::field(r, name, "0").c_str()); }

// A bucket or totals of an account in our form: allTokens and tokens where missing (theirs keep
// no cost per account, so none is made up).
HashRecord account_record(HashRecord r, bool totals) {
  auto field = [&](const char* bucket_name, const char* total_name) { return num(r, totals ? total_name : bucket_name); };
  int64_t in = field("inputTokens", "totalInputTokens"), out = field("outputTokens", "totalOutputTokens");
  std::string all = totals ? "totalAllTokens" : "allTokens", tokens = totals ? "totalTokens" : "tokens";
  if (!r.count(all))
    r[all] = std::to_string(in + out + field("cacheCreateTokens", "totalCacheCreateTokens") +
                            field("cacheReadTokens", "totalCacheReadTokens"));
  if (!r.count(tokens)) r[tokens] = std::to_string(in + out);
  return r;
}

int64_t usd_micro(const std::string& usd) {
  try {
    return usd.empty() ? 0 : static_cast<int64_t>(std::llround(std::stod(usd) * 1e6));
  } catch (...) {
    return 0;
  }
}

// A bucket of theirs in our form: allTokens and tokens where missing, costMicro from `cost_micro`
// (the per-model buckets carry theirs as ratedCostMicro).
HashRecord our_bucket(HashRecord r, int64_t cost_micro) {
  int64_t in = num(r, "inputTokens"), out = num(r, "outputTokens");
  if (!r.count("allTokens")) r["allTokens"] = std::to_string(in + out + num(r, "cacheCreateTokens") + num(r, "cacheReadTokens"));
  if (!r.count("tokens")) r["tokens"] = std::to_string(in + out);
  if (r.count("ratedCostMicro")) cost_micro = num(r, "ratedCostMicro");
  r["costMicro"] = std::to_string(cost_micro);
  return r;
}

// The cost string of a day/month/hour bucket of a key: usage:cost:<g>:<k>:<bucket>.
std::string cost_key_of(const std::string& bucket) {
  for (std::string_view g : {"daily:", "monthly:", "hourly:"})
    if (bucket.starts_with("usage:" + std::string(g))) return "usage:cost:" + bucket.substr(6);
  return "";
}

RedisCommand write_if_absent(const std::string& key, const HashRecord& fields, int64_t ttl_ms) {
  RedisCommand c = make_command("EVAL", std::string(kWriteIfAbsentScript), "1", key, std::to_string(std::max<int64_t>(ttl_ms, 0)));
  for (const auto& [f, v] : fields) {
    c.push_back(f);
    c.push_back(v);
  }
  return c;
}


// Why a key of theirs is not imported ("" when it is fine): an id that is not a UUID or that
// its record contradicts (a record naming one of ours would overwrite it), a cost limit or an
// expiry that does not parse (a limit read as 0 would be none at all; an expiry compared as
// text would be wrong).
std::string key_problem(const std::string& id, const HashRecord& r) {
  if (!crypto::is_uuid(id)) return "its id is not a UUID";
  if (store::field(r, "id", id) != id) return "its record names another id";
  for (const char* f : {"dailyCostLimit", "totalCostLimit", "rateLimitCost", "weeklyCostLimit"}) {
    std::string v = store::field(r, f);
    if (v.empty()) continue;
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || !std::isfinite(d) || d < 0) return std::string(f) + " \"" + v + "\" is not an amount";
  }
  std::string expires = store::field(r, "expiresAt");
  if (!expires.empty() && parse_iso8601_ms(expires) == 0) return "its expiry \"" + expires + "\" is not an ISO-8601 time";
  return "";
}

// A counter of theirs that is not a whole number ("" when all are): read as 0 it would lose
// usage, so the key is not imported.
std::string counter_problem(const HashRecord& r, const std::string& where) {
  for (const auto& f : usage::kCounterFields)
    for (const char* name : {f.bucket, f.total}) {
      auto it = r.find(name);
      if (it == r.end()) continue;
      const std::string& v = it->second;
      bool whole = !v.empty() && v.size() < 19 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!whole) return fmt::format("{} {} \"{}\" is not a whole number", where, name, v);
    }
  return "";
}

std::string usage_note(size_t buckets) { return fmt::format("{} bucket(s) with the totals", buckets); }

std::string members_note(size_t missing) {
  if (missing == 0) return "";
  return fmt::format("{} member(s) not imported (not Claude accounts, or failed)", missing);
}

struct Importer {
  store::RedisClient& source;
  store::RedisClient& target;
  const ImportOptions& o;
  ImportReport report;
  std::vector<keys::ApiKey> pending_keys;
  std::vector<std::string> pending_notes;

  void add(std::string kind, std::string id, std::string name, std::string outcome, std::string note) {
    report.items.push_back(ImportItem{std::move(kind), std::move(id), std::move(name), std::move(outcome), std::move(note)});
  }

  Task<Result<std::vector<HashRecord>>> read_records(std::string prefix, std::vector<std::string> ids) {
    std::vector<RedisCommand> reads;
    for (const auto& id : ids) reads.push_back(make_command("HGETALL", prefix + id));
    std::vector<HashRecord> out;
    if (reads.empty()) co_return out;
    auto replies = co_await source.pipeline(std::move(reads));
    if (!replies) co_return replies.error();
    for (const auto& r : *replies) out.push_back(r.is_error() ? HashRecord{} : store::to_record(r));
    co_return out;
  }

  Task<Result<std::vector<std::string>>> members(store::RedisClient& redis, std::string set) {
    auto reply = co_await redis.command(make_command("SMEMBERS", set));
    if (!reply) co_return reply.error();
    std::vector<std::string> out;
    for (auto& e : reply->elements) out.push_back(std::move(e.str));
    std::sort(out.begin(), out.end());
    co_return out;
  }

  Task<bool> exists(std::string key) {
    auto reply = co_await target.command(make_command("EXISTS", key));
    co_return reply && reply->as_int().value_or(0) == 1;
  }

  Task<Status> accounts_of(std::string index, std::string prefix, bool console) {
    auto ids = co_await members(source, index);
    if (!ids) co_return ids.error();
    auto records = co_await read_records(prefix, *ids);
    if (!records) co_return records.error();
    accounts::AccountStore store(target, o.encryption_key);
    for (size_t i = 0; i < ids->size(); ++i) {
      const auto& r = (*records)[i];
      const std::string& id = (*ids)[i];
      std::string name = store::field(r, "name"), note;
      if (r.empty()) {
        add("account", id, "", "skipped", "listed in its index without a record");
        continue;
      }
      Result<accounts::Account> a = Error{""};
      if (console) a = console_account(r, o, note);
      else a = oauth_account(r, o, note);
      if (!a) {
        add("account", id, name, "failed", a.error().message + ": not imported");
        continue;
      }
      if (co_await exists(ks::account(id))) {
        add("account", id, name, "exists", "");
        continue;
      }
      if (!o.dry_run) {
        auto put = co_await store.add_imported(std::move(*a));
        if (!put) {
          add("account", id, name, "failed", put.error().message);
          continue;
        }
      }
      add("account", id, name, "imported", note);
    }
    co_return Ok{};
  }

  Task<Status> groups() {
    auto ids = co_await members(source, std::string(kCrsGroups));
    if (!ids) co_return ids.error();
    auto records = co_await read_records("account_group:", *ids);
    if (!records) co_return records.error();
    accounts::AccountStore store(target, o.encryption_key);
    for (size_t i = 0; i < ids->size(); ++i) {
      const auto& r = (*records)[i];
      const std::string& id = (*ids)[i];
      std::string name = store::field(r, "name");
      if (r.empty()) {
        add("group", id, "", "skipped", "listed without a record");
        continue;
      }
      if (store::field(r, "platform", "claude") != "claude") {
        add("group", id, name, "skipped", "a " + store::field(r, "platform") + " group: this relay has no such accounts");
        continue;
      }
      if (co_await exists(ks::account_group(id))) {
        add("group", id, name, "exists", "");
        continue;
      }
      auto listed = co_await members(source, "account_group_members:" + id);
      if (!listed) co_return listed.error();
      accounts::AccountGroup g;
      g.id = id;
      g.name = name;
      g.created_at = store::field(r, "createdAt");
      size_t missing = 0;
      for (const auto& m : *listed) {
        bool present = co_await exists(ks::account(m));
        if (!present && o.dry_run) present = imported("account", m);
        if (present) g.members.push_back(m);
        else ++missing;
      }
      std::string note = members_note(missing);
      if (!o.dry_run) {
        auto put = co_await store.add_imported_group(std::move(g));
        if (!put) {
          add("group", id, name, "failed", put.error().message);
          continue;
        }
      }
      add("group", id, name, "imported", note);
    }
    co_return Ok{};
  }

  bool imported(std::string_view kind, const std::string& id) const {
    return std::any_of(report.items.begin(), report.items.end(),
                       [&](const ImportItem& i) { return i.kind == kind && i.id == id && i.outcome == "imported"; });
  }

  Task<Status> keys() {
    auto map = co_await source.command(make_command("HGETALL", std::string(ks::kApiKeyHashMap)));
    if (!map) co_return map.error();
    std::vector<std::pair<std::string, std::string>> entries;  // digest, id
    for (size_t i = 0; i + 1 < map->elements.size(); i += 2)
      entries.emplace_back(map->elements[i].str, map->elements[i + 1].str);
    std::vector<std::string> ids;
    for (const auto& [digest, id] : entries) ids.push_back(id);
    auto records = co_await read_records(ks::api_key(""), ids);
    if (!records) co_return records.error();
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& [digest, id] = entries[i];
      const auto& r = (*records)[i];
      std::string name = store::field(r, "name"), note;
      if (r.empty()) {
        add("key", id, "", "skipped", "its digest is indexed but it has no record");
        continue;
      }
      if (store::field(r, "isDeleted") == "true") {
        add("key", id, name, "skipped", "deleted in the Node.js service");
        continue;
      }
      if (!crypto::equal_constant_time(store::field(r, "apiKey"), digest)) {
        add("key", id, name, "skipped", "its record does not hold the indexed digest (an old secret)");
        continue;
      }
      std::string refused = key_problem(id, r);
      if (!refused.empty()) {
        add("key", id, name, "failed", refused + ": not imported");
        continue;
      }
      keys::ApiKey k = key_from(r, note);
      if (co_await exists(ks::api_key(id))) {
        add("key", id, name, "exists", "");
        continue;
      }
      // Written after its usage and limit counters (usage()): a key that authenticates before
      // its counters are seeded would start them at zero and forget what it spent.
      pending_keys.push_back(std::move(k));
      pending_notes.push_back(std::move(note));
    }
    co_return Ok{};
  }

  Task<Status> admin_login() {
    auto reply = co_await source.command(make_command("HGETALL", "session:admin_credentials"));
    if (!reply) co_return reply.error();
    HashRecord theirs = store::to_record(*reply);
    std::string username = store::field(theirs, "username"), hash = store::field(theirs, "passwordHash");
    if (username.empty() || hash.empty()) {
      add("admin", "", "", "skipped", "the Node.js service has no admin login in Redis");
      co_return Ok{};
    }
    if (!admin::is_imported_bcrypt(hash)) {
      add("admin", "", username, "failed", "its password hash is not bcrypt");
      co_return Ok{};
    }
    // A cost the login check refuses (it must not take minutes) would lock the admin out.
    int cost = std::atoi(hash.substr(4, 2).c_str());
    if (cost < 4 || cost > 14) {
      add("admin", "", username, "failed", fmt::format("its bcrypt cost {} is outside 4..14: its password would never "
                                                       "be accepted here; set a password with crs admin instead", cost));
      co_return Ok{};
    }
    // What marks the import is a digest of its hash: the hash itself must not outlive its
    // replacement by ours.
    std::string marker = crypto::sha256_hex(hash);
    auto ours = co_await admin::load_credentials(target);
    if (!ours) co_return ours.error();
    // Taken before (its hash may since have been replaced by ours at a login): nothing to do.
    auto taken = co_await target.command(make_command("HGET", std::string(admin::kCredentialsKey), "importedHash"));
    if (!taken) co_return taken.error();
    if (*ours && (*ours)->username == username && ((*ours)->password_hash == hash || taken->str == marker)) {
      add("admin", "", username, "exists", "");
      co_return Ok{};
    }
    if (!o.admin) {
      add("admin", "", username, "skipped", "this relay keeps its own admin login; --admin takes the Node.js service's");
      co_return Ok{};
    }
    if (!o.dry_run) {
      BlockingPool pool(1);
      auto replaced = co_await admin::replace_credentials(target, pool, o.data_dir, username, hash);
      pool.stop();
      if (!replaced) co_return replaced.error();
      auto marked = co_await target.command(make_command("HSET", std::string(admin::kCredentialsKey), "importedHash", marker));
      if (!marked) co_return marked.error();
    }
    add("admin", "", username, "imported",
        "its password works here (replaced by our hash at the first login); the previous login's sessions ended");
    co_return Ok{};
  }

  Task<Result<std::vector<std::string>>> scan(std::string pattern) {
    std::vector<std::string> names;
    std::string cursor = "0";
    do {
      auto reply = co_await source.command(make_command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000"));
      if (!reply) co_return reply.error();
      if (reply->is_error() || reply->elements.size() != 2) co_return Error{"SCAN: " + reply->str};
      cursor = reply->elements[0].str;
      for (auto& e : reply->elements[1].elements) names.push_back(std::move(e.str));
    } while (cursor != "0");
    co_return names;
  }

  // One key's usage: every bucket in our form (kept as long as theirs), the totals, the model
  // set. Returns the commands (none, and `problem` says why, when a counter is not a number);
  // nothing is read from ours.
  Task<Result<std::vector<RedisCommand>>> key_usage(const std::string& id, const KeyUsage& u, std::string& problem) {
    auto replies = co_await source.pipeline(usage_reads(id, u));
    if (!replies) co_return replies.error();
    co_return usage_writes(id, u, *replies, problem);
  }

  static std::vector<RedisCommand> usage_reads(const std::string& id, const KeyUsage& u) {
    std::vector<RedisCommand> reads;
    reads.push_back(make_command("HGETALL", "usage:" + id));
    reads.push_back(make_command("GET", "usage:cost:total:" + id));
    for (const auto& m : u.alltime_models) reads.push_back(make_command("HGETALL", "usage:" + id + ":model:alltime:" + m));
    for (const auto& b : u.buckets) {
      std::string cost = cost_key_of(b);
      reads.push_back(make_command("HGETALL", b));
      reads.push_back(make_command("PTTL", b));
      reads.push_back(make_command("GET", cost.empty() ? std::string("crs:import:no-cost") : cost));
    }
    return reads;
  }

  static std::vector<RedisCommand> usage_writes(const std::string& id, const KeyUsage& u,
                                                const std::vector<store::RedisReply>& r, std::string& problem) {
    std::vector<RedisCommand> out;
    HashRecord theirs = store::to_record(r[0]);
    problem = counter_problem(theirs, "its usage total");
    std::map<std::string, int64_t> sums;
    size_t at = 2;
    for (const auto& m : u.alltime_models) {
      HashRecord raw = store::to_record(r[at++]);
      if (problem.empty()) problem = counter_problem(raw, "its usage of " + m);
      HashRecord bucket = our_bucket(std::move(raw), 0);
      for (const auto& f : usage::kCounterFields) sums[f.bucket] += num(bucket, f.bucket);
      out.push_back(write_if_absent("usage:" + id + ":model:alltime:" + m, bucket, 0));
      out.push_back(make_command("SADD", "usage:" + id + ":models", m));
    }
    for (const auto& b : u.buckets) {
      HashRecord bucket = store::to_record(r[at]);
      int64_t ttl = r[at + 1].as_int().value_or(0);
      auto cost = r[at + 2].as_string();
      at += 3;
      if (bucket.empty() || ttl == -2) continue;  // expired since the scan
      if (problem.empty()) problem = counter_problem(bucket, b);
      out.push_back(write_if_absent(b, our_bucket(std::move(bucket), usd_micro(cost.value_or(""))), ttl));
    }
    // Totals: theirs, with cost from usage:cost:total; beyond the buckets' sum, "unattributed".
    theirs["totalCostMicro"] = std::to_string(usd_micro(r[1].as_string().value_or("")));
    if (!theirs.count("totalAllTokens"))
      theirs["totalAllTokens"] = std::to_string(num(theirs, "totalInputTokens") + num(theirs, "totalOutputTokens") +
                                                num(theirs, "totalCacheCreateTokens") + num(theirs, "totalCacheReadTokens"));
    HashRecord totals, rest;
    bool any_rest = false;
    // The totals as ours: theirs, at least the buckets' sum; what they hold beyond it goes into a
    // bucket of its own ("unattributed"), so totals and buckets agree exactly.
    for (const auto& f : usage::kCounterFields) {
      int64_t t = std::max(num(theirs, f.total), sums[f.bucket]);
      totals[f.total] = std::to_string(t);
      rest[f.bucket] = std::to_string(t - sums[f.bucket]);
      any_rest = any_rest || t > sums[f.bucket];
    }
    if (any_rest) {
      out.push_back(write_if_absent("usage:" + id + ":model:alltime:unattributed", rest, 0));
      out.push_back(make_command("SADD", "usage:" + id + ":models", "unattributed"));
    }
    out.push_back(write_if_absent("usage:" + id, totals, 0));
    if (!problem.empty()) out.clear();
    return out;
  }

  // Writes what a key's or an account's usage became here; any refusal stops the import.
  Task<Status> write_usage(std::vector<RedisCommand> writes, std::string whose) {
    auto done = co_await target.pipeline(std::move(writes));
    if (!done) co_return done.error();
    for (const auto& reply : *done)
      if (reply.is_error()) co_return Error{"usage of " + whose + ": " + reply.str};
    co_return Ok{};
  }

  // Each new key: its usage, its limit counters seeded from it, then the key itself.
  Task<Status> usage_then_keys() {
    if (pending_keys.empty()) co_return Ok{};
    std::set<std::string> ids;
    for (const auto& k : pending_keys) ids.insert(k.id);
    auto names = co_await scan("usage:*");
    if (!names) co_return names.error();
    std::map<std::string, KeyUsage> by_key;
    for (const auto& n : *names) sort_usage_name(n, ids, by_key);
    limits::Limits limits(o.timezone_offset, o.lease_ttl);
    for (size_t i = 0; i < pending_keys.size(); ++i) {
      const auto& k = pending_keys[i];
      std::string problem;
      auto writes = co_await key_usage(k.id, by_key[k.id], problem);
      if (!writes) co_return writes.error();
      if (!problem.empty()) {
        add("key", k.id, k.name, "failed", problem + ": not imported");
        continue;
      }
      // The limit counters start from the usage just written (as at startup for every key).
      auto seed = limits.seed(k, unix_ms());
      writes->push_back(seed.script->with_source(seed.command));
      size_t buckets = by_key[k.id].buckets.size() + by_key[k.id].alltime_models.size();
      if (!o.dry_run) {
        std::string whose = "key " + k.id;
        if (auto s = co_await write_usage(std::move(*writes), whose); !s) co_return s.error();
        auto written = co_await target.pipeline(key_commands(k));
        if (auto st = store::transaction_status(written); !st) {
          add("key", k.id, k.name, "failed", st.error().message);
          continue;
        }
      }
      add("key", k.id, k.name, "imported", pending_notes[i]);
      add("usage", k.id, k.name, "imported", usage_note(buckets));
    }
    co_return Ok{};
  }

  // Each imported account's usage (totals, day/month/hour buckets with their remaining TTL),
  // written only where ours has none.
  Task<Status> account_usage() {
    std::map<std::string, std::string> imported;  // id -> name
    for (const auto& i : report.items)
      if (i.kind == "account" && i.outcome == "imported") imported[i.id] = i.name;
    if (imported.empty()) co_return Ok{};
    std::set<std::string> ids;
    for (const auto& entry : imported) ids.insert(entry.first);
    auto names = co_await scan("account_usage:*");
    if (!names) co_return names.error();
    std::map<std::string, AccountUsage> by_account;
    for (const auto& n : *names) sort_account_usage_name(n, ids, by_account);
    for (const auto& entry : by_account) {
      const std::string& id = entry.first;
      const AccountUsage& u = entry.second;
      auto replies = co_await source.pipeline(account_usage_reads(id, u));
      if (!replies) co_return replies.error();
      std::string problem, note;
      auto writes = account_usage_writes(id, u, *replies, problem, note);
      if (!problem.empty()) {
        add("account usage", id, imported[id], "failed", problem + ": not imported");
        continue;
      }
      std::string outcome = writes.empty() ? "skipped" : "imported";
      if (!o.dry_run && !writes.empty()) {
        std::string whose = "account " + id;
        if (auto s = co_await write_usage(std::move(writes), whose); !s) co_return s.error();
      }
      add("account usage", id, imported[id], outcome, note);
    }
    co_return Ok{};
  }

  static std::vector<RedisCommand> account_usage_reads(const std::string& id, const AccountUsage& u) {
    std::vector<RedisCommand> reads;
    reads.push_back(make_command("TYPE", "account_usage:" + id));
    reads.push_back(make_command("HGETALL", "account_usage:" + id));
    for (const auto& b : u.buckets) {
      reads.push_back(make_command("HGETALL", b));
      reads.push_back(make_command("PTTL", b));
    }
    return reads;
  }

  static std::vector<RedisCommand> account_usage_writes(const std::string& id, const AccountUsage& u,
                                                        const std::vector<store::RedisReply>& r, std::string& problem,
                                                        std::string& note) {
    std::vector<RedisCommand> out;
    size_t written = 0;
    // The v1.1.0 fork's load balancer kept samples in a zset of this name: not usage.
    if (u.totals && r[0].str == "hash") {
      HashRecord totals = store::to_record(r[1]);
      problem = counter_problem(totals, "its usage total");
      out.push_back(write_if_absent("account_usage:" + id, account_record(std::move(totals), true), 0));
    } else if (u.totals) {
      note = "its account_usage is a " + r[0].str + " (the v1.1.0 load balancer's samples), not totals: left out; ";
    }
    for (size_t i = 0; i < u.buckets.size(); ++i) {
      HashRecord bucket = store::to_record(r[2 + 2 * i]);
      int64_t ttl = r[3 + 2 * i].as_int().value_or(0);
      if (bucket.empty() || ttl == -2) continue;
      if (problem.empty()) problem = counter_problem(bucket, u.buckets[i]);
      out.push_back(write_if_absent(u.buckets[i], account_record(std::move(bucket), false), ttl));
      ++written;
    }
    note += usage_note(written);
    if (!problem.empty()) out.clear();
    return out;
  }

  static std::vector<RedisCommand> key_commands(const keys::ApiKey& k) {
    std::vector<RedisCommand> out;
    out.push_back(make_command("MULTI"));
    out.push_back(store::hset_command(ks::api_key(k.id), keys::to_hash(k)));
    out.push_back(make_command("HSETNX", std::string(ks::kApiKeyHashMap), k.digest, k.id));
    int64_t created = parse_iso8601_ms(k.created_at);
    out.push_back(make_command("ZADD", std::string(ks::kApiKeysByCreation), "NX",
                               std::to_string(created ? created : unix_ms()), k.id));
    out.push_back(make_command("EXEC"));
    return out;
  }
};

std::vector<RedisCommand> after_import() {
  std::vector<RedisCommand> out;
  out.push_back(make_command("HINCRBY", std::string(ks::kDataGeneration), "keys", "1"));
  out.push_back(make_command("HINCRBY", std::string(ks::kDataGeneration), "usage", "1"));
  out.push_back(make_command("PUBLISH", std::string(ks::kInvalidationChannel), std::string(ks::kReloadAll)));
  return out;
}

}  // namespace

int ImportReport::count(std::string_view kind, std::string_view outcome) const {
  return static_cast<int>(std::count_if(items.begin(), items.end(),
                                        [&](const ImportItem& i) { return i.kind == kind && i.outcome == outcome; }));
}

Result<std::string> crs_decrypt(std::string_view encryption_key, std::string_view salt, std::string_view stored) {
  if (stored.empty()) return Error{"empty"};
  auto colon = stored.find(':');
  if (colon == std::string_view::npos)
    return Error{"not in the iv:ciphertext form (a legacy or plaintext value: re-enter it)"};
  auto iv = unhex(stored.substr(0, colon));
  auto ct = unhex(stored.substr(colon + 1));
  if (!iv || !ct || iv->size() != 16) return Error{"malformed iv:ciphertext"};
  auto key = crypto::scrypt_raw(encryption_key, salt, 14, 8, 1, 32);  // Node's scryptSync defaults
  if (!key) return key.error();
  auto plain = crypto::aes_256_cbc_decrypt(*key, *iv, *ct);
  if (!plain) return Error{plain.error().message + ": wrong --crs-encryption-key, or damaged"};
  if (!valid_utf8(*plain)) return Error{"not UTF-8 text: wrong --crs-encryption-key, or damaged"};
  return plain;
}

Task<Result<ImportReport>> import_crs(store::RedisClient& source, store::RedisClient& target, ImportOptions o) {
  if (!crypto::equal_constant_time(o.crs_encryption_key, o.encryption_key))
    co_return Error{
        "this relay's ENCRYPTION_KEY is not the Node.js service's: both store relay keys as SHA-256(key + "
        "ENCRYPTION_KEY), so its keys would not authenticate here. Run this relay with the Node.js service's "
        "ENCRYPTION_KEY (before anything is sealed with another one), then import"};
  if (o.crs_api_key_prefix != o.api_key_prefix)
    co_return Error{fmt::format("the Node.js service's keys start with \"{}\" but this relay's API_KEY_PREFIX is \"{}\": set "
                                "it to the same value",
                                o.crs_api_key_prefix, o.api_key_prefix)};
  if (o.crs_timezone_offset != o.timezone_offset)
    co_return Error{fmt::format(
        "the Node.js service names its day and month buckets in TIMEZONE_OFFSET {} but this relay counts days in {} "
        "(usage.timezoneOffset): its usage would land on other days. Set TIMEZONE_OFFSET={} here (before this relay "
        "records usage), or give its real offset with --crs-timezone-offset",
        o.crs_timezone_offset, o.timezone_offset, o.crs_timezone_offset)};
  Importer im{source, target, o, ImportReport(), {}, {}};
  if (auto s = co_await im.accounts_of(std::string(kCrsConsoleIndex), std::string(kCrsConsolePrefix), true); !s)
    co_return s.error();
  if (auto s = co_await im.accounts_of(std::string(kCrsOauthIndex), std::string(kCrsOauthPrefix), false); !s)
    co_return s.error();
  if (auto s = co_await im.groups(); !s) co_return s.error();
  Status done = co_await im.keys();
  if (done) done = co_await im.usage_then_keys();
  if (done) done = co_await im.account_usage();
  if (done) done = co_await im.admin_login();
  // Whatever was written, even by a run that failed midway, every instance is told; a run that
  // wrote nothing leaves their caches alone.
  bool wrote = !done || im.report.count("key", "imported") + im.report.count("account", "imported") +
                                im.report.count("group", "imported") + im.report.count("admin", "imported") > 0;
  if (!o.dry_run && wrote) {
    auto told = co_await target.pipeline(after_import());
    if (!told && done) co_return told.error();
  }
  if (!done) co_return done.error();
  co_return std::move(im.report);
}

}  // namespace crs::ops
