#include "keys/key_store.hpp"

#include <chrono>

#include "core/crypto.hpp"
#include "core/time.hpp"
#include "keys/key_fields.hpp"
#include "store/hash_record.hpp"
#include "store/keyspace.hpp"

namespace crs::keys {
namespace ks = store::keyspace;
using store::HashRecord;
using store::RedisCommand;

namespace {

// Cached listings computed before this change become unreachable (query/query_cache.hpp).
RedisCommand bump_keys_generation() {
  return store::make_command("HINCRBY", std::string(ks::kDataGeneration), "keys", "1");
}

// Built outside coroutines: GCC 12 miscompiles initializer lists inside coroutine frames.
std::vector<RedisCommand> create_commands(const ApiKey& k) {
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return {{"MULTI"},
          store::hset_command(ks::api_key(k.id), to_hash(k)),
          {"HSET", std::string(ks::kApiKeyHashMap), k.digest, k.id},
          {"ZADD", std::string(ks::kApiKeysByCreation), std::to_string(now_ms), k.id},
          {"PUBLISH", std::string(ks::kInvalidationChannel), "key:" + k.id},
          bump_keys_generation(),
          {"EXEC"}};
}


// Only the fields that differ, so two admins changing different fields do not undo each other.
std::vector<RedisCommand> update_commands(const ApiKey& before, const ApiKey& after) {
  auto old_fields = to_hash(before), new_fields = to_hash(after);
  HashRecord diff;
  for (const auto& [name, value] : new_fields)
    if (store::field(old_fields, name) != value) diff[name] = value;
  // An imported key may count activationDays in hours: the unit goes with a new number.
  if (diff.count("activationDays")) diff["activationUnit"] = "days";
  std::vector<RedisCommand> cmds;
  cmds.push_back(store::make_command("MULTI"));
  if (!diff.empty()) cmds.push_back(store::hset_command(ks::api_key(after.id), diff));
  cmds.push_back(store::make_command("PUBLISH", std::string(ks::kInvalidationChannel), "key:" + after.id));
  cmds.push_back(bump_keys_generation());
  cmds.push_back(store::make_command("EXEC"));
  return cmds;
}

std::vector<RedisCommand> renew_commands(const std::string& old_digest, const ApiKey& k) {
  std::vector<RedisCommand> cmds;
  cmds.push_back(store::make_command("MULTI"));
  cmds.push_back(store::make_command("HDEL", std::string(ks::kApiKeyHashMap), old_digest));
  cmds.push_back(store::make_command("HSET", std::string(ks::kApiKeyHashMap), k.digest, k.id));
  cmds.push_back(store::make_command("HSET", ks::api_key(k.id), "apiKey", k.digest));
  cmds.push_back(store::make_command("PUBLISH", std::string(ks::kInvalidationChannel), "key:" + k.id));
  cmds.push_back(bump_keys_generation());
  cmds.push_back(store::make_command("EXEC"));
  return cmds;
}

// Sets the activation once: a second instance racing the first finds it set and keeps it.
constexpr std::string_view kActivateScript = R"LUA(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local at = redis.call('HGET', KEYS[1], 'activatedAt')
if at and at ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'activatedAt', ARGV[1], 'expiresAt', ARGV[2], 'isActivated', 'true')
redis.call('PUBLISH', ARGV[3], ARGV[4])
redis.call('HINCRBY', KEYS[2], 'keys', 1)
return 1
)LUA";

}  // namespace

KeyStore::KeyStore(store::RedisClient& redis, std::string encryption_key, std::string prefix)
    : redis_(redis), encryption_key_(std::move(encryption_key)), prefix_(std::move(prefix)) {}

Task<Result<NewKey>> KeyStore::create(ApiKey fields) {
  NewKey made;
  made.plaintext = generate_plaintext(prefix_);
  made.key = std::move(fields);
  made.key.id = crypto::uuid_v4();
  made.key.digest = digest(made.plaintext);
  made.key.created_at = iso8601_utc();
  made.key.last_used_at.clear();
  made.key.activated_at.clear();
  auto replies = co_await redis_.pipeline(create_commands(made.key));
  if (auto s = store::transaction_status(replies); !s) co_return s.error();
  co_return made;
}

Task<Result<std::optional<ApiKey>>> KeyStore::get(std::string id) {
  auto reply = co_await redis_.command(store::make_command("HGETALL", ks::api_key(id)));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  auto record = store::to_record(*reply);
  if (record.empty()) co_return std::optional<ApiKey>{};
  co_return std::optional<ApiKey>{from_hash(record)};
}

Task<Result<std::optional<ApiKey>>> KeyStore::find_by_digest(std::string digest) {
  auto id = co_await redis_.command(store::make_command("HGET", std::string(ks::kApiKeyHashMap), digest));
  if (!id) co_return id.error();
  if (id->is_nil()) co_return std::optional<ApiKey>{};
  auto found = co_await get(id->str);
  if (!found) co_return found.error();
  // An index entry its record does not confirm (a renewed key's old digest brought back by a
  // merge or an import) never authenticates.
  if (*found && !crypto::equal_constant_time((*found)->digest, digest)) co_return std::optional<ApiKey>{};
  co_return std::move(*found);
}

