#include "admin/credentials.hpp"

#include <algorithm>
#include <chrono>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "admin/admin_http.hpp"
#include "admin/password.hpp"
#include "core/crypto.hpp"
#include "core/time.hpp"
#include "store/hash_record.hpp"

namespace crs::admin {
namespace json = boost::json;
namespace fs = std::filesystem;
using store::make_command;
namespace {

// Creates the login only if none exists: two instances starting together agree on one.
constexpr const char* kCreateIfAbsent = R"LUA(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'username', ARGV[1], 'passwordHash', ARGV[2], 'version', ARGV[4], 'createdAt', ARGV[3])
return 1
)LUA";

constexpr const char* kReplace = R"LUA(
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'username', ARGV[1], 'passwordHash', ARGV[2], 'updatedAt', ARGV[3])
if redis.call('HEXISTS', KEYS[1], 'createdAt') == 0 then redis.call('HSET', KEYS[1], 'createdAt', ARGV[3]) end
return v
)LUA";

std::string now_iso() { return iso8601_utc(std::chrono::system_clock::now()); }

json::object read_init_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  auto v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) {
    spdlog::warn("{} is not a JSON object; ignored", path);
    return {};
  }
  return v.as_object();
}

// Written to a temporary file created 0600 and renamed over the old one.
Status write_init_file(const std::string& path, const json::object& content) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // never write through a file or link someone else left there
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Error{fmt::format("cannot write {}: {}", tmp, std::strerror(errno))};
  std::string text = json::serialize(content) + "\n";
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  crypto::wipe(text);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return Error{fmt::format("cannot write {}", path)};
  return Ok{};
}

// init.json after a change: everything but the plaintext password.
json::object hashed_init(json::object previous, const Credentials& c) {
  previous.erase("adminPassword");
  if (!previous.contains("initializedAt")) previous["initializedAt"] = now_iso();
  previous["adminUsername"] = c.username;
  previous["adminPasswordHash"] = c.password_hash;
  previous["credentialsVersion"] = c.version;  // a restore continues above it: older sessions stay ended
  previous["updatedAt"] = now_iso();
  previous["version"] = CRS_VERSION;
  return previous;
}

// init.json of a generated login, in the Node.js service's shape.
json::object generated_init(const std::string& username, const std::string& password) {
  return json::object{{"initializedAt", now_iso()}, {"adminUsername", username}, {"adminPassword", password},
                      {"version", CRS_VERSION}};
}

void show_on_terminal(const std::string& path, const std::string& username, const std::string& password) {
  // Shown once, on the terminal only: log files and journals are not the place for a password.
  if (!::isatty(STDERR_FILENO)) return;
  std::fprintf(stderr,
               "\n  Admin login generated (also in %s, readable by this user only):\n"
               "    username: %s\n    password: %s\n  Change it with POST /web/auth/change-password or "
               "`crs admin reset-password`.\n\n",
               path.c_str(), username.c_str(), password.c_str());
}

// Every start says where the admin login is (never the password itself): a newcomer who
// missed the first start's terminal finds it again.
void say_where_the_login_is(const std::string& path, const json::object& init, const Credentials& current) {
  bool first_password_kept = string_member(init, "adminUsername") == current.username &&
                             !string_member(init, "adminPassword").empty();
  if (first_password_kept)
    spdlog::info("admin login: username {}, its first password is in {} (adminPassword) until it is changed",
                 current.username, path);
  else
    spdlog::info("admin login: username {}; its password was changed (a lost one: `crs admin reset-password`)",
                 current.username);
}

}  // namespace

std::string init_file_path(const std::string& data_dir) { return (fs::path(data_dir) / "init.json").string(); }

Task<Result<std::optional<Credentials>>> load_credentials(store::RedisClient& redis) {
  auto reply = co_await redis.command(make_command("HGETALL", std::string(kCredentialsKey)));
  if (!reply) co_return reply.error();
  auto record = store::to_record(*reply);
  if (record.empty() || store::field(record, "passwordHash").empty()) co_return std::optional<Credentials>();
  Credentials c;
  c.username = store::field(record, "username");
  c.password_hash = store::field(record, "passwordHash");
  c.version = std::atoll(store::field(record, "version", "0").c_str());
  co_return std::optional<Credentials>(std::move(c));
}

