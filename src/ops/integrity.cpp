#include "ops/integrity.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "accounts/account_store.hpp"
#include "core/crypto.hpp"
#include "core/time.hpp"
#include "store/hash_record.hpp"
#include "store/keyspace.hpp"
#include "usage/aggregator.hpp"

namespace crs::ops {
namespace {

namespace ks = store::keyspace;
using store::make_command;
using store::RedisCommand;

constexpr size_t kBatch = 500;


// KEYS[1] the totals hash, KEYS[2] the model set; ARGV[1] "1" to repair, ARGV[2] the prefix of
// the per-model all-time buckets, ARGV[3] n, ARGV[4..3+n] the models whose buckets a SCAN found,
// then pairs of (bucket field, total field). The models are those and the set's, read here: a
// model first used after the SCAN is summed too. Returns the differences as {field, total,
// sum, ...}, then {'model', m, ''} for a model missing from the set. Atomic: the aggregator's
// fold cannot interleave.
constexpr std::string_view kUsageTotalsScript = R"lua(
local repair = ARGV[1] == '1'
local prefix, n = ARGV[2], tonumber(ARGV[3])
local models, seen, missing = {}, {}, {}
for i = 4, 3 + n do
  if not seen[ARGV[i]] then seen[ARGV[i]] = true; table.insert(models, ARGV[i]) end
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then table.insert(missing, ARGV[i]) end
end
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not seen[m] then seen[m] = true; table.insert(models, m) end
end
local out = {}
local i = 4 + n
while i + 1 <= #ARGV do
  local bucket_field, total_field = ARGV[i], ARGV[i + 1]
  local sum = 0
  for _, m in ipairs(models) do sum = sum + (tonumber(redis.call('HGET', prefix .. m, bucket_field)) or 0) end
  local total = tonumber(redis.call('HGET', KEYS[1], total_field)) or 0
  if total ~= sum then
    table.insert(out, total_field); table.insert(out, tostring(total)); table.insert(out, tostring(sum))
    if repair then redis.call('HSET', KEYS[1], total_field, sum) end
  end
  i = i + 2
end
for _, m in ipairs(missing) do
  table.insert(out, 'model'); table.insert(out, m); table.insert(out, '')
  if repair then redis.call('SADD', KEYS[2], m) end
end
return out
)lua";

// One repair, applied only if what justified it still holds (the check read earlier; a writer
// may have changed it since). KEYS[1] the index, KEYS[2] the record; ARGV[1] the action,
// ARGV[2] the member or field, ARGV[3] the value or score.
//   sadd-if-record / zadd-if-record (NX)       when the record exists
//   srem-if-no-record / zrem-... / hdel-...    when the record does not exist
//   digest-if-held    HSETNX digest id when the record's apiKey is the digest
//   digest-if-stale   HDEL digest when the record's apiKey is not the digest and the entry is the id
constexpr std::string_view kGuardedRepairScript = R"lua(
local action, member, value = ARGV[1], ARGV[2], ARGV[3]
local exists = redis.call('EXISTS', KEYS[2]) == 1
if action == 'sadd-if-record' then
  if exists then return redis.call('SADD', KEYS[1], member) end
elseif action == 'zadd-if-record' then
  if exists then return redis.call('ZADD', KEYS[1], 'NX', value, member) end
elseif action == 'srem-if-no-record' then
  if not exists then return redis.call('SREM', KEYS[1], member) end
elseif action == 'zrem-if-no-record' then
  if not exists then return redis.call('ZREM', KEYS[1], member) end
elseif action == 'hdel-if-no-record' then
  if not exists then return redis.call('HDEL', KEYS[1], member) end
elseif action == 'digest-if-held' then
  if redis.call('HGET', KEYS[2], 'apiKey') == member then return redis.call('HSETNX', KEYS[1], member, value) end
elseif action == 'digest-if-stale' then
  if redis.call('HGET', KEYS[2], 'apiKey') ~= member and redis.call('HGET', KEYS[1], member) == value then
    return redis.call('HDEL', KEYS[1], member)
  end
else
  return redis.error_reply('unknown repair ' .. action)
end
return 0
)lua";

