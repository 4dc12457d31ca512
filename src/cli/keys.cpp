// `crs keys ...`: relay keys. The plaintext is printed once, at creation or renewal, never again.
#include <iostream>
#include <map>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "keys/key_fields.hpp"
#include "keys/key_store.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

keys::KeyStore key_store(store::RedisClient& redis, const config::Config& cfg) {
  return keys::KeyStore(redis, cfg.security.encryptionKey, cfg.security.apiKeyPrefix);
}

// Every field of a key as a flag; each given flag becomes one member of the changes that
// keys::apply_changes checks (the admin API takes the same members as JSON).
struct KeyFlags {
  std::map<std::string, std::string> given;  // member name -> text as typed

  void add(CLI::App* cmd, bool creating) {
    auto flag = [&](const std::string& option, const std::string& member, const std::string& help) {
      cmd->add_option_function<std::string>(
          option, [this, member](const std::string& v) { given[member] = v; }, help);
    };
    auto* name = cmd->add_option_function<std::string>(
        "--name", [this](const std::string& v) { given["name"] = v; }, "Name shown in listings (at most 100 chars)");
    if (creating) name->required();
    flag("--description", "description", "Free text (at most 500 chars)");
    flag("--tags", "tags", "Comma-separated tags");
    flag("--concurrency", "concurrencyLimit", "Requests in flight at once (0 = unlimited)");
    flag("--rate-window", "rateLimitWindow", "Rate window in minutes (fixed window; 0 = none)");
    flag("--rate-requests", "rateLimitRequests", "Requests per rate window");
    flag("--rate-cost", "rateLimitCost", "USD per rate window");
    flag("--token-limit", "totalTokenLimit", "All tokens ever (input, output and cache; 0 = unlimited)");
    flag("--daily-cost", "dailyCostLimit", "USD per day (the day of usage.timezoneOffset)");
    flag("--weekly-cost", "weeklyCostLimit", "USD per week");
    flag("--weekly-reset-day", "weeklyResetDay", "Day the week starts: 1 = Monday ... 7 = Sunday");
    flag("--weekly-reset-hour", "weeklyResetHour", "Hour the week starts (0-23)");
    flag("--total-cost", "totalCostLimit", "USD in total");
    flag("--models", "allowedModels", "Allowed models, comma-separated; \"prefix*\" matches a prefix");
    flag("--deny-models", "restrictedModels", "Refused models, comma-separated; \"prefix*\" matches a prefix");
    std::string families;
    for (const auto& rule : keys::client_rules()) families += (families.empty() ? "" : ", ") + std::string(rule.id);
    flag("--clients", "allowedClients", "Allowed clients, comma-separated: " + families);
    flag("--permissions", "permissions", "Route families, comma-separated: claude, openai, gemini, droid (empty = all)");
    cmd->add_option_function<std::string>(
        "--expires-at",
        [this](const std::string& v) {
          given["expirationMode"] = "fixed";
          given["expiresAt"] = v;
        },
        "Expiry, ISO 8601 UTC (e.g. 2027-01-31T00:00:00Z); \"\" for never");
    cmd->add_option_function<std::string>(
        "--expires-after-first-use",
        [this](const std::string& v) {
          given["expirationMode"] = "activation";
          given["activationDays"] = v;
        },
        "Expire this many days after the first request");
    cmd->add_option_function<std::string>(
        "--account", [this](const std::string& v) { given["claudeAccountId"] = v; },
        "Dedicated account id (\"\" for the shared pool)");
    cmd->add_option_function<std::string>(
        "--group", [this](const std::string& v) { given["claudeAccountId"] = v.empty() ? "" : "group:" + v; },
        "Dedicated account group id");
  }

  json::object changes() const {
    json::object o;
    for (const auto& [member, text] : given) o[member] = text;
    return o;
  }
};

