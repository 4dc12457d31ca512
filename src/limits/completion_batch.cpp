#include "limits/completion_batch.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "limits/grant_lua.hpp"
#include "usage/batch_stream.hpp"
#include "usage/journal.hpp"
#include "usage/usage_event.hpp"

namespace crs::limits {
namespace {

constexpr uint64_t kBatchesPerBitmap = uint64_t{1} << 20;
// KEYS: 1 the bitmap of applied batches, 2 the stream of batches' events
// ARGV: 1 the batch's bit, 2 the number of keys, 3 the events' lines joined by '\n', then per
//       key (its records summed by batch_call): key id; the number of leases, the leases; the
//       number of grants, per grant holder, generation, cost micro, tokens; the number of
//       periods, per period day, week, cost micro, tokens.
// Per key, whatever the number of its records: one ZMSCORE and one ZREM for its leases (a
// reservation comes back only with a lease still held: one that expired was tidied by
// admission), and per period (day and week) one HMGET and one HSET of its counters. One XADD
// for all the events (the aggregator folds them). A grant names the holder the requests were
// admitted from (limits/grants.hpp): their cost and tokens are taken from its reserved share,
// as a lease's reservation comes back, while they are charged.
const store::Script kBatch(std::string(kShareOf) + R"LUA(
local seen = redis.call('SETBIT', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], 86400)  -- a day after the run's last batch, whatever its number
if seen == 1 then return 'applied' end
if ARGV[3] ~= '' then redis.call('XADD', KEYS[2], '*', 'b', ARGV[3]) end
local i = 4
for _ = 1, tonumber(ARGV[2]) do
  local id = ARGV[i]
  local counters, leases, granted = 'limit:' .. id, 'limit:concurrency:' .. id, 'limit:granted:' .. id
  local rc, rt = 0, 0  -- the reservations the leases and grants give back
  local n = tonumber(ARGV[i + 1])
  i = i + 2
  if n > 0 then
    local scores = redis.call('ZMSCORE', leases, unpack(ARGV, i, i + n - 1))
    local held = {}
    for j = 1, n do
      if scores[j] then
        local lease = ARGV[i + j - 1]
        held[#held + 1] = lease
        local c1, t1 = string.match(lease, '|(%d+)|(%d+)$')
        if c1 then rc, rt = rc + tonumber(c1), rt + tonumber(t1) end
      end
    end
    if #held > 0 then redis.call('ZREM', leases, unpack(held)) end
    i = i + n
  end
  n = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, n do
    local s = share_of(redis.call('HGET', granted, ARGV[i]))
    if s[6] == tonumber(ARGV[i + 1]) then  -- the life of the share the requests were admitted from
      local uc, ut = math.min(tonumber(ARGV[i + 2]), s[4]), math.min(tonumber(ARGV[i + 3]), s[5])
      if uc > 0 or ut > 0 then
        s[4], s[5] = s[4] - uc, s[5] - ut
        redis.call('HSET', granted, ARGV[i], share_text(s))
        rc, rt = rc + uc, rt + ut
      end
    end
    i = i + 4
  end
  n = tonumber(ARGV[i])
  i = i + 1
  for j = 1, n do
    local day, week, cost, tokens = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
    local c = redis.call('HMGET', counters, 'totalCost', 'totalTokens', 'day', 'dayCost', 'week', 'weekCost',
                         'winStart', 'winCost', 'resCost', 'resTokens')
    local day_cost, week_cost = cost, cost
    if c[3] == day then day_cost = day_cost + (tonumber(c[4]) or 0) end
    if c[5] == week then week_cost = week_cost + (tonumber(c[6]) or 0) end
    local f = {'totalCost', (tonumber(c[1]) or 0) + cost, 'totalTokens', (tonumber(c[2]) or 0) + tokens,
               'day', day, 'dayCost', day_cost, 'week', week, 'weekCost', week_cost}
    if c[7] then f[#f + 1], f[#f + 2] = 'winCost', (tonumber(c[8]) or 0) + cost end
    if j == 1 and (rc > 0 or rt > 0) then
      f[#f + 1], f[#f + 2] = 'resCost', (tonumber(c[9]) or 0) - rc
      f[#f + 1], f[#f + 2] = 'resTokens', (tonumber(c[10]) or 0) - rt
    end
    redis.call('HSET', counters, unpack(f))
    i = i + 4
  end
  if n == 0 and (rc > 0 or rt > 0) then
    redis.call('HINCRBY', counters, 'resCost', -rc)
    redis.call('HINCRBY', counters, 'resTokens', -rt)
  end
end
return 'ok'
)LUA");

std::string number(int64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  return std::string(digits, end);
}

void put_id(std::string& out, const BatchId& id) {
  usage::put_field(out, id.token);
  usage::put_field(out, number(static_cast<int64_t>(id.seq)));
}

bool take_int(std::string_view& text, int64_t& out) {
  std::string field;
  if (!usage::take_field(text, field)) return false;
  auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), out);
  return ec == std::errc() && p == field.data() + field.size();
}

bool take_id(std::string_view& text, BatchId& id) {
  int64_t seq = 0;
  if (!usage::take_field(text, id.token) || !take_int(text, seq) || seq < 0) return false;
  id.seq = static_cast<uint64_t>(seq);
  return true;
}

bool take_record(std::string_view& text, Completion& c) {
  return usage::take_field(text, c.key_id) && usage::take_field(text, c.lease) && take_int(text, c.cost_micro) &&
         take_int(text, c.tokens) && usage::take_field(text, c.day) && usage::take_field(text, c.week) &&
         usage::take_field(text, c.event);
}

// What a batch does to one key, its records summed: the script's work is per key, not per record.
struct KeySums {
  struct Grant {
    std::string holder, generation;
    int64_t cost = 0, tokens = 0;
  };
  struct Period {
    std::string day, week;
    int64_t cost = 0, tokens = 0;
  };
  std::string id;
  std::vector<std::string> leases;
  std::vector<std::pair<std::string, Grant>> grants;  // by the lease naming it, "G:<holder>#<generation>"
  std::vector<Period> periods;
};

// "G:<holder>#<generation>": the grant a request was admitted from (limits/grants.hpp). A lease
// starting with "G:" in another shape names nothing, as in earlier versions' script.
std::optional<KeySums::Grant> parse_grant(std::string_view lease) {
  size_t hash = lease.rfind('#');
  if (hash == std::string_view::npos || hash < 2) return std::nullopt;
  std::string_view generation = lease.substr(hash + 1);
  if (generation.empty() || generation.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return KeySums::Grant{std::string(lease.substr(2, hash - 2)), std::string(generation)};
}

void add_period(KeySums& k, const Completion& r) {
  if (r.cost_micro <= 0 && r.tokens <= 0) return;
  auto at = std::find_if(k.periods.begin(), k.periods.end(),
                         [&](const auto& p) { return p.day == r.day && p.week == r.week; });
  if (at == k.periods.end()) at = k.periods.insert(k.periods.end(), {r.day, r.week});
  at->cost += r.cost_micro;
  at->tokens += r.tokens;
}

void add_record(KeySums& k, const Completion& r) {
  if (r.lease.starts_with("G:")) {
    auto at = std::find_if(k.grants.begin(), k.grants.end(), [&](const auto& g) { return g.first == r.lease; });
    if (at == k.grants.end()) {
      auto grant = parse_grant(r.lease);
      if (!grant) return add_period(k, r);
      at = k.grants.insert(k.grants.end(), {r.lease, std::move(*grant)});
    }
    at->second.cost += r.cost_micro;
    at->second.tokens += r.tokens;
  } else if (!r.lease.empty()) {
    k.leases.push_back(r.lease);
  }
  add_period(k, r);
}

// The records' keys in the order they first appear.
std::vector<KeySums> per_key(const std::vector<Completion>& records) {
  std::vector<KeySums> keys;
  std::unordered_map<std::string_view, size_t> index;  // key id -> position in `keys`
  for (const auto& r : records) {
    auto [at, fresh] = index.try_emplace(r.key_id, keys.size());
    if (fresh) {
      keys.emplace_back();
      keys.back().id = r.key_id;
    }
    add_record(keys[at->second], r);
  }
  return keys;
}

void put_key(std::vector<std::string>& args, KeySums& k) {
  args.push_back(std::move(k.id));
  args.push_back(number(static_cast<int64_t>(k.leases.size())));
  for (auto& lease : k.leases) args.push_back(std::move(lease));
  args.push_back(number(static_cast<int64_t>(k.grants.size())));
  for (auto& [lease, g] : k.grants) {
    args.push_back(std::move(g.holder));
    args.push_back(std::move(g.generation));
    args.push_back(number(g.cost));
    args.push_back(number(g.tokens));
  }
  args.push_back(number(static_cast<int64_t>(k.periods.size())));
  for (auto& p : k.periods) {
    args.push_back(std::move(p.day));
    args.push_back(std::move(p.week));
    args.push_back(number(p.cost));
    args.push_back(number(p.tokens));
  }
}

}  // namespace

ScriptCall batch_call(const BatchId& id, const std::vector<Completion>& records) {
  std::string events;
  for (const auto& r : records) {
    if (r.event.empty()) continue;
    if (!events.empty()) events += '\n';
    events += r.event;
  }
  std::vector<std::string> args;
  args.push_back(number(static_cast<int64_t>(id.seq % kBatchesPerBitmap)));
  auto keys = per_key(records);
  args.push_back(number(static_cast<int64_t>(keys.size())));
  args.push_back(std::move(events));
  for (auto& k : keys) put_key(args, k);
  static_assert(usage::kBatchField[0] == 'b' && usage::kBatchField[1] == '\0', "the batch script's XADD field");
  std::vector<std::string> script_keys{fmt::format("usage:applied:{}:{}", id.token, id.seq / kBatchesPerBitmap),
                                       std::string(usage::kUsageBatchStream)};
  return {&kBatch, kBatch.call(std::move(script_keys), std::move(args))};
}

void journal_record(std::string& out, const BatchId& id, const Completion& c) {
  out += 'R';
  put_id(out, id);
  usage::put_field(out, c.key_id);
  usage::put_field(out, c.lease);
  usage::put_field(out, number(c.cost_micro));
  usage::put_field(out, number(c.tokens));
  usage::put_field(out, c.day);
  usage::put_field(out, c.week);
  usage::put_field(out, c.event);
  out += '\n';
}

void journal_ack(std::string& out, const BatchId& id) {
  out += 'A';
  put_id(out, id);
  out += '\n';
}

std::vector<JournaledBatch> unacknowledged(const std::vector<std::string_view>& texts) {
  std::vector<JournaledBatch> batches;
  std::map<std::pair<std::string, uint64_t>, size_t> index;  // batch -> position in `batches`
  std::vector<bool> acked;
  for (std::string_view text : texts) {
    while (!text.empty()) {
      char kind = text.front();
      std::string_view t = text.substr(1);
      BatchId id;
      Completion c;
      if ((kind != 'R' && kind != 'A') || !take_id(t, id)) break;
      if (kind == 'R' && !take_record(t, c)) break;
      if (t.empty() || t.front() != '\n') break;
      text = t.substr(1);
      auto [at, fresh] = index.try_emplace({id.token, id.seq}, batches.size());
      if (fresh) {
        batches.push_back(JournaledBatch{id, {}});
        acked.push_back(false);
      }
      if (kind == 'A') acked[at->second] = true;
      else batches[at->second].records.push_back(std::move(c));
    }
  }
  std::vector<JournaledBatch> out;
  for (size_t i = 0; i < batches.size(); ++i)
    if (!acked[i] && !batches[i].records.empty()) out.push_back(std::move(batches[i]));
  return out;
}

}  // namespace crs::limits