Task<Result<Credentials>> replace_credentials(store::RedisClient& redis, BlockingPool& pool,
                                              const std::string& data_dir, std::string username,
                                              std::string password_hash) {
  auto reply = co_await redis.command(make_command("EVAL", std::string(kReplace), "1", std::string(kCredentialsKey),
                                                   username, password_hash, now_iso()));
  if (!reply) co_return reply.error();
  if (reply->is_error()) co_return Error{reply->str};
  Credentials c{std::move(username), std::move(password_hash), reply->as_int().value_or(0)};
  std::string path = init_file_path(data_dir);
  auto rewrite = [path, c] { return write_init_file(path, hashed_init(read_init_file(path), c)); };
  auto written = co_await pool.run(rewrite);
  if (!written) spdlog::warn("admin login changed, but {}", written.error().message);
  co_return c;
}

namespace {

// admin.username/password from the configuration win: the stored login is replaced unless it
// already is this one.
Task<Status> set_from_configuration(store::RedisClient& redis, BlockingPool& pool, const config::Config& cfg,
                                    std::optional<Credentials> current) {
  std::string password = cfg.admin.password;
  auto compare = [current, username = cfg.admin.username, password] {
    return current && current->username == username && verify_password(password, current->password_hash);
  };
  bool same = co_await pool.run(compare);
  if (same) {
    spdlog::info("admin login: username {}, set by the configuration (admin.username / ADMIN_USERNAME)",
                 cfg.admin.username);
    co_return Ok{};
  }
  auto hashing = [password] { return hash_password(password); };
  std::string hash = co_await pool.run(hashing);
  auto replaced = co_await replace_credentials(redis, pool, cfg.server.dataDir, cfg.admin.username, hash);
  if (!replaced) co_return replaced.error();
  spdlog::info("admin login set from the configuration (admin.username / ADMIN_USERNAME)");
  co_return Ok{};
}

// A plaintext password the stored login no longer accepts is stale: it is dropped from the file.
Task<void> drop_stale_plaintext(BlockingPool& pool, std::string path, json::object init, Credentials current) {
  std::string plaintext = string_member(init, "adminPassword");
  if (plaintext.empty()) co_return;
  auto check = [current, plaintext] { return !verify_password(plaintext, current.password_hash); };
  bool stale = co_await pool.run(check);
  if (!stale) co_return;
  auto rewrite = [path, init, current] { return write_init_file(path, hashed_init(init, current)); };
  auto written = co_await pool.run(rewrite);
  if (written) spdlog::info("{}: removed a plaintext admin password that is no longer valid", path);
}

// The credentials version of a login restored after Redis lost it: past every version a
// session token was ever issued with, since the logouts were lost too, and a version that came
// back (1, for a first-start init.json that still holds the plaintext) would make every old
// token good again. The clock in milliseconds is above any earlier version (they start at it
// and rise by one per password change); the saved one covers a clock set back.
int64_t restored_version(const json::object& init) {
  const auto* saved_version = init.if_contains("credentialsVersion");
  int64_t saved = saved_version && saved_version->is_int64() ? saved_version->as_int64() : 0;
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return std::max<int64_t>(saved + 1, now_ms.count());
}

// Another instance stored its login first: a password generated here is void, and the file
// gets the winner's login.
Task<void> adopt_the_winner(store::RedisClient& redis, BlockingPool& pool, std::string path) {
  auto winner = co_await load_credentials(redis);
  if (!winner || !*winner) co_return;
  Credentials w = **winner;
  auto rewrite = [path, w] { return write_init_file(path, hashed_init(read_init_file(path), w)); };
  auto rewritten = co_await pool.run(rewrite);
  if (!rewritten) spdlog::warn("{}", rewritten.error().message);
}

// Nothing in Redis: the login of init.json is restored, or a first login is generated (file
// first: a password that reached Redis but no file would be lost).
Task<Status> restore_or_generate(store::RedisClient& redis, BlockingPool& pool, std::string path, json::object init) {
  std::string username = string_member(init, "adminUsername");
  std::string hash = string_member(init, "adminPasswordHash");
  std::string plaintext = string_member(init, "adminPassword");
  int64_t version = restored_version(init);
  bool generated = false;
  if (!username.empty() && hash.empty() && !plaintext.empty()) {
    auto hashing = [plaintext] { return hash_password(plaintext); };
    hash = co_await pool.run(hashing);
  }
  if (username.empty() || hash.empty()) {
    username = "cr_admin_" + crypto::random_hex(4);
    plaintext = generate_password();
    auto hashing = [plaintext] { return hash_password(plaintext); };
    hash = co_await pool.run(hashing);
    generated = true;
    json::object fresh = generated_init(username, plaintext);
    auto writing = [path, fresh] { return write_init_file(path, fresh); };
    auto written = co_await pool.run(writing);
    if (!written) co_return written.error();
  }
  auto created = co_await redis.command(make_command("EVAL", std::string(kCreateIfAbsent), "1",
                                                     std::string(kCredentialsKey), username, hash, now_iso(),
                                                     std::to_string(version)));
  if (!created) co_return created.error();
  if (created->is_error()) co_return Error{created->str};
  if (created->as_int().value_or(0) != 1) {
    if (generated) co_await adopt_the_winner(redis, pool, path);
    co_return Ok{};
  }
  if (generated) {
    spdlog::warn("admin login generated: username {}, password in {} (0600). Change it after the first login.",
                 username, path);
    show_on_terminal(path, username, plaintext);
    crypto::wipe(plaintext);
    co_return Ok{};
  }
  spdlog::info("admin login {} restored from {}", username, path);
  if (plaintext.empty()) {  // remember the new version, so a second restore ends these sessions too
    Credentials restored{username, hash, version};
    auto rewrite = [path, init, restored] { return write_init_file(path, hashed_init(init, restored)); };
    auto rewritten = co_await pool.run(rewrite);
    if (!rewritten) spdlog::warn("{}", rewritten.error().message);
  }
  co_return Ok{};
}

}  // namespace

