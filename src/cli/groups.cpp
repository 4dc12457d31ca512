// `crs groups ...`: account groups. A key bound to a group (`crs keys create --group ID`) uses
// only its accounts; `crs load-balance set-strategy NAME --group ID` gives it its own strategy.
#include <iostream>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "accounts/account_fields.hpp"
#include "accounts/account_store.hpp"
#include "cli/commands.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

void print_groups(const std::vector<accounts::AccountGroup>& groups) {
  std::cout << fmt::format("{:<36}  {:<20}  {}\n", "ID", "NAME", "ACCOUNTS");
  for (const auto& g : groups) {
    std::string members;
    for (const auto& m : g.members) members += (members.empty() ? "" : ", ") + m;
    std::cout << fmt::format("{:<36}  {:<20}  {}\n", g.id, g.name, members.empty() ? "-" : members);
  }
}

// Plain functions: GCC 12 miscompiles initializer lists in coroutines.
void print_membership(const GlobalOptions& options, const std::string& group, const std::string& account,
                      bool member) {
  if (options.json)
    std::cout << json::serialize(json::object{{"group", group}, {"account", account}, {"member", member}}) << "\n";
  else
    std::cout << "Account " << account << " " << (member ? "added to" : "removed from") << " group " << group << ".\n";
}

void print_deleted(const GlobalOptions& options, const std::string& group) {
  if (options.json) std::cout << json::serialize(json::object{{"id", group}, {"result", "deleted"}}) << "\n";
  else std::cout << "Account group " << group << " deleted; keys bound to it get a 503 until rebound.\n";
}

Task<int> create(GlobalOptions options, std::string name, store::RedisClient& redis, const config::Config& cfg) {
  if (name.empty() || name.size() > 100) co_return fail(options, "--name: must be 1 to 100 characters");
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto g = co_await store.create_group(name);
  if (!g) co_return fail(options, g.error().message);
  if (options.json) std::cout << json::serialize(accounts::group_json(*g)) << "\n";
  else std::cout << "Created account group " << g->id << " (" << g->name << ").\n";
  co_return 0;
}

Task<int> list(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  auto groups = co_await store.list_groups();
  if (!groups) co_return fail(options, groups.error().message);
  if (options.json) {
    json::array out;
    for (const auto& g : *groups) out.push_back(accounts::group_json(g));
    std::cout << json::serialize(out) << "\n";
    co_return 0;
  }
  print_groups(*groups);
  co_return 0;
}

Task<int> membership(GlobalOptions options, std::string group, std::string account, bool member,
                     store::RedisClient& redis, const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  if (auto s = co_await store.set_membership(group, account, member); !s) co_return fail(options, s.error().message);
  print_membership(options, group, account, member);
  co_return 0;
}

Task<int> remove(GlobalOptions options, std::string group, store::RedisClient& redis, const config::Config& cfg) {
  accounts::AccountStore store(redis, cfg.security.encryptionKey);
  if (auto s = co_await store.delete_group(group); !s) co_return fail(options, s.error().message);
  print_deleted(options, group);
  co_return 0;
}

}  // namespace

void add_groups_commands(CLI::App& app, Context& ctx) {
  auto* groups = app.add_subcommand("groups", "Account groups (keys bound to a group use only its accounts)");
  groups->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto* create_cmd = groups->add_subcommand("create", "Create an account group");
  create_cmd->add_option("--name", *name, "Name shown in listings")->required();
  create_cmd->callback([&ctx, name] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return create(ctx.global, *name, r, c);
    });
  });
  groups->add_subcommand("list", "List account groups and their accounts")->callback([&ctx] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return list(ctx.global, r, c);
    });
  });
  for (bool member : {true, false}) {
    auto group = std::make_shared<std::string>();
    auto account = std::make_shared<std::string>();
    auto* cmd = groups->add_subcommand(member ? "add" : "remove",
                                       member ? "Add an account to a group" : "Remove an account from a group");
    cmd->add_option("group", *group, "Group id")->required();
    cmd->add_option("account", *account, "Account id")->required();
    cmd->callback([&ctx, group, account, member] {
      ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
        return membership(ctx.global, *group, *account, member, r, c);
      });
    });
  }
  auto gone = std::make_shared<std::string>();
  auto* delete_cmd = groups->add_subcommand("delete", "Delete an account group (its accounts stay)");
  delete_cmd->add_option("group", *gone, "Group id")->required();
  delete_cmd->callback([&ctx, gone] {
    ctx.exit_code = with_redis(ctx.global, true, [&](store::RedisClient& r, const config::Config& c) {
      return remove(ctx.global, *gone, r, c);
    });
  });
}

}  // namespace crs::cli
