#include "ops/schema.hpp"

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "ops/integrity.hpp"
#include "store/keyspace.hpp"

namespace crs::ops {
namespace {

namespace ks = store::keyspace;
using store::make_command;
using store::RedisCommand;

constexpr std::string_view kLockKey = "crs:schema:lock";
constexpr int kLockMs = 10 * 60 * 1000;

// Released only by its holder.
constexpr std::string_view kUnlockScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

std::vector<RedisCommand> state_reads() {
  std::vector<RedisCommand> out;
  out.push_back(make_command("GET", std::string(ks::kSchemaVersionKey)));
  out.push_back(make_command("HLEN", std::string(ks::kApiKeyHashMap)));
  out.push_back(make_command("SCARD", std::string(ks::kAccountIndex)));
  out.push_back(make_command("EXISTS", "usage:global:total"));
  return out;
}

// Step 1: data from before versions existed (older builds, a restore of a copy taken while
// writes went on, hand edits) gets every index derived again from its records.
Task<Status> derive_indexes(store::RedisClient& redis, std::string encryption_key) {
  IntegrityOptions o;
  o.repair = true;
  o.encryption_key = std::move(encryption_key);
  auto report = co_await verify_data(redis, o);
  if (!report) co_return report.error();
  co_return Ok{};
}

Task<Status> run_step(store::RedisClient& redis, int version, const std::string& encryption_key) {
  switch (version) {
    case 1: co_return co_await derive_indexes(redis, encryption_key);
    default: co_return Error{fmt::format("no migration to schema version {}", version)};
  }
}

Task<Result<std::string>> take_lock(store::RedisClient& redis) {
  std::string token = crypto::random_hex(16);
  auto reply = co_await redis.command(
      make_command("SET", std::string(kLockKey), token, "NX", "PX", std::to_string(kLockMs)));
  if (!reply) co_return reply.error();
  if (reply->is_nil())
    co_return Error{"another crs is migrating the data now (crs:schema:lock); try again when it is done"};
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  co_return token;
}

Task<void> release_lock(store::RedisClient& redis, std::string token) {
  co_await redis.command(make_command("EVAL", std::string(kUnlockScript), "1", std::string(kLockKey), token));
}

Task<Status> stamp(store::RedisClient& redis, int version) {
  auto reply = co_await redis.command(make_command("SET", std::string(ks::kSchemaVersionKey), std::to_string(version)));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  co_return Ok{};
}

Task<Status> apply_pending(store::RedisClient& redis, const SchemaState& state, const std::string& encryption_key,
                           MigrationResult& out) {
  if (state.fresh) {
    auto s = co_await stamp(redis, kSchemaVersion);
    if (s) out.version = kSchemaVersion;
    co_return s;
  }
  for (const auto& step : state.pending) {
    auto ran = co_await run_step(redis, step.version, encryption_key);
    if (!ran) co_return Error{fmt::format("migration {} ({}): {}", step.version, step.name, ran.error().message)};
    auto stamped = co_await stamp(redis, step.version);
    if (!stamped) co_return stamped;
    out.applied.push_back(step.name);
    out.version = step.version;
  }
  co_return Ok{};
}

}  // namespace

std::string newer_data_message(int stored) {
  return fmt::format("the data is at schema version {}, newer than this crs knows ({}): it was written by a newer crs. "
                     "Run that version, or restore a backup made by this one",
                     stored, kSchemaVersion);
}

const std::vector<MigrationStep>& migration_steps() {
  static const std::vector<MigrationStep> steps{
      {1, "derive-indexes",
       "the key digest and creation indexes, the account index, group members and usage totals derived again from "
       "their records (crs data verify --repair)"},
  };
  return steps;
}

Task<Result<SchemaState>> read_schema(store::RedisClient& redis) {
  auto replies = co_await redis.pipeline(state_reads());
  if (!replies) co_return replies.error();
  for (const auto& r : *replies)
    if (r.is_error()) co_return Error{"redis: " + r.str};
  SchemaState s;
  const auto& version = (*replies)[0];
  if (!version.is_nil()) {
    auto v = version.as_int();
    if (!v || *v < 1) co_return Error{"crs:schema_version holds \"" + version.str + "\", not a version"};
    s.stored = static_cast<int>(*v);
  }
  s.newer = s.stored > kSchemaVersion;
  bool has_data = (*replies)[1].as_int().value_or(0) > 0 || (*replies)[2].as_int().value_or(0) > 0 ||
                  (*replies)[3].as_int().value_or(0) > 0;
  s.fresh = s.stored == 0 && !has_data;
  if (!s.newer && !s.fresh)
    for (const auto& step : migration_steps())
      if (step.version > s.stored) s.pending.push_back(step);
  co_return s;
}

Task<Result<MigrationResult>> migrate(store::RedisClient& redis, std::string encryption_key, bool dry_run) {
  MigrationResult out;
  auto state = co_await read_schema(redis);
  if (!state) co_return state.error();
  out.before = *state;
  out.version = state->stored;
  if (state->newer) co_return out;  // the caller refuses it (newer_data_message)
  if (dry_run || (!state->fresh && state->pending.empty())) co_return out;
  auto token = co_await take_lock(redis);
  if (!token) co_return token.error();
  // Read again under the lock: another instance may have finished meanwhile.
  auto again = co_await read_schema(redis);
  Status applied = Ok{};
  if (again) applied = co_await apply_pending(redis, *again, encryption_key, out);
  else applied = again.error();
  co_await release_lock(redis, *token);
  if (!applied) co_return applied.error();
  co_return out;
}

}  // namespace crs::ops
