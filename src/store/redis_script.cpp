#include "store/redis_script.hpp"

#include "core/crypto.hpp"

namespace crs::store {

Script::Script(std::string_view source) : source_(source), sha_(crypto::sha1_hex(source)) {}

RedisCommand Script::call(std::vector<std::string> keys, std::vector<std::string> args) const {
  RedisCommand c;
  c.reserve(3 + keys.size() + args.size());
  c.push_back("EVALSHA");
  c.push_back(sha_);
  c.push_back(std::to_string(keys.size()));
  for (auto& k : keys) c.push_back(std::move(k));
  for (auto& a : args) c.push_back(std::move(a));
  return c;
}

RedisCommand Script::with_source(const RedisCommand& call) const {
  RedisCommand c = call;
  if (c.size() >= 2) {
    c[0] = "EVAL";
    c[1] = source_;
  }
  return c;
}

bool is_noscript(const RedisReply& reply) { return reply.is_error() && reply.str.starts_with("NOSCRIPT"); }

Task<Result<RedisReply>> run_script(RedisClient& redis, const Script& script, RedisCommand call) {
  auto r = co_await redis.command(call);
  if (r && is_noscript(*r)) r = co_await redis.command(script.with_source(call));
  co_return r;
}

}  // namespace crs::store
