#include "export/key_cursor.hpp"

#include "store/keyspace.hpp"
#include "store/redis_script.hpp"

namespace crs::key_export {
namespace ks = store::keyspace;

namespace {

// KEYS[1] the creation index. ARGV: last score ("" = from the start), last member, highest
// score, batch size. Returns [member, score, ...] in index order.
const store::Script& next_batch_script() {
  static const store::Script s(R"LUA(
local start = 0
if ARGV[1] ~= '' then
  local rank = redis.call('ZRANK', KEYS[1], ARGV[2])
  if rank then
    start = rank + 1
  else
    start = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[1])
    for _, m in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[1], 'BYSCORE')) do
      if m < ARGV[2] then start = start + 1 end
    end
  end
end
local got = redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[4]) - 1, 'WITHSCORES')
local out = {}
local max = tonumber(ARGV[3])
for i = 1, #got, 2 do
  if tonumber(got[i + 1]) > max then break end
  out[#out + 1] = got[i]
  out[#out + 1] = got[i + 1]
end
return out
)LUA");
  return s;
}

Status reply_status(const store::RedisReply& r) {
  if (r.is_error()) return Error{"redis: " + r.str};
  return Ok{};
}

std::vector<std::string> batch_keys() { return std::vector<std::string>{std::string(ks::kApiKeysByCreation)}; }

std::vector<std::string> batch_args(const Cursor& c, const Bounds& b, size_t batch) {
  return std::vector<std::string>{c.score, c.member, b.max_score, std::to_string(batch)};
}

}  // namespace

Task<Result<Bounds>> index_bounds(store::RedisClient& redis) {
  auto last = co_await redis.command(
      store::make_command("ZREVRANGE", std::string(ks::kApiKeysByCreation), "0", "0", "WITHSCORES"));
  if (!last) co_return last.error();
  if (auto s = reply_status(*last); !s) co_return s.error();
  Bounds b;
  if (last->elements.size() < 2) co_return b;
  b.max_score = last->elements[1].str;
  auto count = co_await redis.command(
      store::make_command("ZCOUNT", std::string(ks::kApiKeysByCreation), "-inf", b.max_score));
  if (!count) co_return count.error();
  if (auto s = reply_status(*count); !s) co_return s.error();
  b.total = count->integer;
  co_return b;
}

Task<Result<std::vector<std::string>>> next_ids(store::RedisClient& redis, Cursor& cursor, const Bounds& bounds,
                                                size_t batch) {
  auto call = next_batch_script().call(batch_keys(), batch_args(cursor, bounds, batch));
  auto reply = co_await store::run_script(redis, next_batch_script(), std::move(call));
  if (!reply) co_return reply.error();
  if (auto s = reply_status(*reply); !s) co_return s.error();
  std::vector<std::string> ids;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) ids.push_back(reply->elements[i].str);
  if (reply->elements.size() >= 2) {
    cursor.member = reply->elements[reply->elements.size() - 2].str;
    cursor.score = reply->elements.back().str;
  }
  co_return ids;
}

}  // namespace crs::key_export