// The imported hash is replaced only if it is still the one that was checked (a password
// change in between wins); the version stays, so no session ends.
constexpr const char* kUpgradeHash = R"LUA(
if redis.call('HGET', KEYS[1], 'passwordHash') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'passwordHash', ARGV[2])
return 1
)LUA";

Task<void> upgrade_imported_hash(store::RedisClient& redis, BlockingPool& pool, std::string data_dir,
                                 Credentials current, std::string password) {
  if (!is_imported_bcrypt(current.password_hash)) co_return;
  auto hashing = [password] { return hash_password(password); };
  std::string hash = co_await pool.run(hashing);
  crypto::wipe(password);
  auto done = co_await redis.command(make_command("EVAL", std::string(kUpgradeHash), "1", std::string(kCredentialsKey),
                                                  current.password_hash, hash));
  if (!done || done->as_int().value_or(0) != 1) co_return;
  spdlog::info("admin login {}: the imported bcrypt hash was replaced by a scrypt hash", current.username);
  // init.json (the login's copy for a restore) must not keep the weaker hash either.
  current.password_hash = hash;
  std::string path = init_file_path(data_dir);
  auto rewrite = [path, current] { return write_init_file(path, hashed_init(read_init_file(path), current)); };
  if (auto written = co_await pool.run(rewrite); !written)
    spdlog::warn("admin login {}: {} still holds the imported hash: {}", current.username, path, written.error().message);
}

Task<Status> ensure_credentials(store::RedisClient& redis, BlockingPool& pool, const config::Config& cfg) {
  auto stored = co_await load_credentials(redis);
  if (!stored) co_return stored.error();
  if (!cfg.admin.username.empty() && !cfg.admin.password.empty())
    co_return co_await set_from_configuration(redis, pool, cfg, *stored);
  std::string path = init_file_path(cfg.server.dataDir);
  auto reading = [path] { return read_init_file(path); };
  json::object init = co_await pool.run(reading);
  if (*stored) {
    co_await drop_stale_plaintext(pool, path, init, **stored);
    say_where_the_login_is(path, init, **stored);
    co_return Ok{};
  }
  co_return co_await restore_or_generate(redis, pool, path, std::move(init));
}

}  // namespace crs::admin
