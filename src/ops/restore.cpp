#include "ops/restore.hpp"

#include <chrono>
#include <map>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/time.hpp"
#include "ops/backup_file.hpp"
#include "ops/schema.hpp"
#include "ops/snapshot.hpp"
#include "store/keyspace.hpp"

namespace crs::ops {
namespace json = boost::json;
namespace {

using store::make_command;
using store::RedisCommand;

// Into a live database (KEYS[1] the key, KEYS[2] a scratch name): ARGV[1] the expiry (ms since
// the epoch, 0: none), ARGV[2] the payload, ARGV[3] the kind ('' any value, 'record' a key,
// account or group record, 'members' an index), ARGV[4] the prefix of the record each member
// names, ARGV[5] '1' when the index is the digest hash (field: digest, value: key id, held by
// the record's apiKey), ARGV[6] '1' to bring back records deleted since the backup, ARGV[7] a
// record that must exist for the index to be touched (a group's members: the group).
// A record absent live was deleted since the backup (a leaked key, a removed account): it comes
// back only when asked. An index gains only members whose record exists live.
constexpr std::string_view kMergeScript = R"lua(
local ttl, kind = tonumber(ARGV[1]), ARGV[3]
if ARGV[7] ~= '' and redis.call('EXISTS', ARGV[7]) == 0 then return 'deleted' end
local absent = redis.call('EXISTS', KEYS[1]) == 0
if absent and kind == 'record' and ARGV[6] ~= '1' then return 'deleted' end
if absent and kind ~= 'members' then
  if ttl > 0 then redis.call('RESTORE', KEYS[1], ttl, ARGV[2], 'ABSTTL')
  else redis.call('RESTORE', KEYS[1], 0, ARGV[2]) end
  return 'restored'
end
-- a relative TTL: a scratch key an error leaves behind goes by itself
redis.call('RESTORE', KEYS[2], 300000, ARGV[2], 'REPLACE')
local saved = redis.call('TYPE', KEYS[2]).ok
local live = saved
if not absent then live = redis.call('TYPE', KEYS[1]).ok end
if live ~= saved then
  redis.call('DEL', KEYS[2])
  return 'conflict'
end
local function backed(member)
  if kind ~= 'members' then return true end
  return redis.call('EXISTS', ARGV[4] .. member) == 1
end
local added = 0
if live == 'hash' then
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do
    local ok = backed(all[i + 1])
    if ok and ARGV[5] == '1' then ok = redis.call('HGET', ARGV[4] .. all[i + 1], 'apiKey') == all[i] end
    if ok then added = added + redis.call('HSETNX', KEYS[1], all[i], all[i + 1]) end
  end
elseif live == 'set' then
  local all = redis.call('SMEMBERS', KEYS[2])
  for i = 1, #all do
    if backed(all[i]) then added = added + redis.call('SADD', KEYS[1], all[i]) end
  end
elseif live == 'zset' then
  local all = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #all, 2 do
    if backed(all[i]) then added = added + redis.call('ZADD', KEYS[1], 'NX', all[i + 1], all[i]) end
  end
end
redis.call('DEL', KEYS[2])
if absent and added > 0 then return 'restored' end
if added > 0 then return 'merged' end
return 'kept'
)lua";

// Generations past every earlier one (a count, or the clock in ms, whichever is higher), so no
// query cache entry computed before the restore is reachable after it; then the reload message.
constexpr std::string_view kAfterRestoreScript = R"lua(
for _, field in ipairs({'keys', 'usage'}) do
  local v = tonumber(redis.call('HGET', KEYS[1], field) or '0') or 0
  redis.call('HSET', KEYS[1], field, math.max(v + 1, tonumber(ARGV[1])))
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua";

struct Tally {  // int64_t: the report's JSON numbers are read as signed everywhere
  int64_t keys = 0, expired = 0, restored = 0, merged = 0, kept = 0, conflicts = 0, deleted = 0, errors = 0;
  bool wrote = false;  // a write was sent: caches must be told even if the run fails after
  std::map<std::string, int64_t> families;
  json::array error_samples;
  std::string scratch_prefix = "crs:restore:scratch:" + crypto::random_hex(8) + ":";  // one run's own names
  void error(const std::string& name, const std::string& message) {
    ++errors;
    if (error_samples.size() < 20) error_samples.push_back(json::value(name + ": " + message));
  }
};

struct Target {
  std::string version;
  int64_t keys = 0;
};

// Outside the coroutine: GCC 12 miscompiles initializer lists inside coroutine frames.
std::vector<RedisCommand> target_reads() {
  std::vector<RedisCommand> out;
  out.push_back(make_command("INFO", "server"));
  out.push_back(make_command("DBSIZE"));
  return out;
}

Task<Result<Target>> read_target(store::RedisClient& redis) {
  auto replies = co_await redis.pipeline(target_reads());
  if (!replies) co_return replies.error();
  for (const auto& r : *replies)
    if (r.is_error()) co_return Error{r.str};
  co_return Target{info_field((*replies)[0].str, "redis_version"), (*replies)[1].as_int().value_or(0)};
}

// The header's claims, before the MAC is judged: a wrong key or a newer crs is told as such.
Status check_header(const RestoreOptions& options) {
  auto header = read_backup_header(options.path);
  if (!header) return header.error();
  auto* check = header->if_contains("encryptionKeyCheck");
  if (!check || !check->is_string() ||
      !crypto::equal_constant_time(check->get_string(), encryption_key_check(options.encryption_key)))
    return Error{"this ENCRYPTION_KEY is not the one the backup was made with: its account credentials could not be "
                 "opened and its relay keys would not authenticate. Set the ENCRYPTION_KEY of the relay that made it"};
  if (auto* schema = header->if_contains("schemaVersion");
      schema && schema->is_int64() && schema->as_int64() > kSchemaVersion)
    return Error{"this backup holds " + newer_data_message(static_cast<int>(schema->as_int64()))};
  return Ok{};
}

// Everything that can refuse the file without writing: key, version, checksum, MAC, payloads.
Result<std::unique_ptr<VerifiedBackup>> check_file(const RestoreOptions& options, const Target& target) {
  if (auto s = check_header(options); !s) return s.error();
  auto verified = verify_backup(options.path, options.encryption_key);
  if (!verified) return verified.error();
  auto reader = (*verified)->reader();
  if (auto head = reader->open(); !head) return head.error();
  BackupRecord rec;
  int newest_payload = 0;
  while (true) {
    auto more = reader->next(rec);
    if (!more) return more.error();
    if (!*more) break;
    newest_payload = std::max(newest_payload, payload_rdb_version(rec.payload));
  }
  int readable = max_rdb_version(target.version);
  if (newest_payload > readable)
    return Error{fmt::format("the backup holds values of RDB version {}, which Redis {} cannot read (it reads up to {}): "
                             "restore into a Redis at least as new as the one backed up",
                             newest_payload, target.version, readable)};
  return std::move(*verified);
}

// How a key merges into a live database: a record, an index over records, or any other value.
struct MergeRule {
  std::string kind;          // "", "record", "members"
  std::string prefix;        // members: the record each one names
  bool digest_index = false;
  std::string owner;         // must exist for the key to be touched
};

MergeRule merge_rule(const std::string& name) {
  namespace ks = store::keyspace;
  const std::string key_prefix = ks::api_key(""), account_prefix = ks::account(""),
                    group_prefix = ks::account_group("");
  if (name == ks::kApiKeyHashMap) return {"members", key_prefix, true, ""};
  if (name == ks::kApiKeysByCreation) return {"members", key_prefix, false, ""};
  if (name == ks::kAccountIndex) return {"members", account_prefix, false, ""};
  if (name == ks::kAccountGroupIndex) return {"members", group_prefix, false, ""};
  if (name.starts_with(key_prefix) && crypto::is_uuid(std::string_view(name).substr(key_prefix.size())))
    return {"record", "", false, ""};
  if (name.starts_with(group_prefix)) {
    std::string rest = name.substr(group_prefix.size());
    if (rest.ends_with(":members"))
      return {"members", account_prefix, false, ks::account_group(rest.substr(0, rest.size() - 8))};
    if (rest.find(':') == std::string::npos) return {"record", "", false, ""};
  }
  if (name.starts_with(account_prefix) && name.find(':', account_prefix.size()) == std::string::npos)
    return {"record", "", false, ""};
  return {};
}

RedisCommand restore_command(const BackupRecord& rec, const RestoreOptions& options, const std::string& scratch_prefix,
                             uint64_t n) {
  std::string ttl = std::to_string(rec.expire_at_ms > 0 ? rec.expire_at_ms : 0);
  if (!options.into_live) {
    if (rec.expire_at_ms > 0) return make_command("RESTORE", rec.name, ttl, rec.payload, "ABSTTL");
    return make_command("RESTORE", rec.name, "0", rec.payload);
  }
  // Records sort before their indexes ("apikey:<uuid>" < "apikey:hash_map" < "apikey:idx:..."),
  // so a record brought back is in place when its index is merged.
  auto rule = merge_rule(rec.name);
  return make_command("EVAL", std::string(kMergeScript), "2", rec.name, fmt::format("{}{}", scratch_prefix, n), ttl,
                      rec.payload, rule.kind, rule.prefix, rule.digest_index ? "1" : "0",
                      options.include_deleted ? "1" : "0", rule.owner);
}

void count_reply(Tally& t, const std::string& name, const store::RedisReply& reply, bool into_live) {
  if (reply.is_error()) return t.error(name, reply.str);
  if (!into_live) return void(++t.restored);
  if (reply.str == "restored") ++t.restored;
  else if (reply.str == "merged") ++t.merged;
  else if (reply.str == "conflict") ++t.conflicts;
  else if (reply.str == "deleted") ++t.deleted;
  else ++t.kept;
}

// Dry run: what each record would do (absent keys are restored, present ones merged or kept).
void count_existing(Tally& t, const std::string& name, const store::RedisReply& exists, const RestoreOptions& o) {
  bool absent = exists.as_int().value_or(0) == 0;
  if (absent && o.into_live && !o.include_deleted && merge_rule(name).kind == "record") ++t.deleted;
  else if (absent) ++t.restored;
  else if (o.into_live) ++t.kept;  // merged or kept: decided by the values, not read here
  else ++t.conflicts;
}

Task<Status> send_batch(store::RedisClient& redis, std::vector<BackupRecord>& batch, const RestoreOptions& options,
                        Tally& t, uint64_t& scratch) {
  std::vector<RedisCommand> commands;
  commands.reserve(batch.size());
  for (const auto& rec : batch) {
    if (options.dry_run) commands.push_back(make_command("EXISTS", rec.name));
    else commands.push_back(restore_command(rec, options, t.scratch_prefix, scratch++));
  }
  if (!options.dry_run) t.wrote = true;
  auto replies = co_await redis.pipeline(std::move(commands));
  if (!replies) co_return replies.error();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (options.dry_run) count_existing(t, batch[i].name, (*replies)[i], options);
    else count_reply(t, batch[i].name, (*replies)[i], options.into_live);
  }
  batch.clear();
  co_return Ok{};
}

