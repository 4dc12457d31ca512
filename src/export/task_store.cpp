#include "export/task_store.hpp"

#include <chrono>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/logging.hpp"
#include "core/time.hpp"
#include "store/redis_script.hpp"

namespace crs::key_export {
namespace json = boost::json;
using store::HashRecord;

namespace {

// KEYS[1] the task. ARGV: 1 states it may leave ("|queued|running|"), 2 the new state ("" keeps
// it), 3 lease ms (> 0: leaseUntil = now + this), 4 expiry s (> 0), 5 "1": only if the lease
// has run out, 6... field/value pairs. Times are Redis' own, so instances with skewed clocks
// agree on a lease. Returns "ok:<state>" when applied, else the state ("" when missing).
const store::Script& transition_script() {
  static const store::Script s(R"LUA(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return '' end
if not string.find(ARGV[1], '|' .. state .. '|', 1, true) then return state end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[5] == '1' then
  local lease = tonumber(redis.call('HGET', KEYS[1], 'leaseUntil') or '0') or 0
  if lease >= now then return state end
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'state', ARGV[2])
  state = ARGV[2]
end
if tonumber(ARGV[3]) > 0 then redis.call('HSET', KEYS[1], 'leaseUntil', now + tonumber(ARGV[3])) end
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return 'ok:' .. state
)LUA");
  return s;
}

// KEYS[1] the task; ARGV[1] lease ms, ARGV[2...] its fields. A task id is never reused.
const store::Script& create_script() {
  static const store::Script s(R"LUA(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('HSET', KEYS[1], 'leaseUntil', now + tonumber(ARGV[1]))
return 1
)LUA");
  return s;
}

int64_t number(const HashRecord& r, const char* name) { return std::atoll(store::field(r, name, "0").c_str()); }

std::vector<std::string> transition_args(std::string from, std::string to, int64_t lease_ms, int64_t expire_seconds,
                                         bool only_abandoned, const HashRecord& fields) {
  std::vector<std::string> args{std::move(from), std::move(to), std::to_string(lease_ms),
                                std::to_string(expire_seconds), only_abandoned ? "1" : "0"};
  for (const auto& [k, v] : fields) {
    args.push_back(k);
    args.push_back(v);
  }
  return args;
}

std::vector<std::string> create_args(const ExportTask& t) {
  std::vector<std::string> args{std::to_string(kLeaseMs)};
  for (const auto& [k, v] : to_hash(t)) {
    args.push_back(k);
    args.push_back(v);
  }
  return args;
}

std::vector<std::string> one_key(std::string key) {
  std::vector<std::string> keys;
  keys.push_back(std::move(key));
  return keys;
}

std::string day_stats_key(const std::string& day) { return "export:stats:" + day; }
constexpr const char* kTotalStats = "export:stats:total";

std::vector<store::RedisCommand> count_commands(const std::string& format, int64_t rows, uint64_t bytes) {
  std::string day = iso8601_utc().substr(0, 10);
  std::vector<store::RedisCommand> cmds;
  for (const std::string& key : {day_stats_key(day), std::string(kTotalStats)}) {
    cmds.push_back(store::make_command("HINCRBY", key, format + ":exports", "1"));
    cmds.push_back(store::make_command("HINCRBY", key, format + ":rows", std::to_string(rows)));
    cmds.push_back(store::make_command("HINCRBY", key, format + ":bytes", std::to_string(bytes)));
  }
  cmds.push_back(store::make_command("EXPIRE", day_stats_key(day), std::to_string(400 * 86400)));
  return cmds;
}

// {format: {exports, rows, bytes}} of one stats hash.
json::object stats_object(const HashRecord& r) {
  json::object out;
  for (const auto& [name, value] : r) {
    auto colon = name.find(':');
    if (colon == std::string::npos) continue;
    auto& per_format = out[name.substr(0, colon)];
    if (!per_format.is_object()) per_format = json::object{};
    per_format.as_object()[name.substr(colon + 1)] = std::atoll(value.c_str());
  }
  return out;
}

std::string day_before(int back) {
  auto t = std::chrono::system_clock::now() - std::chrono::hours(24) * back;
  return iso8601_utc(t).substr(0, 10);
}

// "ok:<state>" when applied, else the state ("" when the task is missing).
Transition transition_of(const std::string& reply) {
  Transition t;
  t.applied = reply.starts_with("ok:");
  t.state = reply;
  if (t.applied) t.state = reply.substr(3);
  return t;
}

HashRecord abandoned_fields() { return HashRecord{{"error", abandoned_reason()}, {"finishedAt", iso8601_utc()}}; }

}  // namespace

