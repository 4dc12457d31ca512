#include "ops/snapshot.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace crs::ops {
namespace {

using store::make_command;
using store::RedisCommand;

bool excluded(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (!p.empty() && name.starts_with(p)) return true;
  return false;
}

// Every name in the database (SCAN may repeat a name: the list is made unique).
Task<Result<std::vector<std::string>>> list_names(store::RedisClient& redis, std::vector<std::string> prefixes) {
  std::vector<std::string> names;
  std::string cursor = "0";
  do {
    auto reply = co_await redis.command(make_command("SCAN", cursor, "COUNT", "1000"));
    if (!reply) co_return reply.error();
    if (reply->is_error()) co_return Error{"SCAN: " + reply->str};
    if (!reply->is_array() || reply->elements.size() != 2) co_return Error{"SCAN: unexpected reply"};
    cursor = reply->elements[0].str;
    for (auto& e : reply->elements[1].elements)
      if (!excluded(e.str, prefixes)) names.push_back(std::move(e.str));
  } while (cursor != "0");
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  co_return names;
}

std::vector<RedisCommand> dump_commands(const std::vector<std::string>& names, size_t from, size_t to) {
  std::vector<RedisCommand> out;
  out.reserve(2 * (to - from));
  for (size_t i = from; i < to; ++i) {
    out.push_back(make_command("DUMP", names[i]));
    out.push_back(make_command("PEXPIRETIME", names[i]));
  }
  return out;
}

Task<Status> read_values(store::RedisClient& redis, const std::vector<std::string>& names, size_t batch,
                         std::vector<BackupRecord>& out) {
  for (size_t from = 0; from < names.size(); from += batch) {
    size_t to = std::min(names.size(), from + batch);
    auto replies = co_await redis.pipeline(dump_commands(names, from, to));
    if (!replies) co_return replies.error();
    for (size_t i = from; i < to; ++i) {
      const auto& dump = (*replies)[2 * (i - from)];
      const auto& expiry = (*replies)[2 * (i - from) + 1];
      if (dump.is_error()) co_return Error{fmt::format("DUMP {}: {}", names[i], dump.str)};
      if (expiry.is_error()) co_return Error{fmt::format("PEXPIRETIME (Redis 7 or newer is needed): {}", expiry.str)};
      int64_t at = expiry.as_int().value_or(-1);
      if (dump.is_nil() || at == -2) continue;  // gone since the SCAN (only without the pause)
      out.push_back(BackupRecord{names[i], at > 0 ? at : -1, dump.str});
    }
  }
  co_return Ok{};
}

Task<Status> unpause(store::RedisClient& redis) {
  auto reply = co_await redis.command(make_command("CLIENT", "UNPAUSE"));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{"CLIENT UNPAUSE: " + reply->str};
  co_return Ok{};
}

}  // namespace

std::string info_field(const std::string& info, std::string_view name) {
  std::string needle = std::string(name) + ":";
  auto pos = info.find(needle);
  if (pos == std::string::npos) return "";
  auto end = info.find_first_of("\r\n", pos);
  return info.substr(pos + needle.size(), end - pos - needle.size());
}

std::string key_family(std::string_view name) {
  auto first = name.find(':');
  if (first == std::string_view::npos) return std::string(name);
  std::string_view head = name.substr(0, first);
  if (head == "crs" || head == "load_balance" || head == "export") {
    auto second = name.find(':', first + 1);
    return std::string(name.substr(0, second == std::string_view::npos ? name.size() : second));
  }
  return std::string(head);
}

Task<Result<Snapshot>> take_snapshot(store::RedisClient& redis, SnapshotOptions options) {
  Snapshot snap;
  auto info = co_await redis.command(make_command("INFO", "server"));
  if (!info) co_return info.error();
  if (info->is_error()) co_return Error{"INFO: " + info->str};
  snap.redis_version = info_field(info->str, "redis_version");

  auto started = std::chrono::steady_clock::now();
  if (options.pause_writes) {
    auto paused = co_await redis.command(
        make_command("CLIENT", "PAUSE", std::to_string(options.max_pause.count()), "WRITE"));
    if (!paused) co_return paused.error();
    if (paused->is_error())
      co_return Error{"CLIENT PAUSE was refused (" + paused->str +
                      "): this Redis user may not pause writes. Give it the permission, or take the backup with "
                      "--no-pause (writes go on meanwhile; check the restored data with `crs data verify`)"};
  }
  auto names = co_await list_names(redis, options.excluded_prefixes);
  Status read = Ok{};
  if (names) read = co_await read_values(redis, *names, options.batch, snap.records);
  Status resumed = Ok{};
  if (options.pause_writes) {
    // Ends every client's pause: a second pause by someone else would end here too (documented).
    resumed = co_await unpause(redis);
    snap.pause_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                        .count();
  }
  if (!names) co_return names.error();  // the first failure is the one worth telling
  if (!read) co_return read.error();
  if (!resumed) co_return resumed.error();
  if (options.pause_writes && snap.pause_ms >= options.max_pause.count())
    co_return Error{fmt::format(
        "the copy took {} ms, longer than the write pause (--max-pause {} ms): writes resumed while it ran, so it "
        "may not be consistent. Nothing was written; run again with a larger --max-pause",
        snap.pause_ms, options.max_pause.count())};
  snap.consistent = options.pause_writes;
  co_return snap;
}

}  // namespace crs::ops
