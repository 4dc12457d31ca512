// `crs keys ...`: relay keys. The plaintext is printed once, at creation, and never again.
#include <iostream>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "keys/key_store.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

json::object key_json(const keys::ApiKey& k) {
  return json::object{{"id", k.id},
                      {"name", k.name},
                      {"description", k.description},
                      {"enabled", k.enabled},
                      {"createdAt", k.created_at},
                      {"lastUsedAt", k.last_used_at.empty() ? json::value(nullptr) : json::value(k.last_used_at)},
                      {"expiresAt", k.expires_at.empty() ? json::value(nullptr) : json::value(k.expires_at)}};
}

keys::KeyStore key_store(store::RedisClient& redis, const config::Config& cfg) {
  return keys::KeyStore(redis, cfg.security.encryptionKey, cfg.security.apiKeyPrefix);
}

Task<int> create(GlobalOptions options, std::string name, std::string description, store::RedisClient& redis,
                 const config::Config& cfg) {
  auto store = key_store(redis, cfg);
  auto made = co_await store.create(name, description);
  if (!made) co_return fail(options, made.error().message);
  if (options.json) {
    auto o = key_json(made->key);
    o["key"] = made->plaintext;
    std::cout << json::serialize(o) << "\n";
  } else {
    std::cout << fmt::format("Created key {} ({}).\n\n    {}\n\nStore it now: it is shown only once.\n", made->key.id,
                             made->key.name, made->plaintext);
  }
  co_return 0;
}

Task<int> list(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  auto store = key_store(redis, cfg);
  auto all = co_await store.list();
  if (!all) co_return fail(options, all.error().message);
  if (options.json) {
    json::array a;
    for (const auto& k : *all) a.push_back(key_json(k));
    std::cout << json::serialize(a) << "\n";
    co_return 0;
  }
  std::cout << fmt::format("{:<36}  {:<24}  {:<8}  {:<24}  {}\n", "ID", "NAME", "ENABLED", "CREATED", "LAST USED");
  for (const auto& k : *all)
    std::cout << fmt::format("{:<36}  {:<24}  {:<8}  {:<24}  {}\n", k.id, k.name, k.enabled ? "yes" : "no",
                             k.created_at, k.last_used_at.empty() ? "-" : k.last_used_at);
  co_return 0;
}

Task<int> change(GlobalOptions options, std::string action, std::string id, store::RedisClient& redis,
                 const config::Config& cfg) {
  auto store = key_store(redis, cfg);
  // No ?: around co_await: GCC 12 miscompiles it (a crash seen here).
  Status s = Ok{};
  if (action == "delete") s = co_await store.remove(id);
  else s = co_await store.set_enabled(id, action == "enable");
  if (!s) co_return fail(options, s.error().message);
  std::string done = action == "delete" ? "deleted" : action + "d";
  if (options.json) std::cout << json::serialize(json::object{{"id", id}, {"result", done}}) << "\n";
  else std::cout << "Key " << id << " " << done << ".\n";
  co_return 0;
}

}  // namespace

void add_keys_commands(CLI::App& app, Context& ctx) {
  auto* keys = app.add_subcommand("keys", "Relay keys (cr_...) that clients use");
  keys->require_subcommand(1);

  auto* create_cmd = keys->add_subcommand("create", "Create a key and print it once");
  auto name = std::make_shared<std::string>();
  auto description = std::make_shared<std::string>();
  create_cmd->add_option("--name", *name, "Name shown in listings")->required();
  create_cmd->add_option("--description", *description, "Free text");
  create_cmd->callback([&ctx, name, description] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return create(ctx.global, *name, *description, r, c);
    });
  });

  keys->add_subcommand("list", "List keys (never their plaintext)")->callback([&ctx] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return list(ctx.global, r, c);
    });
  });

  for (std::string action : {"enable", "disable", "delete"}) {
    auto* cmd = keys->add_subcommand(action, action == "delete" ? "Delete a key for good" : "Enable or disable a key");
    if (action == "enable") cmd->description("Enable a key");
    if (action == "disable") cmd->description("Disable a key: requests with it get 403");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Key id")->required();
    cmd->callback([&ctx, action, id] {
      ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
        return change(ctx.global, action, *id, r, c);
      });
    });
  }
}

}  // namespace crs::cli