std::string limit_text(int64_t n) { return n ? std::to_string(n) : "-"; }
std::string usd_text(int64_t micro) { return micro ? "$" + keys::format_usd(micro) : "-"; }
std::string list_text(const std::vector<std::string>& items, const char* none) {
  if (items.empty()) return none;
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void print_key(const keys::ApiKey& k) {
  const auto& l = k.limits;
  std::cout << fmt::format("{} ({})\n", k.name, k.id);
  auto row = [](const char* label, const std::string& value) { std::cout << fmt::format("  {:<20} {}\n", label, value); };
  row("enabled", k.enabled ? "yes" : "no");
  if (!k.description.empty()) row("description", k.description);
  row("tags", list_text(k.tags, "-"));
  row("created", k.created_at);
  row("last used", k.last_used_at.empty() ? "never" : k.last_used_at);
  if (k.expiration_mode == "activation")
    row("expires", k.activated_at.empty() ? fmt::format("{} days after the first request", k.activation_days)
                                          : k.expires_at + " (activated " + k.activated_at + ")");
  else
    row("expires", k.expires_at.empty() ? "never" : k.expires_at);
  row("concurrency", limit_text(l.concurrency));
  if (l.rate_window_minutes)
    row("rate window", fmt::format("{} min: {} requests, {}", l.rate_window_minutes, limit_text(l.rate_requests),
                                   usd_text(l.rate_cost_micro)));
  else
    row("rate window", "-");
  row("token limit", limit_text(l.total_tokens));
  row("daily cost", usd_text(l.daily_cost_micro));
  row("weekly cost", l.weekly_cost_micro ? fmt::format("{} (week starts day {} at {:02}:00)", usd_text(l.weekly_cost_micro),
                                                       l.weekly_reset_day, l.weekly_reset_hour)
                                         : "-");
  row("total cost", usd_text(l.total_cost_micro));
  row("permissions", list_text(k.permissions, "all"));
  row("models", list_text(k.allowed_models, "all"));
  row("denied models", list_text(k.denied_models, "-"));
  row("clients", list_text(k.allowed_clients, "all"));
  row("account", k.bound_account.empty() ? "shared pool" : k.bound_account);
}

void print_new_key(const GlobalOptions& options, const keys::NewKey& made, const char* verb) {
  if (options.json) {
    auto o = keys::to_json(made.key);
    o["key"] = made.plaintext;
    std::cout << json::serialize(o) << "\n";
    return;
  }
  std::cout << fmt::format("{} key {} ({}).\n\n    {}\n\nStore it now: it is shown only once.\n", verb, made.key.id,
                           made.key.name, made.plaintext);
}

// Outside the coroutines: GCC 12 miscompiles initializer lists inside coroutine frames.
std::string deleted_json(const std::string& id) { return json::serialize(json::object{{"id", id}, {"result", "deleted"}}); }

Task<int> create(GlobalOptions options, json::object changes, store::RedisClient& redis, const config::Config& cfg) {
  keys::ApiKey fields;
  if (auto s = keys::apply_changes(fields, changes); !s) co_return fail(options, s.error().message);
  auto store = key_store(redis, cfg);
  auto binding = co_await store.binding_problem(fields.bound_account);
  if (!binding) co_return fail(options, binding.error().message);
  if (!binding->empty()) co_return fail(options, *binding);
  auto made = co_await store.create(std::move(fields));
  if (!made) co_return fail(options, made.error().message);
  print_new_key(options, *made, "Created");
  co_return 0;
}

Task<int> update(GlobalOptions options, std::string id, json::object changes, store::RedisClient& redis,
                 const config::Config& cfg) {
  if (changes.empty()) co_return fail(options, "nothing to change: give at least one flag (see --help)");
  auto store = key_store(redis, cfg);
  if (auto* bound = changes.if_contains("claudeAccountId"); bound && bound->is_string()) {
    std::string account(bound->get_string());
    auto binding = co_await store.binding_problem(account);
    if (!binding) co_return fail(options, binding.error().message);
    if (!binding->empty()) co_return fail(options, *binding);
  }
  auto changed = co_await store.update(id, std::move(changes));
  if (!changed) co_return fail(options, changed.error().message);
  if (options.json) std::cout << json::serialize(keys::to_json(*changed)) << "\n";
  else print_key(*changed);
  co_return 0;
}

Task<int> show(GlobalOptions options, std::string id, store::RedisClient& redis, const config::Config& cfg) {
  auto store = key_store(redis, cfg);
  auto found = co_await store.get(id);
  if (!found) co_return fail(options, found.error().message);
  if (!*found) co_return fail(options, "no key with id " + id);
  if (options.json) std::cout << json::serialize(keys::to_json(**found)) << "\n";
  else print_key(**found);
  co_return 0;
}

Task<int> list(GlobalOptions options, store::RedisClient& redis, const config::Config& cfg) {
  auto store = key_store(redis, cfg);
  query::QueryRunner queries(query::settings_of(cfg));
  auto all = co_await store.list(queries);
  if (!all) co_return fail(options, all.error().message);
  if (options.json) {
    json::array a;
    for (const auto& k : *all) a.push_back(keys::to_json(k));
    std::cout << json::serialize(a) << "\n";
    co_return 0;
  }
  std::cout << fmt::format("{:<36}  {:<24}  {:<8}  {:<24}  {}\n", "ID", "NAME", "ENABLED", "CREATED", "LAST USED");
  for (const auto& k : *all)
    std::cout << fmt::format("{:<36}  {:<24}  {:<8}  {:<24}  {}\n", k.id, k.name, k.enabled ? "yes" : "no",
                             k.created_at, k.last_used_at.empty() ? "-" : k.last_used_at);
  co_return 0;
}

Task<int> renew(GlobalOptions options, std::string id, store::RedisClient& redis, const config::Config& cfg) {
  auto store = key_store(redis, cfg);
  auto made = co_await store.renew(id);
  if (!made) co_return fail(options, made.error().message);
  print_new_key(options, *made, "Renewed");
  co_return 0;
}

Task<int> remove(GlobalOptions options, std::string id, store::RedisClient& redis, const config::Config& cfg) {
  auto store = key_store(redis, cfg);
  if (auto s = co_await store.remove(id); !s) co_return fail(options, s.error().message);
  if (options.json) std::cout << deleted_json(id) << "\n";
  else std::cout << "Key " << id << " deleted.\n";
  co_return 0;
}

json::object active_change(bool enabled) {
  json::object o;
  o["isActive"] = enabled;
  return o;
}

}  // namespace