RedisCommand guarded(const char* action, const std::string& index, const std::string& record, const std::string& member,
                     const std::string& value = "") {
  return make_command("EVAL", std::string(kGuardedRepairScript), "2", index, record, action, member, value);
}

Task<Result<std::vector<std::string>>> scan(store::RedisClient& redis, std::string pattern) {
  std::vector<std::string> names;
  std::string cursor = "0";
  do {
    auto reply = co_await redis.command(make_command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000"));
    if (!reply) co_return reply.error();
    if (reply->is_error() || reply->elements.size() != 2) co_return Error{"SCAN: " + reply->str};
    cursor = reply->elements[0].str;
    for (auto& e : reply->elements[1].elements) names.push_back(std::move(e.str));
  } while (cursor != "0");
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  co_return names;
}

// Replies to `commands`, sent in pipelines of kBatch.
Task<Result<std::vector<store::RedisReply>>> read_all(store::RedisClient& redis, std::vector<RedisCommand> commands) {
  std::vector<store::RedisReply> out;
  for (size_t from = 0; from < commands.size(); from += kBatch) {
    std::vector<RedisCommand> part(commands.begin() + from, commands.begin() + std::min(commands.size(), from + kBatch));
    auto replies = co_await redis.pipeline(std::move(part));
    if (!replies) co_return replies.error();
    for (auto& r : *replies) {
      if (r.is_error()) co_return Error{"redis: " + r.str};
      out.push_back(std::move(r));
    }
  }
  co_return out;
}

Task<Status> apply(store::RedisClient& redis, std::vector<RedisCommand> repairs) {
  auto done = co_await read_all(redis, std::move(repairs));
  if (!done) co_return done.error();
  co_return Ok{};
}

// A key's creation time for the index: its createdAt, else now.
int64_t created_ms(const std::string& iso) {
  int64_t ms = parse_iso8601_ms(iso);
  return ms ? ms : unix_ms();
}

// ---- keys ----

struct KeyIndexes {
  std::map<std::string, std::string> by_digest;  // apikey:hash_map
  std::set<std::string> by_creation;             // apikey:idx:createdAt
  std::vector<std::string> ids;                  // every id either index or a SCAN names
};

std::vector<RedisCommand> key_index_reads() {
  std::vector<RedisCommand> out;
  out.push_back(make_command("HGETALL", std::string(ks::kApiKeyHashMap)));
  out.push_back(make_command("ZRANGE", std::string(ks::kApiKeysByCreation), "0", "-1"));
  return out;
}

Task<Result<KeyIndexes>> read_key_indexes(store::RedisClient& redis) {
  KeyIndexes k;
  auto replies = co_await read_all(redis, key_index_reads());
  if (!replies) co_return replies.error();
  auto& map = (*replies)[0].elements;
  for (size_t i = 0; i + 1 < map.size(); i += 2) k.by_digest[map[i].str] = map[i + 1].str;
  for (auto& e : (*replies)[1].elements) k.by_creation.insert(e.str);
  auto scanned = co_await scan(redis, std::string(ks::api_key("*")));
  if (!scanned) co_return scanned.error();
  std::set<std::string> ids(k.by_creation.begin(), k.by_creation.end());
  for (const auto& [digest, id] : k.by_digest) ids.insert(id);
  for (const auto& name : *scanned) {
    std::string_view id = std::string_view(name).substr(ks::api_key("").size());
    if (crypto::is_uuid(id)) ids.insert(std::string(id));
  }
  k.ids.assign(ids.begin(), ids.end());
  co_return k;
}

std::vector<RedisCommand> key_record_reads(const std::vector<std::string>& ids) {
  std::vector<RedisCommand> out;
  for (const auto& id : ids) out.push_back(make_command("HMGET", ks::api_key(id), "apiKey", "createdAt"));
  return out;
}

void judge_keys(const KeyIndexes& k, const std::vector<store::RedisReply>& records, IntegrityReport& report,
                std::vector<RedisCommand>& repairs) {
  auto add = [&](const char* check, const std::string& subject, std::string problem, RedisCommand fix) {
    report.findings.push_back(Finding{check, subject, std::move(problem), true, false});
    repairs.push_back(std::move(fix));
  };
  std::map<std::string, std::string> digest_of;  // id -> digest, for records that exist
  for (size_t i = 0; i < k.ids.size(); ++i) {
    const auto& id = k.ids[i];
    const auto& fields = records[i].elements;
    if (fields.size() == 2 && !fields[0].is_nil() && !fields[0].str.empty()) {
      digest_of[id] = fields[0].str;
      if (!k.by_creation.count(id))
        add("keys.creation-index", id, "missing from the creation index (listings and exports skip it)",
            guarded("zadd-if-record", std::string(ks::kApiKeysByCreation), ks::api_key(id), id,
                    std::to_string(created_ms(fields[1].str))));
    } else if (k.by_creation.count(id)) {
      add("keys.creation-index", id, "listed in the creation index without a record",
          guarded("zrem-if-no-record", std::string(ks::kApiKeysByCreation), ks::api_key(id), id));
    }
  }
  for (const auto& [digest, id] : k.by_digest) {
    auto it = digest_of.find(id);
    if (it == digest_of.end())
      add("keys.digest-index", id, "a digest index entry for a key without a record",
          guarded("hdel-if-no-record", std::string(ks::kApiKeyHashMap), ks::api_key(id), digest));
    else if (it->second != digest)
      add("keys.digest-index", id, "a digest index entry its record does not hold (an old secret): it must not authenticate",
          guarded("digest-if-stale", std::string(ks::kApiKeyHashMap), ks::api_key(id), digest, id));
  }
  for (const auto& [id, digest] : digest_of) {
    auto it = k.by_digest.find(digest);
    if (it == k.by_digest.end())
      add("keys.digest-index", id, "missing from the digest index: it cannot authenticate",
          guarded("digest-if-held", std::string(ks::kApiKeyHashMap), ks::api_key(id), digest, id));
    else if (it->second != id && digest_of.count(it->second) && digest_of[it->second] == digest)
      report.findings.push_back(Finding{"keys.digest-index", id,
                                        "shares its digest with key " + it->second + " (only one can authenticate)",
                                        false, false});
  }
  report.checked["keys"] = static_cast<int64_t>(digest_of.size());
}

Task<Status> check_keys(store::RedisClient& redis, IntegrityReport& report, std::vector<RedisCommand>& repairs,
                        std::vector<std::string>& key_ids) {
  auto k = co_await read_key_indexes(redis);
  if (!k) co_return k.error();
  auto records = co_await read_all(redis, key_record_reads(k->ids));
  if (!records) co_return records.error();
  judge_keys(*k, *records, report, repairs);
  key_ids = k->ids;
  co_return Ok{};
}

// ---- accounts and groups ----

std::vector<RedisCommand> type_reads(const std::vector<std::string>& names) {
  std::vector<RedisCommand> out;
  for (const auto& n : names) out.push_back(make_command("TYPE", n));
  return out;
}

Task<Result<std::set<std::string>>> members(store::RedisClient& redis, std::string set) {
  auto reply = co_await redis.command(make_command("SMEMBERS", set));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  std::set<std::string> out;
  for (auto& e : reply->elements) out.insert(std::move(e.str));
  co_return out;
}

Task<Status> check_accounts(store::RedisClient& redis, const IntegrityOptions& options, IntegrityReport& report,
                            std::vector<RedisCommand>& repairs, std::set<std::string>& accounts_out) {
  auto index = co_await members(redis, std::string(ks::kAccountIndex));
  if (!index) co_return index.error();
  auto scanned = co_await scan(redis, ks::account("*"));
  if (!scanned) co_return scanned.error();
  std::set<std::string> ids = *index;
  for (const auto& name : *scanned) {
    std::string id = name.substr(ks::account("").size());
    if (id.find(':') == std::string::npos) ids.insert(id);
  }
  std::vector<std::string> list(ids.begin(), ids.end()), names;
  for (const auto& id : list) names.push_back(ks::account(id));
  auto types = co_await read_all(redis, type_reads(names));  // the index itself matches the SCAN too
  if (!types) co_return types.error();
  for (size_t i = 0; i < list.size(); ++i) {
    bool record = (*types)[i].str == "hash";
    bool indexed = index->count(list[i]) > 0;
    if (record) accounts_out.insert(list[i]);
    if (record && !indexed) {
      report.findings.push_back(Finding{"accounts.index", list[i], "missing from the account index: no relay uses it",
                                        true, false});
      repairs.push_back(guarded("sadd-if-record", std::string(ks::kAccountIndex), ks::account(list[i]), list[i]));
    } else if (!record && indexed) {
      report.findings.push_back(Finding{"accounts.index", list[i], "in the account index without a record", true, false});
      repairs.push_back(guarded("srem-if-no-record", std::string(ks::kAccountIndex), ks::account(list[i]), list[i]));
    }
  }
  report.checked["accounts"] = static_cast<int64_t>(accounts_out.size());
  accounts::AccountStore store(redis, options.encryption_key);
  auto all = co_await store.list();
  if (!all) co_return all.error();
  for (const auto& a : *all)
    if (a.credentials_unreadable)
      report.findings.push_back(Finding{"accounts.credentials", a.id,
                                        "its credentials do not open with this ENCRYPTION_KEY: re-enter them", false,
                                        false});
  co_return Ok{};
}

Task<Status> check_groups(store::RedisClient& redis, const std::set<std::string>& accounts, IntegrityReport& report,
                          std::vector<RedisCommand>& repairs) {
  auto index = co_await members(redis, std::string(ks::kAccountGroupIndex));
  if (!index) co_return index.error();
  for (const auto& gid : *index) {
    auto exists = co_await redis.command(make_command("EXISTS", ks::account_group(gid)));
    if (!exists) co_return exists.error();
    if (exists->as_int().value_or(0) == 0) {
      report.findings.push_back(Finding{"groups.index", gid, "in the group index without a record", true, false});
      repairs.push_back(
          guarded("srem-if-no-record", std::string(ks::kAccountGroupIndex), ks::account_group(gid), gid));
      continue;
    }
    auto group_members = co_await members(redis, ks::account_group_members(gid));
    if (!group_members) co_return group_members.error();
    for (const auto& m : *group_members)
      if (!accounts.count(m)) {
        report.findings.push_back(Finding{"groups.members", gid, "lists account " + m + ", which does not exist", true,
                                          false});
        repairs.push_back(guarded("srem-if-no-record", ks::account_group_members(gid), ks::account(m), m));
      }
  }
  report.checked["groups"] = static_cast<int64_t>(index->size());
  co_return Ok{};
}

// ---- usage ----

RedisCommand usage_totals_command(const std::string& totals, const std::string& model_set, const std::string& bucket_prefix,
                                  const std::vector<std::string>& models, bool repair) {
  RedisCommand c = make_command("EVAL", std::string(kUsageTotalsScript), "2", totals, model_set, repair ? "1" : "0",
                                bucket_prefix, std::to_string(models.size()));
  for (const auto& m : models) c.push_back(m);
  for (const auto& f : usage::kCounterFields) {
    c.push_back(f.bucket);
    c.push_back(f.total);
  }
  return c;
}

void judge_usage(const std::string& subject, const store::RedisReply& reply, bool repair, IntegrityReport& report) {
  const auto& e = reply.elements;
  for (size_t i = 0; i + 2 < e.size(); i += 3) {
    if (e[i].str == "model")
      report.findings.push_back(Finding{"usage.models", subject, "model " + e[i + 1].str + " missing from its model set",
                                        true, repair});
    else
      report.findings.push_back(Finding{
          "usage.totals", subject,
          fmt::format("{} is {}, its per-model all-time buckets sum to {}", e[i].str, e[i + 1].str, e[i + 2].str), true,
          repair});
  }
}

Task<Status> check_usage(store::RedisClient& redis, bool repair, IntegrityReport& report) {
  auto buckets = co_await scan(redis, "usage:*:model:alltime:*");
  if (!buckets) co_return buckets.error();
  std::map<std::string, std::vector<std::string>> models_of;  // key id -> models
  for (const auto& name : *buckets) {
    auto at = name.find(":model:alltime:");
    std::string key = name.substr(6, at - 6);
    if (key.empty() || key == "model") continue;
    models_of[key].push_back(name.substr(at + 15));
  }
  auto global = co_await scan(redis, "usage:model:alltime:*");
  if (!global) co_return global.error();
  std::vector<std::string> global_models;
  for (const auto& name : *global) global_models.push_back(name.substr(20));

  std::vector<RedisCommand> checks;
  std::vector<std::string> subjects;
  for (const auto& [key, models] : models_of) {
    checks.push_back(usage_totals_command("usage:" + key, "usage:" + key + ":models", "usage:" + key + ":model:alltime:",
                                          models, repair));
    subjects.push_back(key);
  }
  checks.push_back(usage_totals_command("usage:global:total", "usage:model:index", "usage:model:alltime:",
                                        global_models, repair));
  subjects.push_back("global");
  auto replies = co_await read_all(redis, std::move(checks));
  if (!replies) co_return replies.error();
  size_t before = report.findings.size();
  for (size_t i = 0; i < subjects.size(); ++i) judge_usage(subjects[i], (*replies)[i], repair, report);
  report.checked["usageTotals"] = static_cast<int64_t>(subjects.size());
  if (repair && report.findings.size() > before) {  // cached reports made before are unreachable
    auto bumped = co_await redis.command(make_command("HINCRBY", std::string(ks::kDataGeneration), "usage", "1"));
    if (!bumped) co_return bumped.error();
  }
  co_return Ok{};
}

}  // namespace

