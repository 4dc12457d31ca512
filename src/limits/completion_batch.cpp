#include "limits/completion_batch.hpp"

#include <charconv>
#include <map>

#include <fmt/format.h>

#include "limits/grant_lua.hpp"
#include "usage/journal.hpp"
#include "usage/usage_event.hpp"

namespace crs::limits {
namespace {

constexpr uint64_t kBatchesPerBitmap = uint64_t{1} << 20;
constexpr size_t kArgsPerRecord = 7;

// KEYS: 1 the bitmap of applied batches, 2 the usage stream
// ARGV: 1 the batch's bit, 2 the number of records, then
//       per record: key id, lease ("" = none), cost micro, tokens, day, week, event line
// Per key, whatever the number of its records: one ZMSCORE and one ZREM for its leases (a
// reservation comes back only with a lease still held: one that expired was tidied by
// admission), and per period (day and week) one HMGET and one HSET of its counters. Then one
// XADD per event (the aggregator folds them). A lease "G:<holder>" names the grant the request
// was admitted from (limits/grants.hpp): its cost and tokens are taken from the holder's
// reserved share, as a lease's reservation comes back, while they are charged.
const store::Script kBatch(std::string(kShareOf) + R"LUA(
local seen = redis.call('SETBIT', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], 86400)  -- a day after the run's last batch, whatever its number
if seen == 1 then return 'applied' end
local per_key, order = {}, {}
local i = 3
for r = 1, tonumber(ARGV[2]) do
  local id = ARGV[i]
  local k = per_key[id]
  if not k then
    k = {leases = {}, periods = {}, period_order = {}, grants = {}, holders = {}}
    per_key[id] = k
    order[#order + 1] = id
  end
  local lease = ARGV[i + 1]
  local cost, tokens = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  if string.sub(lease, 1, 2) == 'G:' then
    local h, gen = string.match(lease, '^G:(.*)#(%d+)$')
    local g = h and k.grants[lease]
    if h and not g then
      g = {0, 0, h, tonumber(gen)}
      k.grants[lease] = g
      k.holders[#k.holders + 1] = lease
    end
    if g then g[1], g[2] = g[1] + cost, g[2] + tokens end
  elseif lease ~= '' then
    k.leases[#k.leases + 1] = lease
  end
  if cost > 0 or tokens > 0 then
    local name = ARGV[i + 4] .. '|' .. ARGV[i + 5]
    local p = k.periods[name]
    if not p then
      p = {day = ARGV[i + 4], week = ARGV[i + 5], cost = 0, tokens = 0}
      k.periods[name] = p
      k.period_order[#k.period_order + 1] = name
    end
    p.cost, p.tokens = p.cost + cost, p.tokens + tokens
  end
  redis.call('XADD', KEYS[2], '*', 'u', ARGV[i + 6])
  i = i + 7
end
for _, id in ipairs(order) do
  local k, counters = per_key[id], 'limit:' .. id
  local rc, rt = 0, 0  -- the reservations the leases give back
  if #k.leases > 0 then
    local leases = 'limit:concurrency:' .. id
    local scores = redis.call('ZMSCORE', leases, unpack(k.leases))
    local held = {}
    for j = 1, #k.leases do
      if scores[j] then
        held[#held + 1] = k.leases[j]
        local c1, t1 = string.match(k.leases[j], '|(%d+)|(%d+)$')
        if c1 then rc, rt = rc + tonumber(c1), rt + tonumber(t1) end
      end
    end
    if #held > 0 then redis.call('ZREM', leases, unpack(held)) end
  end
  for _, lease in ipairs(k.holders) do
    local g, granted = k.grants[lease], 'limit:granted:' .. id
    local s = share_of(redis.call('HGET', granted, g[3]))
    if s[6] == g[4] then  -- the life of the share the requests were admitted from
      local uc, ut = math.min(g[1], s[4]), math.min(g[2], s[5])
      if uc > 0 or ut > 0 then
        s[4], s[5] = s[4] - uc, s[5] - ut
        redis.call('HSET', granted, g[3], share_text(s))
        rc, rt = rc + uc, rt + ut
      end
    end
  end
  for j, name in ipairs(k.period_order) do
    local p = k.periods[name]
    local c = redis.call('HMGET', counters, 'totalCost', 'totalTokens', 'day', 'dayCost', 'week', 'weekCost',
                         'winStart', 'winCost', 'resCost', 'resTokens')
    local day_cost, week_cost = p.cost, p.cost
    if c[3] == p.day then day_cost = day_cost + (tonumber(c[4]) or 0) end
    if c[5] == p.week then week_cost = week_cost + (tonumber(c[6]) or 0) end
    local f = {'totalCost', (tonumber(c[1]) or 0) + p.cost, 'totalTokens', (tonumber(c[2]) or 0) + p.tokens,
               'day', p.day, 'dayCost', day_cost, 'week', p.week, 'weekCost', week_cost}
    if c[7] then f[#f + 1], f[#f + 2] = 'winCost', (tonumber(c[8]) or 0) + p.cost end
    if j == 1 and (rc > 0 or rt > 0) then
      f[#f + 1], f[#f + 2] = 'resCost', (tonumber(c[9]) or 0) - rc
      f[#f + 1], f[#f + 2] = 'resTokens', (tonumber(c[10]) or 0) - rt
    end
    redis.call('HSET', counters, unpack(f))
  end
  if #k.period_order == 0 and (rc > 0 or rt > 0) then
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

}  // namespace

ScriptCall batch_call(const BatchId& id, const std::vector<Completion>& records) {
  std::vector<std::string> args;
  args.reserve(2 + records.size() * kArgsPerRecord);
  args.push_back(number(static_cast<int64_t>(id.seq % kBatchesPerBitmap)));
  args.push_back(number(static_cast<int64_t>(records.size())));
  for (const auto& r : records) {
    args.push_back(r.key_id);
    args.push_back(r.lease);
    args.push_back(number(r.cost_micro));
    args.push_back(number(r.tokens));
    args.push_back(r.day);
    args.push_back(r.week);
    args.push_back(r.event);
  }
  static_assert(usage::kUsageField[0] == 'u' && usage::kUsageField[1] == '\0', "the batch script's XADD field");
  std::vector<std::string> keys{fmt::format("usage:applied:{}:{}", id.token, id.seq / kBatchesPerBitmap),
                                std::string(usage::kUsageStream)};
  return {&kBatch, kBatch.call(std::move(keys), std::move(args))};
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