void add_keys_commands(CLI::App& app, Context& ctx) {
  auto* keys = app.add_subcommand("keys", "Relay keys (cr_...) that clients use");
  keys->require_subcommand(1);
  auto run = [&ctx](std::function<Task<int>(store::RedisClient&, const config::Config&)> body) {
    ctx.exit_code = with_redis(ctx.global, true, std::move(body));
  };

  auto* create_cmd = keys->add_subcommand("create", "Create a key and print it once");
  auto create_flags = std::make_shared<KeyFlags>();
  create_flags->add(create_cmd, true);
  create_cmd->callback([&ctx, run, create_flags] {
    run([&](store::RedisClient& r, const config::Config& c) { return create(ctx.global, create_flags->changes(), r, c); });
  });

  auto* update_cmd = keys->add_subcommand("update", "Change fields of a key (only the flags given)");
  auto update_id = std::make_shared<std::string>();
  update_cmd->add_option("id", *update_id, "Key id")->required();
  auto update_flags = std::make_shared<KeyFlags>();
  update_flags->add(update_cmd, false);
  update_cmd->callback([&ctx, run, update_id, update_flags] {
    run([&](store::RedisClient& r, const config::Config& c) {
      return update(ctx.global, *update_id, update_flags->changes(), r, c);
    });
  });

  auto* show_cmd = keys->add_subcommand("show", "Show a key's fields and limits (never its plaintext)");
  auto show_id = std::make_shared<std::string>();
  show_cmd->add_option("id", *show_id, "Key id")->required();
  show_cmd->callback([&ctx, run, show_id] {
    run([&](store::RedisClient& r, const config::Config& c) { return show(ctx.global, *show_id, r, c); });
  });

  keys->add_subcommand("list", "List keys (never their plaintext)")->callback([&ctx, run] {
    run([&](store::RedisClient& r, const config::Config& c) { return list(ctx.global, r, c); });
  });

  for (std::string action : {"enable", "disable"}) {
    auto* cmd = keys->add_subcommand(action, action == "enable" ? "Enable a key"
                                                                : "Disable a key: requests with it get 403");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Key id")->required();
    cmd->callback([&ctx, run, action, id] {
      run([&](store::RedisClient& r, const config::Config& c) {
        return update(ctx.global, *id, active_change(action == "enable"), r, c);
      });
    });
  }

  auto* renew_cmd = keys->add_subcommand("renew", "Replace a key's secret (same id, limits and usage); print it once");
  auto renew_id = std::make_shared<std::string>();
  renew_cmd->add_option("id", *renew_id, "Key id")->required();
  renew_cmd->callback([&ctx, run, renew_id] {
    run([&](store::RedisClient& r, const config::Config& c) { return renew(ctx.global, *renew_id, r, c); });
  });

  auto* delete_cmd = keys->add_subcommand("delete", "Delete a key for good");
  auto delete_id = std::make_shared<std::string>();
  delete_cmd->add_option("id", *delete_id, "Key id")->required();
  delete_cmd->callback([&ctx, run, delete_id] {
    run([&](store::RedisClient& r, const config::Config& c) { return remove(ctx.global, *delete_id, r, c); });
  });
}

}  // namespace crs::cli