namespace {
std::vector<RedisCommand> all_ids() {
  return std::vector<RedisCommand>(1, store::make_command("ZRANGE", std::string(ks::kApiKeysByCreation), "0", "-1"));
}
}  // namespace

Task<Result<std::vector<ApiKey>>> KeyStore::list(const query::QueryRunner& queries) {
  // One read of the index: a snapshot (ranges read apart could miss a key while others are
  // deleted), then every record, batched and pipelined.
  auto ids = co_await queries.run(redis_, "keys.ids", all_ids());
  if (!ids) co_return ids.error();
  if (ids->front().is_error()) co_return Error{"redis: " + ids->front().str};
  std::vector<RedisCommand> reads;
  reads.reserve(ids->front().elements.size());
  for (const auto& id : ids->front().elements) reads.push_back(store::make_command("HGETALL", ks::api_key(id.str)));
  auto records = co_await queries.run(redis_, "keys.list", std::move(reads));
  if (!records) co_return records.error();
  std::vector<ApiKey> keys;
  keys.reserve(records->size());
  for (const auto& r : *records) {
    if (r.is_error()) co_return Error{"redis: " + r.str};
    auto record = store::to_record(r);
    if (!record.empty()) keys.push_back(from_hash(record));
  }
  co_return keys;
}

Task<Result<ApiKey>> KeyStore::update(std::string id, boost::json::object changes) {
  auto existing = co_await get(id);
  if (!existing) co_return existing.error();
  if (!*existing) co_return Error{"no key with id " + id};
  ApiKey changed = **existing;
  if (auto s = apply_changes(changed, changes); !s) co_return s.error();
  auto replies = co_await redis_.pipeline(update_commands(**existing, changed));
  if (auto s = store::transaction_status(replies); !s) co_return s.error();
  co_return changed;
}

namespace {
// A plain function: GCC 12 miscompiles conditional temporaries in coroutines (a double free here).
std::string missing_binding(bool group, const std::string& id) {
  return std::string("claudeAccountId: no account ") + (group ? "group " : "") + "with id " + id;
}
}  // namespace

Task<Result<std::string>> KeyStore::binding_problem(std::string bound_account) {
  if (bound_account.empty()) co_return std::string();
  bool group = bound_account.starts_with("group:");
  std::string id = group ? bound_account.substr(6) : bound_account;
  std::string record = ks::account(id);
  if (group) record = ks::account_group(id);
  auto reply = co_await redis_.command(store::make_command("EXISTS", record));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  if (reply->as_int().value_or(0) == 0) co_return missing_binding(group, id);
  co_return std::string();
}

Task<Result<std::optional<ApiKey>>> KeyStore::activate(std::string id) {
  auto existing = co_await get(id);
  if (!existing || !*existing || !(*existing)->activated_at.empty()) co_return existing;
  auto now = std::chrono::system_clock::now();
  auto expires = now + std::chrono::hours(24) * (*existing)->activation_days;
  auto r = co_await redis_.command(
      store::make_command("EVAL", std::string(kActivateScript), "2", ks::api_key(id),
                          std::string(ks::kDataGeneration), iso8601_utc(now),
                          iso8601_utc(expires), std::string(ks::kInvalidationChannel), "key:" + id));
  if (!r) co_return r.error();
  if (r->is_error()) co_return Error{"redis: " + r->str};
  co_return co_await get(id);
}

Task<Result<NewKey>> KeyStore::renew(std::string id) {
  auto existing = co_await get(id);
  if (!existing) co_return existing.error();
  if (!*existing) co_return Error{"no key with id " + id};
  NewKey made;
  made.key = **existing;
  made.plaintext = generate_plaintext(prefix_);
  made.key.digest = digest(made.plaintext);
  auto replies = co_await redis_.pipeline(renew_commands((*existing)->digest, made.key));
  if (auto s = store::transaction_status(replies); !s) co_return s.error();
  co_return made;
}

Task<Status> KeyStore::remove(std::string id) {
  auto existing = co_await get(id);
  if (!existing) co_return existing.error();
  if (!*existing) co_return Error{"no key with id " + id};
  std::vector<RedisCommand> cmds;
  cmds.push_back(store::make_command("MULTI"));
  cmds.push_back(store::make_command("DEL", ks::api_key(id)));
  cmds.push_back(store::make_command("HDEL", std::string(ks::kApiKeyHashMap), (*existing)->digest));
  cmds.push_back(store::make_command("ZREM", std::string(ks::kApiKeysByCreation), id));
  cmds.push_back(store::make_command("PUBLISH", std::string(ks::kInvalidationChannel), "key:" + id));
  cmds.push_back(bump_keys_generation());
  cmds.push_back(store::make_command("EXEC"));
  co_return store::transaction_status(co_await redis_.pipeline(std::move(cmds)));
}

}  // namespace crs::keys
