#include "accounts/account_store.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/crypto.hpp"
#include "core/time.hpp"
#include "store/hash_record.hpp"
#include "store/keyspace.hpp"

namespace crs::accounts {
namespace ks = store::keyspace;
namespace json = boost::json;
using store::HashRecord;
using store::make_command;
using store::RedisCommand;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

std::string seal_credentials(const std::string& key, const Credentials& c) {
  json::object o;
  if (!c.api_key.empty()) o["apiKey"] = c.api_key;
  if (!c.access_token.empty()) o["accessToken"] = c.access_token;
  if (!c.refresh_token.empty()) o["refreshToken"] = c.refresh_token;
  if (c.expires_at_ms) o["expiresAt"] = c.expires_at_ms;
  if (!c.aws_access_key_id.empty()) o["awsAccessKeyId"] = c.aws_access_key_id;
  if (!c.aws_secret_access_key.empty()) o["awsSecretAccessKey"] = c.aws_secret_access_key;
  if (!c.aws_session_token.empty()) o["awsSessionToken"] = c.aws_session_token;
  return crypto::seal(key, json::serialize(o));
}

Result<Credentials> open_credentials(const std::string& key, const std::string& sealed) {
  Credentials c;
  if (sealed.empty()) return c;
  auto plain = crypto::open(key, sealed);
  if (!plain) return plain.error();
  boost::system::error_code ec;
  auto v = json::parse(*plain, ec);
  if (ec || !v.is_object()) return Error{"stored credentials are not valid JSON"};
  const auto& o = v.get_object();
  auto str = [&](const char* name) {
    auto* f = o.if_contains(name);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  c.api_key = str("apiKey");
  c.access_token = str("accessToken");
  c.refresh_token = str("refreshToken");
  c.aws_access_key_id = str("awsAccessKeyId");
  c.aws_secret_access_key = str("awsSecretAccessKey");
  c.aws_session_token = str("awsSessionToken");
  if (auto* e = o.if_contains("expiresAt"); e && e->is_int64()) c.expires_at_ms = e->get_int64();
  return c;
}

void put_scheduling(HashRecord& r, const AccountScheduling& s) {
  auto number = [](const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string(); };
  r["maxConcurrency"] = std::to_string(s.max_concurrency);
  r["weight"] = number(s.weight);
  r["costFactor"] = number(s.cost_factor);
  r["plan"] = s.plan;
  r["schedulable"] = s.schedulable ? "true" : "false";
  r["models"] = models_to_json(s.models);
  r["modelMapping"] = model_map_to_json(s.model_map);
}

AccountScheduling read_scheduling(const HashRecord& r) {
  auto number = [&](const char* name) -> std::optional<double> {
    std::string text = store::field(r, name);
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    return end && *end == 0 ? std::optional<double>(v) : std::nullopt;
  };
  AccountScheduling s;
  s.max_concurrency = std::atoi(store::field(r, "maxConcurrency", "0").c_str());
  s.weight = number("weight");
  s.cost_factor = number("costFactor");
  s.plan = store::field(r, "plan");
  s.schedulable = store::field(r, "schedulable", "true") != "false";
  s.models = models_from_json(store::field(r, "models", "[]"));
  s.model_map = model_map_from_json(store::field(r, "modelMapping", "{}"));
  return s;
}

HashRecord to_hash(const std::string& key, const Account& a) {
  HashRecord r{{"id", a.id},
                    {"name", a.name},
                    {"type", a.type},
                    {"baseUrl", a.base_url},
                    {"region", a.region},
                    {"proxy", a.proxy.empty() ? "" : crypto::seal(key, a.proxy)},
                    {"priority", std::to_string(a.priority)},
                    {"enabled", a.enabled ? "true" : "false"},
                    {"status", a.status},
                    {"statusReason", a.status_reason},
                    {"unavailableUntil", std::to_string(a.unavailable_until_ms)},
                    {"createdAt", a.created_at},
                    {"lastUsedAt", a.last_used_at},
                    {"credentials", seal_credentials(key, a.credentials)}};
  put_scheduling(r, a.scheduling);
  return r;
}

// Everything but the sealed secrets.
Account plain_fields(const HashRecord& r) {
  Account a;
  a.id = store::field(r, "id");
  a.name = store::field(r, "name");
  a.type = store::field(r, "type");
  a.base_url = store::field(r, "baseUrl");
  a.region = store::field(r, "region");
  a.priority = std::atoi(store::field(r, "priority", "50").c_str());
  a.enabled = store::field(r, "enabled", "true") == "true";
  a.status = store::field(r, "status", std::string(kStatusActive));
  a.status_reason = store::field(r, "statusReason");
  a.unavailable_until_ms = std::atoll(store::field(r, "unavailableUntil", "0").c_str());
  a.created_at = store::field(r, "createdAt");
  a.last_used_at = store::field(r, "lastUsedAt");
  a.scheduling = read_scheduling(r);
  return a;
}

Result<Account> from_hash(const std::string& key, const HashRecord& r) {
  Account a = plain_fields(r);
  auto creds = open_credentials(key, store::field(r, "credentials"));
  if (!creds) return Error{"account " + a.id + ": " + creds.error().message};
  a.credentials = std::move(*creds);
  if (auto sealed_proxy = store::field(r, "proxy"); !sealed_proxy.empty()) {
    auto proxy = crypto::open(key, sealed_proxy);
    if (!proxy) return Error{"account " + a.id + ": proxy: " + proxy.error().message};
    a.proxy = std::move(*proxy);
  }
  return a;
}

// An account whose secrets cannot be opened (another ENCRYPTION_KEY, a damaged record) is
// listed in the error state, never scheduled, so that it does not stop the others loading.
Account unreadable(const HashRecord& r, const std::string& why) {
  Account a = plain_fields(r);
  a.status = std::string(kStatusError);
  a.credentials_unreadable = true;
  a.status_reason = "stored credentials cannot be read (" + why + "); re-enter them or check ENCRYPTION_KEY";
  a.unavailable_until_ms = std::numeric_limits<int64_t>::max();
  return a;
}

std::vector<RedisCommand> transaction(std::vector<RedisCommand> body, const std::string& id) {
  std::vector<RedisCommand> cmds;
  cmds.push_back(make_command("MULTI"));
  for (auto& c : body) cmds.push_back(std::move(c));
  cmds.push_back(make_command("PUBLISH", std::string(ks::kInvalidationChannel), "account:" + id));
  cmds.push_back(make_command("EXEC"));
  return cmds;
}


}  // namespace

AccountStore::AccountStore(store::RedisClient& redis, std::string_view encryption_key)
    : redis_(redis), key_(crypto::hmac_sha256_raw(encryption_key, "crs/account-credentials/v1")) {}

Task<Result<Account>> AccountStore::add(Account account) {
  account.id = crypto::uuid_v4();
  account.created_at = iso8601_utc();
  std::vector<RedisCommand> body;
  body.push_back(store::hset_command(ks::account(account.id), to_hash(key_, account)));
  body.push_back(make_command("SADD", std::string(ks::kAccountIndex), account.id));
  auto s = store::transaction_status(co_await redis_.pipeline(transaction(std::move(body), account.id)));
  if (!s) co_return s.error();
  co_return account;
}

Task<Status> AccountStore::add_imported(Account account) {
  auto exists = co_await redis_.command(make_command("EXISTS", ks::account(account.id)));
  if (!exists) co_return exists.error();
  if (exists->as_int().value_or(0) != 0) co_return Error{"an account with id " + account.id + " exists"};
  std::vector<RedisCommand> body;
  body.push_back(store::hset_command(ks::account(account.id), to_hash(key_, account)));
  body.push_back(make_command("SADD", std::string(ks::kAccountIndex), account.id));
  co_return store::transaction_status(co_await redis_.pipeline(transaction(std::move(body), account.id)));
}

Task<Result<std::optional<Account>>> AccountStore::get(std::string id) {
  auto reply = co_await redis_.command(make_command("HGETALL", ks::account(id)));
  if (!reply) co_return reply.error();
  auto record = store::to_record(*reply);
  if (record.empty()) co_return std::optional<Account>{};
  auto account = from_hash(key_, record);
  if (!account) co_return account.error();
  co_return std::optional<Account>{std::move(*account)};
}

Task<Result<std::vector<Account>>> AccountStore::list() {
  auto ids = co_await redis_.command(make_command("SMEMBERS", std::string(ks::kAccountIndex)));
  if (!ids) co_return ids.error();
  std::vector<RedisCommand> reads;
  for (const auto& id : ids->elements) reads.push_back(make_command("HGETALL", ks::account(id.str)));
  auto records = co_await redis_.pipeline(std::move(reads));
  if (!records) co_return records.error();
  std::vector<Account> out;
  for (const auto& r : *records) {
    auto record = store::to_record(r);
    if (record.empty()) continue;
    auto account = from_hash(key_, record);
    if (!account) {
      spdlog::error("account list: {}; it is listed as failing and not used", account.error().message);
      out.push_back(unreadable(record, account.error().message));
      continue;
    }
    out.push_back(std::move(*account));
  }
  std::sort(out.begin(), out.end(), [](const Account& a, const Account& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  auto groups = co_await list_groups();
  if (!groups) co_return groups.error();
  for (const auto& g : *groups)
    for (auto& a : out)
      if (std::find(g.members.begin(), g.members.end(), a.id) != g.members.end()) a.groups.push_back(g.id);
  co_return out;
}

Task<Result<AccountGroup>> AccountStore::create_group(std::string name) {
  AccountGroup g;
  g.id = crypto::uuid_v4();
  g.name = std::move(name);
  g.created_at = iso8601_utc();
  std::vector<RedisCommand> body;
  body.push_back(make_command("HSET", ks::account_group(g.id), "id", g.id, "name", g.name, "createdAt", g.created_at));
  body.push_back(make_command("SADD", std::string(ks::kAccountGroupIndex), g.id));
  auto s = store::transaction_status(co_await redis_.pipeline(transaction(std::move(body), "group:" + g.id)));
  if (!s) co_return s.error();
  co_return g;
}

Task<Status> AccountStore::add_imported_group(AccountGroup g) {
  std::vector<RedisCommand> body;
  body.push_back(make_command("HSET", ks::account_group(g.id), "id", g.id, "name", g.name, "createdAt", g.created_at));
  body.push_back(make_command("SADD", std::string(ks::kAccountGroupIndex), g.id));
  for (const auto& m : g.members) body.push_back(make_command("SADD", ks::account_group_members(g.id), m));
  co_return store::transaction_status(co_await redis_.pipeline(transaction(std::move(body), "group:" + g.id)));
}

Task<Result<std::vector<AccountGroup>>> AccountStore::list_groups() {
  auto ids = co_await redis_.command(make_command("SMEMBERS", std::string(ks::kAccountGroupIndex)));
  if (!ids) co_return ids.error();
  std::vector<RedisCommand> reads;
  for (const auto& id : ids->elements) {
    reads.push_back(make_command("HGETALL", ks::account_group(id.str)));
    reads.push_back(make_command("SMEMBERS", ks::account_group_members(id.str)));
  }
  std::vector<AccountGroup> out;
  if (reads.empty()) co_return out;
  auto replies = co_await redis_.pipeline(std::move(reads));
  if (!replies) co_return replies.error();
  for (size_t i = 0; i + 1 < replies->size(); i += 2) {
    auto record = store::to_record((*replies)[i]);
    if (record.empty()) continue;
    AccountGroup g;
    g.id = store::field(record, "id");
    g.name = store::field(record, "name");
    g.created_at = store::field(record, "createdAt");
    for (const auto& m : (*replies)[i + 1].elements) g.members.push_back(m.str);
    std::sort(g.members.begin(), g.members.end());
    out.push_back(std::move(g));
  }
  std::sort(out.begin(), out.end(), [](const AccountGroup& a, const AccountGroup& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  co_return out;
}

Task<Result<bool>> AccountStore::group_exists(std::string id) {
  auto reply = co_await redis_.command(make_command("EXISTS", ks::account_group(id)));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  co_return reply->integer > 0;
}

Task<Status> AccountStore::delete_group(std::string id) {
  std::vector<RedisCommand> body;
  body.push_back(make_command("DEL", ks::account_group(id), ks::account_group_members(id)));
  body.push_back(make_command("SREM", std::string(ks::kAccountGroupIndex), id));
  auto replies = co_await redis_.pipeline(transaction(std::move(body), "group:" + id));
  if (auto s = store::transaction_status(replies); !s) co_return s;
  if (replies->back().elements.at(0).integer == 0) co_return Error{"no account group with id " + id};
  co_return Ok{};
}

Task<Status> AccountStore::set_membership(std::string group_id, std::string account_id, bool member) {
  // A script, so a membership cannot outlive a group or an account removed meanwhile.
  static const std::string kScript =
      "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end "
      "if ARGV[1] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then return -2 end "
      "local n = 0 "
      "if ARGV[1] == '1' then n = redis.call('SADD', KEYS[2], ARGV[2]) else n = redis.call('SREM', KEYS[2], ARGV[2]) end "
      "redis.call('PUBLISH', ARGV[3], ARGV[4]) return n";
  auto reply = co_await redis_.command(make_command(
      "EVAL", kScript, "3", ks::account_group(group_id), ks::account_group_members(group_id), ks::account(account_id),
      member ? "1" : "0", account_id, std::string(ks::kInvalidationChannel), "account:" + account_id));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  if (reply->integer == -1) co_return Error{"no account group with id " + group_id};
  if (reply->integer == -2) co_return Error{"no account with id " + account_id};
  co_return Ok{};
}

Task<Status> AccountStore::remove(std::string id) {
  std::vector<RedisCommand> body;
  body.push_back(make_command("DEL", ks::account(id)));
  body.push_back(make_command("SREM", std::string(ks::kAccountIndex), id));
  // Group memberships go with it (few groups: one SREM each).
  auto groups = co_await list_groups();
  if (groups)
    for (const auto& g : *groups) body.push_back(make_command("SREM", ks::account_group_members(g.id), id));
  auto replies = co_await redis_.pipeline(transaction(std::move(body), id));
  if (auto s = store::transaction_status(replies); !s) co_return s;
  if (replies->back().elements.at(0).integer == 0) co_return Error{"no account with id " + id};
  co_return Ok{};
}

namespace {

RedisCommand active_again(const std::string& id) {
  return make_command("HSET", ks::account(id), "status", std::string(kStatusActive), "statusReason", "",
                      "unavailableUntil", "0");
}

}  // namespace

Task<Status> AccountStore::set_enabled(std::string id, bool enabled) {
  auto existing = co_await get(id);
  if (!existing) co_return existing.error();
  if (!*existing) co_return Error{"no account with id " + id};
  std::vector<RedisCommand> body;
  body.push_back(make_command("HSET", ks::account(id), "enabled", enabled ? "true" : "false"));
  // Enabling is also how an admin clears an error state.
  if (enabled) body.push_back(active_again(id));
  co_return store::transaction_status(co_await redis_.pipeline(transaction(std::move(body), id)));
}

Task<Status> AccountStore::clear_state(std::string id) {
  auto existing = co_await get(id);
  if (!existing) co_return existing.error();
  if (!*existing) co_return Error{"no account with id " + id};
  std::vector<RedisCommand> body;
  body.push_back(active_again(id));
  co_return store::transaction_status(co_await redis_.pipeline(transaction(std::move(body), id)));
}

namespace {

// The update script's call (a plain function: GCC 12 miscompiles initializer lists in coroutines).
RedisCommand update_command(const std::string& key, const Account& account, bool with_credentials) {
  static const std::string kScript =
      "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
      "for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end "
      "redis.call('PUBLISH', ARGV[1], ARGV[2]) return 1";
  HashRecord all = to_hash(key, account);
  RedisCommand cmd = make_command("EVAL", kScript, "1", ks::account(account.id),
                                  std::string(ks::kInvalidationChannel), "account:" + account.id);
  static const char* const kEditable[] = {"name",       "baseUrl",    "region", "proxy",       "priority",
                                          "maxConcurrency", "weight", "costFactor", "plan", "schedulable",
                                          "models",     "modelMapping"};
  for (const char* name : kEditable) {
    cmd.push_back(name);
    cmd.push_back(all[name]);
  }
  if (with_credentials) {
    cmd.push_back("credentials");
    cmd.push_back(all["credentials"]);
  }
  return cmd;
}

}  // namespace

Task<Status> AccountStore::update(Account account, bool with_credentials) {
  // A script, so an update racing with a removal cannot leave a half record behind.
  auto reply = co_await redis_.command(update_command(key_, account, with_credentials));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  if (reply->integer == 0) co_return Error{"no account with id " + account.id};
  co_return Ok{};
}

Task<Status> AccountStore::set_status(std::string id, std::string status, int64_t until_ms, std::string reason) {
  // A script, so a status report racing with a removal cannot resurrect a half record.
  static const std::string kScript =
      "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
      "redis.call('HSET', KEYS[1], 'status', ARGV[1], 'statusReason', ARGV[2], 'unavailableUntil', ARGV[3]) "
      "redis.call('PUBLISH', ARGV[4], ARGV[5]) return 1";
  auto reply = co_await redis_.command(make_command("EVAL", kScript, "1", ks::account(id), std::move(status),
                                                    std::move(reason), std::to_string(until_ms),
                                                    std::string(ks::kInvalidationChannel), "account:" + id));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  co_return Ok{};
}

Task<Status> AccountStore::set_credentials(std::string id, Credentials credentials) {
  std::vector<RedisCommand> body;
  body.push_back(make_command("HSET", ks::account(id), "credentials", seal_credentials(key_, credentials)));
  co_return store::transaction_status(co_await redis_.pipeline(transaction(std::move(body), id)));
}

}  // namespace crs::accounts