Task<Status> write_records(store::RedisClient& redis, const VerifiedBackup& backup, const RestoreOptions& options,
                           Tally& t) {
  auto reader = backup.reader();
  if (auto head = reader->open(); !head) co_return head.error();
  std::vector<BackupRecord> batch;
  uint64_t scratch = 0;
  int64_t now = unix_ms();
  BackupRecord rec;
  while (true) {
    auto more = reader->next(rec);
    if (!more) co_return more.error();
    if (!*more) break;
    ++t.keys;
    ++t.families[key_family(rec.name)];
    if (rec.expire_at_ms > 0 && rec.expire_at_ms <= now) {
      ++t.expired;  // it would be gone by now anyway
      continue;
    }
    batch.push_back(std::move(rec));
    if (batch.size() >= options.batch) {
      auto sent = co_await send_batch(redis, batch, options, t, scratch);
      if (!sent) co_return sent;
    }
  }
  if (!batch.empty()) {
    auto sent = co_await send_batch(redis, batch, options, t, scratch);
    if (!sent) co_return sent;
  }
  co_return Ok{};
}

json::object report(const RestoreOptions& options, const BackupSummary& summary, const Target& target,
                    const Tally& t) {
  json::object families;
  for (const auto& [name, n] : t.families) families[name] = n;
  json::object out{{"file", options.path},
                   {"sha256", summary.sha256},
                   {"mode", options.into_live ? "into-live" : "into-empty"},
                   {"dryRun", options.dry_run},
                   {"includeDeleted", options.include_deleted},
                   {"targetRedisVersion", target.version},
                   {"targetKeysBefore", target.keys},
                   {"keys", t.keys},
                   {"expired", t.expired},
                   {"restored", t.restored},
                   {"merged", t.merged},
                   {"kept", t.kept},
                   {"conflicts", t.conflicts},
                   {"deletedSinceBackup", t.deleted},
                   {"errors", t.errors},
                   {"families", std::move(families)}};
  if (auto* created = summary.header.if_contains("createdAt")) out["backupCreatedAt"] = *created;
  if (!t.error_samples.empty()) out["errorSamples"] = t.error_samples;
  return out;
}