std::string task_key(const std::string& id) { return "export:task:" + id; }

ExportTask new_task(const ExportSpec& spec, const std::string& who, const std::string& instance) {
  ExportTask t;
  t.id = crypto::uuid_v4();
  t.state = "queued";
  t.format = format_name(spec.format);
  t.spec = json::serialize(spec_json(spec));
  t.sanitized = spec.sanitize;
  t.requested_by = who;
  t.instance = instance;
  t.created_at = iso8601_utc();
  t.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
  return t;
}

std::string abandoned_reason() {
  return "the instance running this export stopped or lost Redis (its lease ran out before the export ended)";
}

HashRecord to_hash(const ExportTask& t) {
  return HashRecord{{"id", t.id},
                    {"state", t.state},
                    {"format", t.format},
                    {"spec", t.spec},
                    {"sanitized", t.sanitized ? "true" : "false"},
                    {"requestedBy", t.requested_by},
                    {"instance", t.instance},
                    {"createdAt", t.created_at},
                    {"createdMs", std::to_string(t.created_ms)},
                    {"startedAt", t.started_at},
                    {"finishedAt", t.finished_at},
                    {"total", std::to_string(t.total)},
                    {"scanned", std::to_string(t.scanned)},
                    {"rows", std::to_string(t.rows)},
                    {"batches", std::to_string(t.batches)},
                    {"file", t.file},
                    {"size", std::to_string(t.size)},
                    {"sha256", t.sha256},
                    {"error", t.error}};
}

ExportTask task_of(const HashRecord& r) {
  ExportTask t;
  t.id = store::field(r, "id");
  t.state = store::field(r, "state");
  t.format = store::field(r, "format");
  t.spec = store::field(r, "spec");
  t.sanitized = store::field(r, "sanitized") != "false";
  t.requested_by = store::field(r, "requestedBy");
  t.instance = store::field(r, "instance");
  t.created_at = store::field(r, "createdAt");
  t.created_ms = number(r, "createdMs");
  t.started_at = store::field(r, "startedAt");
  t.finished_at = store::field(r, "finishedAt");
  t.total = number(r, "total");
  t.scanned = number(r, "scanned");
  t.rows = number(r, "rows");
  t.batches = number(r, "batches");
  t.file = store::field(r, "file");
  t.size = static_cast<uint64_t>(number(r, "size"));
  t.sha256 = store::field(r, "sha256");
  t.error = store::field(r, "error");
  t.lease_until_ms = number(r, "leaseUntil");
  return t;
}

json::object task_json(const ExportTask& t) {
  auto or_null = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
  json::value spec = nullptr;
  boost::system::error_code ec;
  if (!t.spec.empty()) spec = json::parse(t.spec, ec);
  if (ec) spec = nullptr;
  int64_t percent = t.total > 0 ? std::min<int64_t>(100, t.scanned * 100 / t.total) : (t.state == "done" ? 100 : 0);
  json::object progress{{"scanned", t.scanned}, {"total", t.total}, {"rows", t.rows}, {"batches", t.batches},
                        {"percent", percent}};
  json::object o;
  o["id"] = t.id;
  o["state"] = t.state;
  o["format"] = t.format;
  o["sanitized"] = t.sanitized;
  o["request"] = std::move(spec);
  o["progress"] = std::move(progress);
  o["requestedBy"] = t.requested_by;
  o["instance"] = t.instance;
  o["createdAt"] = t.created_at;
  o["startedAt"] = or_null(t.started_at);
  o["finishedAt"] = or_null(t.finished_at);
  o["file"] = or_null(t.file);
  o["size"] = t.size;
  o["sha256"] = or_null(t.sha256);
  o["error"] = or_null(t.error);
  if (t.state == "done") o["download"] = "/admin/exports/" + t.id + "/download";
  return o;
}

Task<Status> TaskStore::create(ExportTask task) {
  auto made = co_await store::run_script(redis_, create_script(),
                                         create_script().call(one_key(task_key(task.id)), create_args(task)));
  if (!made) co_return made.error();
  if (made->is_error()) co_return Error{"redis: " + made->str};
  if (made->integer != 1) co_return Error{"export task " + task.id + " exists already"};
  auto indexed = co_await redis_.command(
      store::make_command("ZADD", std::string(kTaskIndex), std::to_string(task.created_ms), task.id));
  if (!indexed) co_return indexed.error();
  co_return Ok{};
}

