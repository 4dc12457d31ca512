#include "keys/key_store.hpp"

#include <chrono>

#include "core/crypto.hpp"
#include "core/time.hpp"
#include "store/hash_record.hpp"
#include "store/keyspace.hpp"

namespace crs::keys {
namespace ks = store::keyspace;
using store::HashRecord;
using store::RedisCommand;

namespace {

HashRecord to_hash(const ApiKey& k) {
  return HashRecord{{"id", k.id},
                    {"name", k.name},
                    {"description", k.description},
                    {"apiKey", k.digest},
                    {"isActive", k.enabled ? "true" : "false"},
                    {"createdAt", k.created_at},
                    {"lastUsedAt", k.last_used_at},
                    {"expiresAt", k.expires_at}};
}

ApiKey from_hash(const HashRecord& r) {
  ApiKey k;
  k.id = store::field(r, "id");
  k.name = store::field(r, "name");
  k.description = store::field(r, "description");
  k.digest = store::field(r, "apiKey");
  k.enabled = store::field(r, "isActive", "true") == "true";
  k.created_at = store::field(r, "createdAt");
  k.last_used_at = store::field(r, "lastUsedAt");
  k.expires_at = store::field(r, "expiresAt");
  return k;
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
          {"EXEC"}};
}


}  // namespace

KeyStore::KeyStore(store::RedisClient& redis, std::string encryption_key, std::string prefix)
    : redis_(redis), encryption_key_(std::move(encryption_key)), prefix_(std::move(prefix)) {}

Task<Result<NewKey>> KeyStore::create(std::string name, std::string description) {
  NewKey made;
  made.plaintext = generate_plaintext(prefix_);
  made.key.id = crypto::uuid_v4();
  made.key.name = std::move(name);
  made.key.description = std::move(description);
  made.key.digest = digest(made.plaintext);
  made.key.created_at = iso8601_utc();
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
  auto id = co_await redis_.command(store::make_command("HGET", std::string(ks::kApiKeyHashMap), std::move(digest)));
  if (!id) co_return id.error();
  if (id->is_nil()) co_return std::optional<ApiKey>{};
  co_return co_await get(id->str);
}

Task<Result<std::vector<ApiKey>>> KeyStore::list() {
  auto ids = co_await redis_.command(store::make_command("ZRANGE", std::string(ks::kApiKeysByCreation), "0", "-1"));
  if (!ids) co_return ids.error();
  std::vector<RedisCommand> reads;
  for (const auto& id : ids->elements) reads.push_back(store::make_command("HGETALL", ks::api_key(id.str)));
  auto records = co_await redis_.pipeline(std::move(reads));
  if (!records) co_return records.error();
  std::vector<ApiKey> keys;
  for (const auto& r : *records) {
    auto record = store::to_record(r);
    if (!record.empty()) keys.push_back(from_hash(record));
  }
  co_return keys;
}

Task<Status> KeyStore::set_enabled(std::string id, bool enabled) {
  auto existing = co_await get(id);
  if (!existing) co_return existing.error();
  if (!*existing) co_return Error{"no key with id " + id};
  std::vector<RedisCommand> cmds;
  cmds.push_back(store::make_command("MULTI"));
  cmds.push_back(store::make_command("HSET", ks::api_key(id), "isActive", enabled ? "true" : "false"));
  cmds.push_back(store::make_command("PUBLISH", std::string(ks::kInvalidationChannel), "key:" + id));
  cmds.push_back(store::make_command("EXEC"));
  co_return store::transaction_status(co_await redis_.pipeline(std::move(cmds)));
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
  cmds.push_back(store::make_command("EXEC"));
  co_return store::transaction_status(co_await redis_.pipeline(std::move(cmds)));
}

}  // namespace crs::keys
