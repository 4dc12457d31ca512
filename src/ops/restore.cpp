#include "ops/restore.hpp"

#include <chrono>
#include <map>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/crypto.hpp"
#include "ops/backup_file.hpp"
#include "ops/snapshot.hpp"
#include "store/keyspace.hpp"

namespace crs::ops {
namespace json = boost::json;
namespace {

using store::make_command;
using store::RedisCommand;

// Into a live database: restore what is absent; for a present key add only what it lacks.
constexpr std::string_view kMergeScript = R"lua(
local ttl = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ttl > 0 then redis.call('RESTORE', KEYS[1], ttl, ARGV[2], 'ABSTTL')
  else redis.call('RESTORE', KEYS[1], 0, ARGV[2]) end
  return 'restored'
end
redis.call('RESTORE', KEYS[2], 0, ARGV[2], 'REPLACE')
local live = redis.call('TYPE', KEYS[1]).ok
local saved = redis.call('TYPE', KEYS[2]).ok
local added = 0
if live ~= saved then
  redis.call('DEL', KEYS[2])
  return 'conflict'
end
if live == 'hash' and ARGV[3] ~= '' then
  -- the digest index: an entry only where the key's record (restored before it, or live)
  -- holds that digest, so a renewed key's old digest does not come back
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do
    if redis.call('HGET', ARGV[3] .. all[i + 1], 'apiKey') == all[i] then
      added = added + redis.call('HSETNX', KEYS[1], all[i], all[i + 1])
    end
  end
elseif live == 'hash' then
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do added = added + redis.call('HSETNX', KEYS[1], all[i], all[i + 1]) end
elseif live == 'set' then
  local all = redis.call('SMEMBERS', KEYS[2])
  for i = 1, #all do added = added + redis.call('SADD', KEYS[1], all[i]) end
elseif live == 'zset' then
  local all = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #all, 2 do added = added + redis.call('ZADD', KEYS[1], 'NX', all[i + 1], all[i]) end
end
redis.call('DEL', KEYS[2])
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
  int64_t keys = 0, expired = 0, restored = 0, merged = 0, kept = 0, conflicts = 0, errors = 0;
  std::map<std::string, int64_t> families;
  json::array error_samples;
  std::string scratch_prefix = "crs:restore:scratch:" + crypto::random_hex(8) + ":";  // one run's own names
  void error(const std::string& name, const std::string& message) {
    ++errors;
    if (error_samples.size() < 20) error_samples.push_back(json::value(name + ": " + message));
  }
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

// Everything that can refuse the file without writing: checksum, version, key, payload versions.
Result<BackupSummary> check_file(const RestoreOptions& options, const Target& target, int& newest_payload) {
  auto summary = verify_backup(options.path);
  if (!summary) return summary.error();
  auto* check = summary->header.if_contains("encryptionKeyCheck");
  if (!check || !check->is_string() ||
      !crypto::equal_constant_time(check->get_string(), encryption_key_check(options.encryption_key)))
    return Error{"this ENCRYPTION_KEY is not the one the backup was made with: its account credentials could not be "
                 "opened and its relay keys would not authenticate. Set the ENCRYPTION_KEY of the relay that made it"};
  BackupReader reader(options.path);
  if (auto head = reader.open(); !head) return head.error();
  BackupRecord rec;
  newest_payload = 0;
  while (true) {
    auto more = reader.next(rec);
    if (!more) return more.error();
    if (!*more) break;
    newest_payload = std::max(newest_payload, payload_rdb_version(rec.payload));
  }
  int readable = max_rdb_version(target.version);
  if (newest_payload > readable)
    return Error{fmt::format("the backup holds values of RDB version {}, which Redis {} cannot read (it reads up to {}): "
                             "restore into a Redis at least as new as the one backed up",
                             newest_payload, target.version, readable)};
  return summary;
}

RedisCommand restore_command(const BackupRecord& rec, bool into_live, const std::string& scratch_prefix, uint64_t n) {
  std::string ttl = std::to_string(rec.expire_at_ms > 0 ? rec.expire_at_ms : 0);
  if (!into_live) {
    if (rec.expire_at_ms > 0) return make_command("RESTORE", rec.name, ttl, rec.payload, "ABSTTL");
    return make_command("RESTORE", rec.name, "0", rec.payload);
  }
  std::string scratch = fmt::format("{}{}", scratch_prefix, n);
  // Records sort before the index ("apikey:<uuid>" < "apikey:hash_map"), so they are in place.
  std::string record_prefix = rec.name == store::keyspace::kApiKeyHashMap ? store::keyspace::api_key("") : "";
  return make_command("EVAL", std::string(kMergeScript), "2", rec.name, scratch, ttl, rec.payload, record_prefix);
}

void count_reply(Tally& t, const std::string& name, const store::RedisReply& reply, bool into_live) {
  if (reply.is_error()) return t.error(name, reply.str);
  if (!into_live) return void(++t.restored);
  if (reply.str == "restored") ++t.restored;
  else if (reply.str == "merged") ++t.merged;
  else if (reply.str == "conflict") ++t.conflicts;
  else ++t.kept;
}

// Dry run: what each record would do (absent keys are restored, present ones merged or kept).
void count_existing(Tally& t, const store::RedisReply& exists, bool into_live) {
  if (exists.as_int().value_or(0) == 0) ++t.restored;
  else if (into_live) ++t.kept;  // merged or kept: decided by the values, not read here
  else ++t.conflicts;
}

Task<Status> send_batch(store::RedisClient& redis, std::vector<BackupRecord>& batch, const RestoreOptions& options,
                        Tally& t, uint64_t& scratch) {
  std::vector<RedisCommand> commands;
  commands.reserve(batch.size());
  for (const auto& rec : batch) {
    if (options.dry_run) commands.push_back(make_command("EXISTS", rec.name));
    else commands.push_back(restore_command(rec, options.into_live, t.scratch_prefix, scratch++));
  }
  auto replies = co_await redis.pipeline(std::move(commands));
  if (!replies) co_return replies.error();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (options.dry_run) count_existing(t, (*replies)[i], options.into_live);
    else count_reply(t, batch[i].name, (*replies)[i], options.into_live);
  }
  batch.clear();
  co_return Ok{};
}

Task<Status> write_records(store::RedisClient& redis, const RestoreOptions& options, Tally& t) {
  BackupReader reader(options.path);
  if (auto head = reader.open(); !head) co_return head.error();
  std::vector<BackupRecord> batch;
  uint64_t scratch = 0;
  int64_t now = now_ms();
  BackupRecord rec;
  while (true) {
    auto more = reader.next(rec);
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
                   {"targetRedisVersion", target.version},
                   {"targetKeysBefore", target.keys},
                   {"keys", t.keys},
                   {"expired", t.expired},
                   {"restored", t.restored},
                   {"merged", t.merged},
                   {"kept", t.kept},
                   {"conflicts", t.conflicts},
                   {"errors", t.errors},
                   {"families", std::move(families)}};
  if (auto* created = summary.header.if_contains("createdAt")) out["backupCreatedAt"] = *created;
  if (!t.error_samples.empty()) out["errorSamples"] = t.error_samples;
  return out;
}

Task<Status> after_restore(store::RedisClient& redis) {
  auto done = co_await redis.command(make_command(
      "EVAL", std::string(kAfterRestoreScript), "1", std::string(store::keyspace::kDataGeneration),
      std::to_string(now_ms()), std::string(store::keyspace::kInvalidationChannel), std::string(store::keyspace::kReloadAll)));
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
  int newest_payload = 0;
  auto summary = check_file(options, *target, newest_payload);
  if (!summary) co_return summary.error();
  if (!options.into_live && target->keys > 0)
    co_return Error{fmt::format(
        "this Redis database holds {} keys: restore into an empty one (stop the relay, and move its data aside), "
        "or merge with --into-live",
        target->keys)};
  Tally tally;
  auto written = co_await write_records(redis, options, tally);
  if (!written) co_return written.error();
  if (!options.dry_run) {
    auto told = co_await after_restore(redis);
    if (!told) co_return told.error();
  }
  co_return report(options, *summary, *target, tally);
}

}  // namespace crs::ops
