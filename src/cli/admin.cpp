// `crs admin reset-password`: a new admin login when the password is lost. Every session ends;
// dataDir/init.json keeps only the hash.
#include <iostream>
#include <memory>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "admin/credentials.hpp"
#include "admin/login_throttle.hpp"
#include "admin/password.hpp"
#include "cli/commands.hpp"
#include "core/crypto.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace {

struct ResetOptions {
  std::string username;
  bool password_stdin = false;
};

std::string reset_json(const std::string& username, const std::string& password, bool show_password) {
  json::object o{{"username", username}};
  if (show_password) o["password"] = password;
  return json::serialize(o);
}

Task<int> reset_password(GlobalOptions options, ResetOptions reset, std::string password, store::RedisClient& redis,
                         const config::Config& cfg) {
  bool generated = password.empty();
  if (generated) password = admin::generate_password();
  if (password.size() < 8 || password.size() > 1024) co_return fail(options, "the password must be 8 to 1024 characters");
  std::string username = reset.username;
  if (username.empty()) {
    auto current = co_await admin::load_credentials(redis);
    if (!current) co_return fail(options, current.error().message);
    username = *current ? (*current)->username : "cr_admin_" + crypto::random_hex(4);
  }
  BlockingPool pool(1);
  std::string hash = admin::hash_password(password);
  auto replaced = co_await admin::replace_credentials(redis, pool, cfg.server.dataDir, username, hash);
  if (!replaced) co_return fail(options, replaced.error().message);
  co_await redis.command(admin::clear_user_attempts(username));  // address counters expire by themselves
  if (options.json) {
    std::cout << reset_json(username, password, generated) << "\n";
  } else if (generated) {
    std::cout << fmt::format("Admin login reset; every session has ended.\n\n    username: {}\n    password: {}\n\n"
                             "It is shown only this once; {} keeps only its hash.\n",
                             username, password, admin::init_file_path(cfg.server.dataDir));
  } else {
    std::cout << fmt::format("Admin login reset for {}; every session has ended.\n", username);
  }
  crypto::wipe(password);
  co_return 0;
}

}  // namespace

void add_admin_commands(CLI::App& app, Context& ctx) {
  auto* admin_cmd = app.add_subcommand("admin", "The admin login of the web console and admin API");
  admin_cmd->require_subcommand(1);
  auto reset = std::make_shared<ResetOptions>();
  auto* cmd = admin_cmd->add_subcommand("reset-password", "Set a new admin password (generated unless given on stdin)");
  cmd->add_option("--username", reset->username, "New username (default: keep the current one)");
  cmd->add_flag("--password-stdin", reset->password_stdin, "Read the new password from the first line of stdin");
  cmd->callback([&ctx, reset] {
    std::string password;
    if (reset->password_stdin && !std::getline(std::cin, password)) {
      ctx.exit_code = fail(ctx.global, "no password on stdin");
      return;
    }
    ctx.exit_code = with_redis(ctx.global, false, [&](store::RedisClient& r, const config::Config& c) {
      return reset_password(ctx.global, *reset, password, r, c);
    });
  });
}

}  // namespace crs::cli
