#include "usage/aggregator.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <map>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/time.hpp"
#include "store/keyspace.hpp"
#include "store/redis_client.hpp"
#include "usage/batch_stream.hpp"

namespace crs::usage {
namespace json = boost::json;
using store::make_command;

namespace {

// The group reads two streams (usage/batch_stream.hpp): usage:batches, an entry per completion
// batch, and usage:events, an entry per event (single completions, earlier versions).
constexpr const char* kGroup = "usage-folders";
constexpr int64_t kDay = 86400;

std::tm shifted(int64_t ms, int tz) {
  std::time_t t = static_cast<std::time_t>(ms / 1000 + tz * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

// ARGV layout of the fold script: the entry ids, then HINCRBY triplets, then EXPIRE pairs,
// then "set if the hash exists" triplets, then list pushes; each section starts with its count.
const char* kFoldScript = R"LUA(
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local i = 3
local n = tonumber(ARGV[i]); i = i + 1
local ids = {}
for k = 1, n do ids[k] = ARGV[i]; i = i + 1 end
-- Every event of the batch must still be pending for this consumer (not claimed by another).
local mine = redis.call('XPENDING', stream, group, ids[1], ids[#ids], #ids + 1, consumer)
if #mine ~= #ids then return 0 end
n = tonumber(ARGV[i]); i = i + 1
for k = 1, n do redis.call('HINCRBY', ARGV[i], ARGV[i+1], ARGV[i+2]); i = i + 3 end
n = tonumber(ARGV[i]); i = i + 1
for k = 1, n do redis.call('EXPIRE', ARGV[i], ARGV[i+1]); i = i + 2 end
n = tonumber(ARGV[i]); i = i + 1
for k = 1, n do
  if redis.call('EXISTS', ARGV[i]) == 1 then redis.call('HSET', ARGV[i], ARGV[i+1], ARGV[i+2]) end
  i = i + 3
end
n = tonumber(ARGV[i]); i = i + 1
for k = 1, n do
  local list, limit, count = ARGV[i], tonumber(ARGV[i+1]), tonumber(ARGV[i+2])
  redis.call('LPUSH', list, unpack(ARGV, i + 3, i + 2 + count))
  redis.call('LTRIM', list, 0, limit - 1)
  redis.call('EXPIRE', list, 7776000)
  i = i + 3 + count
end
n = tonumber(ARGV[i]); i = i + 1
for k = 1, n do
  redis.call('SADD', ARGV[i], ARGV[i+1])
  if ARGV[i+2] ~= '0' then redis.call('EXPIRE', ARGV[i], ARGV[i+2]) end
  i = i + 3
end
redis.call('XACK', stream, group, unpack(ids))
-- Drop what every consumer is done with. When nothing is pending, trim up to the last entry
-- delivered (far cheaper than XDEL of each id). When another consumer still holds entries,
-- trimming must stop below them, so ours are deleted one by one.
local pending = redis.call('XPENDING', stream, group)
local keep_from = pending[2]
if keep_from then
  redis.call('XDEL', stream, unpack(ids))
else
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local info = {}
    for k = 1, #g, 2 do info[g[k]] = g[k + 1] end
    if info['name'] == group then
      local ms, seq = string.match(info['last-delivered-id'], '^(%d+)-(%d+)$')
      keep_from = ms .. '-' .. (tonumber(seq) + 1)
    end
  end
end
if keep_from then redis.call('XTRIM', stream, 'MINID', keep_from) end
return 1
)LUA";

// Events written before the one-line format (one stream field per member), still in the
// stream when an instance is upgraded.
std::optional<UsageEvent> from_field_pairs(const std::vector<store::RedisReply>& kv) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < kv.size(); i += 2) m[kv[i].str] = kv[i + 1].str;
  auto num = [&](const char* name, int64_t& out) {
    const std::string& v = m[name];
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return ec == std::errc() && end == v.data() + v.size();
  };
  UsageEvent e;
  int64_t status = 0;
  if (!num("ts", e.timestamp_ms) || !m.count("key")) return std::nullopt;
  e.key_id = m["key"];
  e.account_id = m["account"];
  e.model = m["model"];
  num("in", e.usage.input_tokens);
  num("out", e.usage.output_tokens);
  num("cc", e.usage.cache_creation_input_tokens);
  num("cr", e.usage.cache_read_input_tokens);
  num("cc5m", e.usage.cache_creation_5m);
  num("cc1h", e.usage.cache_creation_1h);
  num("cost", e.cost_micro);
  num("status", status);
  e.status = static_cast<int>(status);
  e.stream = m["stream"] == "1";
  e.partial = m["partial"] == "1";
  num("ms", e.duration_ms);
  e.request_id = m["rid"];
  e.endpoint = m["ep"];
  return e;
}

struct Plan {
  std::map<std::pair<std::string, std::string>, int64_t> increments;
  std::map<std::string, int64_t> expires;
  std::map<std::pair<std::string, std::string>, std::string> sets;
  std::map<std::string, std::vector<std::string>> pushes;  // list -> records, oldest first
  std::map<std::pair<std::string, std::string>, int64_t> set_members;  // (set, member) -> ttl
};

// The sums of a group of events that land in the same hashes.
struct Counters {
  int64_t requests = 0, input = 0, output = 0, cache_create = 0, cache_read = 0, all = 0, tokens = 0, e5m = 0,
          e1h = 0, cost = 0, web_searches = 0;
  void add(const UsageEvent& e) {
    const auto& u = e.usage;
    ++requests;
    input += u.input_tokens;
    output += u.output_tokens;
    cache_create += u.cache_creation_input_tokens;
    cache_read += u.cache_read_input_tokens;
    all += u.total();
    tokens += u.input_tokens + u.output_tokens;
    e5m += u.cache_creation_5m;
    e1h += u.cache_creation_1h;
    cost += e.cost_micro;
    web_searches += u.web_search_requests;
  }
};

// The counters in kCounterFields' order.
std::array<int64_t, std::size(kCounterFields)> counter_values(const Counters& c) {
  return {c.requests, c.input, c.output, c.cache_create, c.cache_read, c.all,
          c.tokens,   c.e5m,   c.e1h,    c.cost,         c.web_searches};
}

void add_counts(Plan& p, const std::string& key, const Counters& c, bool totals_style, int64_t ttl) {
  auto values = counter_values(c);  // zeros are left out when the plan is sent
  for (size_t i = 0; i < values.size(); ++i)
    p.increments[{key, totals_style ? kCounterFields[i].total : kCounterFields[i].bucket}] += values[i];
  if (ttl > 0) p.expires[key] = ttl;
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t plain = 0;  // start of the run of characters that need no escape
  for (size_t i = 0; i < text.size(); ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    if (u >= 0x20) {
      out += '\\';
      out += static_cast<char>(u);
    } else {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out += '"';
}

// One entry of usage:records:<key>, written by hand (this runs for most events).
std::string record_json(const UsageEvent& e) {
  const auto& u = e.usage;
  std::string out;
  out.reserve(512);
  auto text = [&](const char* name, std::string_view value) {
    out += name;
    append_json_string(out, value);
  };
  auto number = [&](const char* name, int64_t value) {
    char digits[24];
    out += name;
    out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  };
  text("{\"timestamp\":", iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(e.timestamp_ms))));
  text(",\"model\":", e.model);
  text(",\"accountId\":", e.account_id);
  text(",\"requestId\":", e.request_id);
  text(",\"endpoint\":", e.endpoint);
  number(",\"statusCode\":", e.status);
  out += e.stream ? ",\"stream\":true" : ",\"stream\":false";
  out += e.partial ? ",\"partial\":true" : ",\"partial\":false";
  number(",\"durationMs\":", e.duration_ms);
  number(",\"inputTokens\":", u.input_tokens);
  number(",\"outputTokens\":", u.output_tokens);
  number(",\"cacheCreateTokens\":", u.cache_creation_input_tokens);
  number(",\"cacheReadTokens\":", u.cache_read_input_tokens);
  number(",\"ephemeral5mTokens\":", u.cache_creation_5m);
  number(",\"ephemeral1hTokens\":", u.cache_creation_1h);
  number(",\"totalTokens\":", u.total());
  if (u.web_search_requests) number(",\"webSearchRequests\":", u.web_search_requests);
  if (u.web_fetch_requests) number(",\"webFetchRequests\":", u.web_fetch_requests);
  if (e.estimated) out += ",\"estimated\":true";
  if (e.priced_by_fallback) out += ",\"pricedByFallback\":true";
  if (e.long_context) out += ",\"longContext\":true";
  number(",\"costMicro\":", e.cost_micro);
  // USD as a decimal with six places, exactly costMicro / 10^6 (no binary floating point).
  int64_t micro = e.cost_micro < 0 ? -e.cost_micro : e.cost_micro;
  number(e.cost_micro < 0 ? ",\"cost\":-" : ",\"cost\":", micro / 1000000);
  std::string fraction = std::to_string(1000000 + micro % 1000000);  // "1xxxxxx": zero-padded
  fraction[0] = '.';
  out += fraction;
  out += '}';
  return out;
}

using Events = std::vector<std::pair<std::string, UsageEvent>>;
using Group = std::tuple<std::string, std::string, std::string, int64_t>;  // key, account, model, hour start

// The events summed per (key, account, model, hour): a busy batch has few distinct groups, and
// the hashes are derived from the group, not from each event.
struct Grouped {
  std::map<Group, Counters> groups;
  std::map<std::string, int64_t> last_used_key, last_used_account;
};

// Groups the events, and plans each key's newest records_per_key records (the others would be
// trimmed at once).
Grouped group_events(const Events& events, const AggregatorOptions& o, Plan& p) {
  Grouped g;
  std::map<std::string, size_t> records_left;
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    const UsageEvent& e = it->second;
    int64_t hour_start = (e.timestamp_ms / 3600000) * 3600000;
    g.groups[Group{e.key_id, e.account_id, e.model, hour_start}].add(e);
    if (!e.key_id.empty()) {
      auto left = records_left.try_emplace(e.key_id, o.records_per_key).first;
      if (left->second > 0) {
        --left->second;
        p.pushes["usage:records:" + e.key_id].push_back(record_json(e));  // newest first; reversed below
      }
      g.last_used_key[e.key_id] = std::max(g.last_used_key[e.key_id], e.timestamp_ms);
    }
    if (!e.account_id.empty())
      g.last_used_account[e.account_id] = std::max(g.last_used_account[e.account_id], e.timestamp_ms);
  }
  for (auto& [list, records] : p.pushes) std::reverse(records.begin(), records.end());  // LPUSH wants oldest first
  return g;
}

// Every counter one group adds to: the key's, the account's, the model's and the global ones.
void plan_group(Plan& p, const Group& group, const Counters& c, const AggregatorOptions& o) {
  const auto& [k, a, m, hour_start] = group;
  int tz = o.timezone_offset_hours;
  std::string day = day_bucket(hour_start, tz), month = month_bucket(hour_start, tz),
              hour = hour_bucket(hour_start, tz);
  int64_t hourly_ttl = o.hourly_retention_days * kDay;
  if (!k.empty()) {
    add_counts(p, "usage:" + k, c, true, 0);
    add_counts(p, "usage:daily:" + k + ":" + day, c, false, 32 * kDay);
    add_counts(p, "usage:monthly:" + k + ":" + month, c, false, 365 * kDay);
    add_counts(p, "usage:hourly:" + k + ":" + hour, c, false, hourly_ttl);
    add_counts(p, "usage:" + k + ":model:daily:" + m + ":" + day, c, false, 32 * kDay);
    add_counts(p, "usage:" + k + ":model:monthly:" + m + ":" + month, c, false, 365 * kDay);
    add_counts(p, "usage:" + k + ":model:alltime:" + m, c, false, 0);
    p.set_members[{"usage:daily:index:" + day, k}] = 32 * kDay;
    p.set_members[{"usage:" + k + ":models", m}] = 0;  // no expiry: lists a key's models for reports
  }
  if (!a.empty()) {
    add_counts(p, "account_usage:" + a, c, true, 0);
    add_counts(p, "account_usage:daily:" + a + ":" + day, c, false, 32 * kDay);
    add_counts(p, "account_usage:monthly:" + a + ":" + month, c, false, 365 * kDay);
    add_counts(p, "account_usage:hourly:" + a + ":" + hour, c, false, hourly_ttl);
  }
  add_counts(p, "usage:model:daily:" + m + ":" + day, c, false, 32 * kDay);
  add_counts(p, "usage:model:monthly:" + m + ":" + month, c, false, 365 * kDay);
  add_counts(p, "usage:model:hourly:" + m + ":" + hour, c, false, hourly_ttl);
  add_counts(p, "usage:model:alltime:" + m, c, false, 0);
  p.set_members[{"usage:model:index", m}] = 0;
  add_counts(p, "usage:global:total", c, true, 0);
  add_counts(p, "usage:global:daily:" + day, c, false, 32 * kDay);
  add_counts(p, "usage:global:monthly:" + month, c, false, 365 * kDay);
  add_counts(p, "usage:global:hourly:" + hour, c, false, hourly_ttl);
}

// The plan as the fold script reads its arguments: the event ids, then each section counted.
std::vector<std::string> script_arguments(const Events& events, const Plan& p, const AggregatorOptions& o) {
  std::vector<std::string> args;
  // An entry of a batch holds several events: its id goes once (the fold script checks and
  // acknowledges entries). Events come in the stream's order, so an entry's are together.
  std::vector<std::string_view> ids;
  for (const auto& [id, e] : events)
    if (ids.empty() || ids.back() != id) ids.push_back(id);
  args.push_back(std::to_string(ids.size()));
  for (auto id : ids) args.emplace_back(id);
  size_t nonzero = 0;
  for (const auto& [kf, v] : p.increments) nonzero += v != 0 ? 1 : 0;
  args.push_back(std::to_string(nonzero));
  for (const auto& [kf, v] : p.increments) {
    if (v == 0) continue;  // HINCRBY by 0 would only create empty fields
    args.push_back(kf.first);
    args.push_back(kf.second);
    args.push_back(std::to_string(v));
  }
  args.push_back(std::to_string(p.expires.size()));
  for (const auto& [k, ttl] : p.expires) {
    args.push_back(k);
    args.push_back(std::to_string(ttl));
  }
  args.push_back(std::to_string(p.sets.size()));
  for (const auto& [kf, v] : p.sets) {
    args.push_back(kf.first);
    args.push_back(kf.second);
    args.push_back(v);
  }
  args.push_back(std::to_string(p.pushes.size()));
  for (const auto& [list, items] : p.pushes) {
    args.push_back(list);
    args.push_back(std::to_string(o.records_per_key));
    args.push_back(std::to_string(items.size()));
    args.insert(args.end(), items.begin(), items.end());
  }
  args.push_back(std::to_string(p.set_members.size()));
  for (const auto& [sm, ttl] : p.set_members) {
    args.push_back(sm.first);
    args.push_back(sm.second);
    args.push_back(std::to_string(ttl));
  }
  return args;
}

}  // namespace

std::string day_bucket(int64_t ms, int tz) {
  auto tm = shifted(ms, tz);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}
std::string month_bucket(int64_t ms, int tz) {
  auto tm = shifted(ms, tz);
  return fmt::format("{:04}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1);
}
std::string hour_bucket(int64_t ms, int tz) {
  auto tm = shifted(ms, tz);
  return fmt::format("{:04}-{:02}-{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
}

std::vector<std::string> fold_arguments(const Events& events, const AggregatorOptions& o) {
  Plan p;
  Grouped g = group_events(events, o, p);
  for (const auto& [group, c] : g.groups) plan_group(p, group, c, o);
  auto iso = [](int64_t ms) {
    return iso8601_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
  };
  for (const auto& [k, ms] : g.last_used_key) p.sets[{store::keyspace::api_key(k), "lastUsedAt"}] = iso(ms);
  for (const auto& [a, ms] : g.last_used_account) p.sets[{store::keyspace::account(a), "lastUsedAt"}] = iso(ms);
  // Cached reports computed before this batch become unreachable (query/query_cache.hpp).
  p.increments[{std::string(store::keyspace::kDataGeneration), "usage"}] += 1;
  return script_arguments(events, p, o);
}

struct UsageAggregator::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor ex, store::RedisOptions r, AggregatorOptions o)
      : executor(ex), options(std::move(o)), redis(ex, std::move(r)), wake(ex) {}

  asio::any_io_executor executor;
  AggregatorOptions options;
  store::RedisClient redis;
  asio::steady_timer wake;
  bool stopped = false;
  std::chrono::steady_clock::time_point last_claim{};

  using Batch = std::vector<std::pair<std::string, UsageEvent>>;
  // The events read from one of the two streams: a fold acknowledges them in theirs.
  struct StreamBatch {
    const char* stream;
    Batch events;
    std::vector<std::string> junk;  // ids of entries that are not events, acknowledged unfolded
    size_t entries = 0;              // as read: COUNT of them means more may be waiting
  };
  static constexpr std::array<const char*, 2> kStreams{kUsageStream, kUsageBatchStream};

  // Entries that are not events (written by something else, or by a newer format) are
  // logged and put in `junk`, to be acknowledged without folding.
  static Batch parse_entries(const store::RedisReply& entries, std::vector<std::string>& junk) {
    Batch out;
    out.reserve(entries.elements.size());
    for (const auto& entry : entries.elements) {
      if (!entry.is_array() || entry.elements.size() < 2) continue;
      const auto& id = entry.elements[0].str;
      const auto& fields = entry.elements[1].elements;
      if (fields.size() == 2 && fields[0].str == kBatchField) {
        if (!add_batch_entry(id, fields[1].str, out)) junk.push_back(id);
        continue;
      }
      std::optional<UsageEvent> event;
      if (fields.size() == 2 && fields[0].str == kUsageField) event = UsageEvent::from_wire(fields[1].str);
      else event = from_field_pairs(fields);
      if (event) {
        out.emplace_back(id, std::move(*event));
      } else {
        spdlog::error("usage aggregation: stream entry {} is not a usage event; dropped", id);
        junk.push_back(id);
      }
    }
    return out;
  }

  // A batch's entry: its events' lines. A line that is not an event is logged and skipped; an
  // entry with none is junk.
  static bool add_batch_entry(const std::string& id, std::string_view lines, Batch& out) {
    size_t before = out.size();
    while (!lines.empty()) {
      size_t end = lines.find('\n');
      std::string_view line = lines.substr(0, end);
      lines = end == std::string_view::npos ? std::string_view{} : lines.substr(end + 1);
      if (auto event = UsageEvent::from_wire(line)) out.emplace_back(id, std::move(*event));
      else spdlog::error("usage aggregation: a line of stream entry {} is not a usage event; dropped", id);
    }
    if (out.size() == before) spdlog::error("usage aggregation: stream entry {} holds no usage event; dropped", id);
    return out.size() > before;
  }

  // XREADGROUP reply: [[stream, [entries...]], ...] (the streams with entries) or nil.
  static std::vector<StreamBatch> parse_read(const store::RedisReply& reply) {
    std::vector<StreamBatch> out;
    if (!reply.is_array()) return out;
    for (const auto& stream : reply.elements) {
      if (!stream.is_array() || stream.elements.size() < 2) continue;
      auto known = std::find_if(kStreams.begin(), kStreams.end(),
                                [&](const char* name) { return stream.elements[0].str == name; });
      if (known == kStreams.end()) continue;
      StreamBatch b{*known, {}, {}, stream.elements[1].elements.size()};
      b.events = parse_entries(stream.elements[1], b.junk);
      out.push_back(std::move(b));
    }
    return out;
  }

  Task<void> drop(const char* stream, std::vector<std::string> ids) {
    if (ids.empty()) co_return;
    auto ack = make_command("XACK", std::string(stream), std::string(kGroup));
    ack.insert(ack.end(), ids.begin(), ids.end());
    auto del = make_command("XDEL", std::string(stream));
    del.insert(del.end(), ids.begin(), ids.end());
    // Entries left behind by a failed call are dropped again at the next pass.
    (void)co_await redis.command(std::move(ack));
    (void)co_await redis.command(std::move(del));
  }

  Task<bool> fold(const char* stream, const Batch& batch) {
    if (batch.empty()) co_return true;
    auto cmd = make_command("EVAL", std::string(kFoldScript), "1", std::string(stream), std::string(kGroup),
                            options.consumer);
    auto args = fold_arguments(batch, options);
    cmd.insert(cmd.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    auto r = co_await redis.command(std::move(cmd));
    if (!r) {
      spdlog::warn("usage aggregation: {}", r.error().message);
      co_return false;
    }
    if (r->is_error()) {
      spdlog::error("usage aggregation script failed: {}", r->str);
      co_return false;
    }
    co_return r->integer == 1;
  }

  // Folds what was read, stream by stream, at most events_per_fold events (whole entries) a
  // call; false if a fold failed (what it held stays pending, read again from "0").
  Task<bool> fold_all(const std::vector<StreamBatch>& batches) {
    bool ok = true;
    for (const auto& b : batches) {
      auto from = b.events.begin();
      while (from != b.events.end()) {
        auto to = from + static_cast<std::ptrdiff_t>(std::min(options.events_per_fold, size_t(b.events.end() - from)));
        while (to != b.events.end() && to->first == (to - 1)->first) ++to;  // the rest of that entry
        if (!co_await fold(b.stream, Batch(from, to))) ok = false;
        from = to;
      }
    }
    co_return ok;
  }

  // Both streams in one call: the events of batches (usage:batches) and of single requests or
  // earlier versions (usage:events).
  Task<Result<std::vector<StreamBatch>>> read(const char* from, bool block) {
    auto cmd = make_command("XREADGROUP", "GROUP", std::string(kGroup), options.consumer, "COUNT",
                            std::to_string(options.batch));
    if (block) {
      cmd.push_back("BLOCK");
      cmd.push_back(std::to_string(options.block.count()));
    }
    cmd.push_back("STREAMS");
    for (const char* stream : kStreams) cmd.push_back(stream);
    for (size_t i = 0; i < kStreams.size(); ++i) cmd.push_back(from);
    auto r = co_await redis.command(std::move(cmd));
    if (!r) co_return r.error();
    if (r->is_error()) {
      if (r->str.starts_with("NOGROUP")) co_await ensure_groups();
      co_return Error{r->str};
    }
    auto batches = parse_read(*r);
    for (auto& b : batches) co_await drop(b.stream, std::move(b.junk));
    std::erase_if(batches, [](const StreamBatch& b) { return b.entries == 0; });  // "0" lists every stream
    co_return batches;
  }

  Task<void> ensure_groups() {
    for (const char* stream : kStreams) {
      auto r = co_await redis.command(
          make_command("XGROUP", "CREATE", std::string(stream), std::string(kGroup), "0", "MKSTREAM"));
      if (r && r->is_error() && !r->str.starts_with("BUSYGROUP")) spdlog::warn("usage aggregation: {}", r->str);
    }
  }

  // Everything stale in the other consumers' pending lists, `batch` entries a call, the
  // cursor followed to the end (a claimed entry's idle time restarts, so none comes twice).
  Task<void> claim_abandoned() {
    for (const char* stream : kStreams) {
      std::string cursor = "0-0";
      size_t events = 0;
      do {
        auto r = co_await redis.command(make_command("XAUTOCLAIM", std::string(stream), std::string(kGroup),
                                                     options.consumer, std::to_string(options.claim_after.count()),
                                                     cursor, "COUNT", std::to_string(options.batch)));
        if (!r || !r->is_array() || r->elements.size() < 2) break;
        cursor = r->elements[0].str;
        std::vector<StreamBatch> taken{{stream, {}, {}, r->elements[1].elements.size()}};
        taken[0].events = parse_entries(r->elements[1], taken[0].junk);
        co_await drop(stream, std::move(taken[0].junk));
        events += taken[0].events.size();
        if (!taken[0].events.empty()) co_await fold_all(taken);
      } while (!stopped && !cursor.empty() && cursor != "0-0");
      if (events) spdlog::info("usage aggregation: took over {} event(s) of a stopped instance", events);
    }
  }

  Task<void> sleep(std::chrono::milliseconds d) {
    wake.expires_after(d);
    co_await wake.async_wait(use_nothrow);
  }

  Task<void> run() {
    auto self = shared_from_this();
    redis.start();
    bool group_ready = false;
    while (!stopped) {
      if (!redis.connected()) {
        group_ready = false;
        co_await sleep(std::chrono::milliseconds(200));
        continue;
      }
      if (!group_ready) {
        co_await ensure_groups();
        group_ready = true;
      }
      // Our own unacknowledged events first (left by a crash or a failed fold), then new ones.
      auto own = co_await read("0", false);
      if (own && !own->empty()) {
        if (!co_await fold_all(*own)) co_await sleep(std::chrono::milliseconds(500));
        continue;
      }
      if (std::chrono::steady_clock::now() - last_claim > options.claim_after / 2) {
        last_claim = std::chrono::steady_clock::now();
        co_await claim_abandoned();
      }
      auto fresh = co_await read(">", true);
      if (!fresh) {
        co_await sleep(std::chrono::milliseconds(200));
        continue;
      }
      if (fresh->empty()) continue;
      bool full = std::any_of(fresh->begin(), fresh->end(), [&](const StreamBatch& b) {
        return b.entries >= options.batch;
      });
      if (!co_await fold_all(*fresh)) co_await sleep(std::chrono::milliseconds(500));
      else if (!full) co_await sleep(options.gather);
    }
    redis.stop();
  }
};

UsageAggregator::UsageAggregator(asio::any_io_executor executor, store::RedisOptions redis, AggregatorOptions options) {
  // A blocked XREADGROUP must not count as a stuck server.
  redis.command_timeout = std::max(redis.command_timeout, options.block + std::chrono::seconds(5));
  impl_ = std::make_shared<Impl>(executor, std::move(redis), std::move(options));
}

UsageAggregator::~UsageAggregator() { stop(); }

void UsageAggregator::start() { asio::co_spawn(impl_->executor, impl_->run(), asio::detached); }

void UsageAggregator::stop() {
  auto impl = impl_;
  asio::dispatch(impl->executor, [impl] {
    impl->stopped = true;
    impl->wake.cancel();
    impl->redis.stop();
  });
}

}  // namespace crs::usage