Task<Status> after_restore(store::RedisClient& redis) {
  auto done = co_await redis.command(make_command(
      "EVAL", std::string(kAfterRestoreScript), "1", std::string(store::keyspace::kDataGeneration),
      std::to_string(unix_ms()), std::string(store::keyspace::kInvalidationChannel), std::string(store::keyspace::kReloadAll)));
  if (!done) co_return done.error();
  if (done->is_error()) co_return Error{done->str};
  co_return Ok{};
}

}  // namespace

int max_rdb_version(const std::string& redis_version) {
  int major = 0, minor = 0;
  if (std::sscanf(redis_version.c_str(), "%d.%d", &major, &minor) < 1) return 9;
  if (major < 7) return 9;
  if (major == 7 && minor < 2) return 10;
  if (major == 7 && minor < 4) return 11;
  return 99;  // newer than this code knows: RESTORE itself judges each payload
}

Task<Result<json::object>> restore_backup(store::RedisClient& redis, RestoreOptions options) {
  auto target = co_await read_target(redis);
  if (!target) co_return target.error();
  auto backup = check_file(options, *target);
  if (!backup) co_return backup.error();
  if (!options.into_live && target->keys > 0)
    co_return Error{fmt::format(
        "this Redis database holds {} keys: restore into an empty one (stop the relay, and move its data aside), "
        "or merge with --into-live",
        target->keys)};
  Tally tally;
  auto written = co_await write_records(redis, **backup, options, tally);
  // Whatever was written, running instances must not keep answering from what they cached.
  if (tally.wrote) {
    auto told = co_await after_restore(redis);
    if (!told && written) co_return told.error();
  }
  if (!written) co_return written.error();
  co_return report(options, (*backup)->summary(), *target, tally);
}

}  // namespace crs::ops