Task<Result<Transition>> TaskStore::transition(std::string id, std::string from, std::string to, HashRecord fields,
                                               int64_t expire_seconds) {
  // A task that stays queued or running keeps its lease alive.
  int64_t lease = to == "running" || to.empty() ? kLeaseMs : 0;
  auto call = transition_script().call(one_key(task_key(id)),
                                       transition_args(std::move(from), std::move(to), lease, expire_seconds, false, fields));
  auto reply = co_await store::run_script(redis_, transition_script(), std::move(call));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  co_return transition_of(reply->str);
}

Task<Result<Transition>> TaskStore::fail_if_abandoned(std::string id) {
  auto call = transition_script().call(one_key(task_key(id)),
                                       transition_args("|queued|running|", "failed", 0, kEndedTaskKeepSeconds, true, abandoned_fields()));
  auto reply = co_await store::run_script(redis_, transition_script(), std::move(call));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  co_return transition_of(reply->str);
}

Task<Result<std::optional<TaskStore::Found>>> TaskStore::get(std::string id, bool fail_abandoned) {
  auto reply = co_await redis_.command(store::make_command("HGETALL", task_key(id)));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"redis: " + reply->str};
  auto record = store::to_record(*reply);
  if (record.empty()) co_return std::optional<Found>{};
  Found found{task_of(record), false};
  if (!found.task.live() || !fail_abandoned) co_return found;
  auto failed = co_await fail_if_abandoned(id);
  if (!failed) co_return failed.error();
  if (!failed->applied) co_return found;
  found.failed_now = true;
  found.task.state = "failed";
  found.task.error = abandoned_reason();
  api_export_log().warn("export {} failed: by {}, format {}, rows {} of {} keys written before: {}", id,
                        found.task.requested_by, found.task.format, found.task.rows, found.task.scanned,
                        abandoned_reason());
  co_return found;
}

Task<Result<std::vector<TaskStore::Found>>> TaskStore::list(size_t limit) {
  std::string last = std::to_string(std::max<size_t>(limit, 1) - 1);
  auto ids = co_await redis_.command(store::make_command("ZREVRANGE", std::string(kTaskIndex), "0", last));
  if (!ids) co_return ids.error();
  std::vector<Found> out;
  std::vector<std::string> gone;
  for (const auto& element : ids->elements) {
    auto found = co_await get(element.str);
    if (!found) co_return found.error();
    if (*found) out.push_back(std::move(**found));
    else gone.push_back(element.str);
  }
  if (!gone.empty()) {
    store::RedisCommand zrem = store::make_command("ZREM", std::string(kTaskIndex));
    zrem.insert(zrem.end(), gone.begin(), gone.end());
    (void)co_await redis_.command(std::move(zrem));  // pruning the index: the next listing tries again
  }
  co_return out;
}

Task<Status> TaskStore::remove(std::string id) {
  std::vector<store::RedisCommand> cmds;
  cmds.push_back(store::make_command("DEL", task_key(id)));
  cmds.push_back(store::make_command("ZREM", std::string(kTaskIndex), id));
  auto replies = co_await redis_.pipeline(std::move(cmds));
  if (!replies) co_return replies.error();
  co_return Ok{};
}

Task<Status> TaskStore::count(std::string format, int64_t rows, uint64_t bytes) {
  auto replies = co_await redis_.pipeline(count_commands(format, rows, bytes));
  if (!replies) co_return replies.error();
  co_return Ok{};
}

Task<Result<json::object>> TaskStore::stats(int days) {
  std::vector<store::RedisCommand> cmds;
  cmds.push_back(store::make_command("HGETALL", std::string(kTotalStats)));
  std::vector<std::string> dates;
  for (int i = 0; i < days; ++i) {
    dates.push_back(day_before(i));
    cmds.push_back(store::make_command("HGETALL", day_stats_key(dates.back())));
  }
  auto replies = co_await redis_.pipeline(std::move(cmds));
  if (!replies) co_return replies.error();
  json::object by_day;
  for (size_t i = 0; i < dates.size(); ++i) {
    auto record = store::to_record((*replies)[i + 1]);
    if (!record.empty()) by_day[dates[i]] = stats_object(record);
  }
  json::object out;
  out["total"] = stats_object(store::to_record(replies->front()));
  out["days"] = std::move(by_day);
  co_return out;
}

}  // namespace crs::key_export