size_t IntegrityReport::unrepaired() const {
  return static_cast<size_t>(std::count_if(findings.begin(), findings.end(), [](const Finding& f) { return !f.repaired; }));
}

Task<Result<IntegrityReport>> verify_data(store::RedisClient& redis, IntegrityOptions options) {
  IntegrityReport report;
  std::vector<RedisCommand> repairs;
  std::vector<std::string> key_ids;
  std::set<std::string> account_ids;
  if (auto s = co_await check_keys(redis, report, repairs, key_ids); !s) co_return s.error();
  if (auto s = co_await check_accounts(redis, options, report, repairs, account_ids); !s) co_return s.error();
  if (auto s = co_await check_groups(redis, account_ids, report, repairs); !s) co_return s.error();
  if (options.repair && !repairs.empty()) {
    // Running instances forget what they cached of keys and accounts, and the query cache's
    // entries from before are unreachable.
    repairs.push_back(make_command("HINCRBY", std::string(ks::kDataGeneration), "keys", "1"));
    repairs.push_back(make_command("PUBLISH", std::string(ks::kInvalidationChannel), std::string(ks::kReloadAll)));
    if (auto s = co_await apply(redis, std::move(repairs)); !s) co_return s.error();
    for (auto& f : report.findings)
      if (f.repairable) f.repaired = true;
  }
  // Usage last: its script repairs as it checks, each key atomically.
  if (auto s = co_await check_usage(redis, options.repair, report); !s) co_return s.error();
  co_return report;
}

}  // namespace crs::ops
