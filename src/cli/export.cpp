// `crs export ...`: API key batch export from the command line (the deployment guide's
// commands). `run` and `test` run the export in this process, as a task in Redis like the
// admin API's (same log line, same stats); `cleanup` is the service's cleanup on demand.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "accounts/account_store.hpp"
#include "app/serve.hpp"
#include "cli/commands.hpp"
#include "core/crypto.hpp"
#include "core/time.hpp"
#include "export/cleanup.hpp"
#include "export/csv_reader.hpp"
#include "export/files.hpp"
#include "export/runner.hpp"
#include "export/task_store.hpp"
#include "keys/key_store.hpp"

namespace crs::cli {
namespace json = boost::json;
namespace kx = key_export;

std::string host_name() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

namespace {

std::string cli_user() {
  const passwd* pw = ::getpwuid(::geteuid());
  return std::string("cli:") + (pw && pw->pw_name ? pw->pw_name : std::to_string(::geteuid()));
}

kx::SpecPolicy policy_of(const config::Config& cfg) {
  return kx::SpecPolicy{cfg.apiExport.supportedFormats, cfg.apiExport.sanitizeData};
}

// ---- progress ----

// A bar on a terminal, a line per tenth otherwise (logs, CI); both on stderr.
struct ProgressPrinter {
  bool terminal = ::isatty(STDERR_FILENO) == 1;
  int64_t last_tenth = -1;

  void operator()(const kx::ExportTask& t) {
    int64_t percent = t.total > 0 ? std::min<int64_t>(100, t.scanned * 100 / t.total) : 100;
    if (terminal) {
      std::string bar(static_cast<size_t>(percent / 5), '#');
      bar.resize(20, ' ');
      std::cerr << fmt::format("\r[{}] {:3}% {}/{} keys, {} rows", bar, percent, t.scanned, t.total, t.rows) << std::flush;
      return;
    }
    if (percent / 10 == last_tenth) return;
    last_tenth = percent / 10;
    std::cerr << fmt::format("export: {}/{} keys scanned ({}%), {} rows\n", t.scanned, t.total, percent, t.rows);
  }
  void done() const {
    if (terminal) std::cerr << "\n";
  }
};

// ---- files ----

// Copies the export to `out` (0600) through a temporary name in the same directory.
Status copy_out(const std::string& from, const std::string& out) {
  std::string temp = out + ".tmp-" + crypto::random_hex(4);
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Error{fmt::format("cannot read {}: {}", from, std::strerror(errno))};
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    ::close(in);
    return Error{fmt::format("cannot write {}: {}", out, std::strerror(errno))};
  }
  char buf[65536];
  bool ok = true;
  for (ssize_t n; ok && (n = ::read(in, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0 && ::write(fd, buf, static_cast<size_t>(n)) == n;
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  ::close(in);
  if (!ok || ::rename(temp.c_str(), out.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Error{fmt::format("cannot write {}: {}", out, std::strerror(errno))};
  }
  return Ok{};
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- run ----

struct RunFlags {
  std::string format = "csv";
  std::vector<std::string> fields, tags;
  std::string status, bound, created_from, created_to, last_used_from, last_used_to, has_usage;
  bool bound_given = false, no_sanitize = false, bom = false, totals = false;
  std::string period, from, to, out;

  // The request the admin API would get.
  json::object body() const {
    json::object b;
    b["format"] = format;
    if (!fields.empty()) {
      json::array f;
      for (const auto& name : fields) f.emplace_back(name);
      b["fields"] = std::move(f);
    }
    json::object filters;
    auto text = [&](const char* name, const std::string& v) {
      if (!v.empty()) filters[name] = v;
    };
    text("status", status);
    text("createdFrom", created_from);
    text("createdTo", created_to);
    text("lastUsedFrom", last_used_from);
    text("lastUsedTo", last_used_to);
    if (bound_given) filters["boundAccount"] = bound;
    if (!tags.empty()) {
      json::array t;
      for (const auto& tag : tags) t.emplace_back(tag);
      filters["tags"] = std::move(t);
    }
    if (!has_usage.empty()) filters["hasUsage"] = has_usage == "true" ? json::value(true) : json::value(has_usage);
    if (!filters.empty()) b["filters"] = std::move(filters);
    if (no_sanitize) b["sanitize"] = false;
    if (bom) b["bom"] = true;
    json::object usage;
    if (totals) usage["totals"] = true;
    if (!period.empty()) {
      usage["period"] = period;
      usage["from"] = from;
      usage["to"] = to;
    }
    if (!usage.empty()) b["usage"] = std::move(usage);
    return b;
  }
};

// Creates the task and runs it here; the task as it ended.
Task<Result<kx::ExportTask>> run_here(store::RedisClient& redis, const config::Config& cfg, kx::ExportSpec spec,
                                      std::string who, std::function<void(const kx::ExportTask&)> progress) {
  auto dir = kx::prepare_output_dir(cfg.apiExport.outputDir);
  if (!dir) co_return dir.error();
  auto task = kx::new_task(spec, who, "cli@" + host_name());
  kx::TaskStore tasks(redis);
  if (auto made = co_await tasks.create(task); !made) co_return made.error();
  kx::RunOptions options;
  options.dir = *dir;
  options.batch_size = static_cast<size_t>(std::max(1, cfg.apiExport.batchSize));
  options.on_progress = std::move(progress);
  options.reads = query::settings_of(cfg);
  co_return co_await kx::run_export(redis, std::move(task), std::move(spec), std::move(options));
}

json::object run_summary(const kx::ExportTask& t, const std::string& out) {
  json::object o = kx::task_json(t);
  o["out"] = out;
  return o;
}

Task<int> export_run(store::RedisClient& redis, const config::Config& cfg, const RunFlags& flags,
                     const GlobalOptions& global) {
  if (!cfg.apiExport.enabled) co_return fail(global, "API key export is disabled (apiExport.enabled = false)");
  open_api_export_log(app::log_settings(cfg.logging));
  auto spec = kx::parse_spec(flags.body(), policy_of(cfg));
  if (!spec) co_return fail(global, spec.error().message);
  auto printer = std::make_shared<ProgressPrinter>();
  auto progress = [printer](const kx::ExportTask& t) { (*printer)(t); };
  auto ended = co_await run_here(redis, cfg, std::move(*spec), cli_user(), progress);
  printer->done();
  if (!ended) co_return fail(global, ended.error().message);
  if (ended->state != "done") co_return fail(global, fmt::format("export {} {}: {}", ended->id, ended->state, ended->error));
  auto dir = kx::prepare_output_dir(cfg.apiExport.outputDir);
  if (auto copied = copy_out(*dir + "/" + ended->file, flags.out); !copied) co_return fail(global, copied.error().message);
  if (global.json) std::cout << json::serialize(run_summary(*ended, flags.out)) << "\n";
  else
    std::cout << fmt::format("exported {} keys ({} scanned) to {}: {} bytes, sha256 {}\ntask {} (also in {})\n",
                             ended->rows, ended->scanned, flags.out, ended->size, ended->sha256, ended->id, *dir);
  co_return 0;
}

void add_run(CLI::App& parent, Context& ctx) {
  auto flags = std::make_shared<RunFlags>();
  auto* run = parent.add_subcommand("run", "Export relay keys (with usage) to a file");
  run->add_option("--format", flags->format, "csv, json or ndjson (apiExport.supportedFormats)")->capture_default_str();
  run->add_option("--fields", flags->fields, "Columns, comma-separated (default: id, name, description, tags, status, "
                                             "dates, binding; GET /admin/exports/fields lists all)")->delimiter(',');
  run->add_option("--status", flags->status, "Only keys that are active, disabled or expired");
  run->add_option("--tags", flags->tags, "Only keys with any of these tags (comma-separated)")->delimiter(',');
  run->add_option_function<std::string>("--bound-account", [flags](const std::string& v) {
    flags->bound = v;
    flags->bound_given = true;
  }, "Only keys bound to this account id or group:<id> (\"\" = keys bound to nothing)");
  run->add_option("--created-from", flags->created_from, "Created on or after (YYYY-MM-DD or ISO 8601 UTC)");
  run->add_option("--created-to", flags->created_to, "Created on or before");
  run->add_option("--last-used-from", flags->last_used_from, "Last used on or after");
  run->add_option("--last-used-to", flags->last_used_to, "Last used on or before");
  run->add_option("--has-usage", flags->has_usage, "true: only keys that were used; false: only keys never used")
      ->check(CLI::IsMember({"true", "false"}));
  run->add_flag("--usage-totals", flags->totals, "Add all-time usage columns (total*)");
  run->add_option("--period", flags->period, "Add usage summed over --from..--to by day or month (period* columns)")
      ->check(CLI::IsMember({"day", "month"}));
  run->add_option("--from", flags->from, "First day (or month) of --period");
  run->add_option("--to", flags->to, "Last day (or month) of --period");
  run->add_flag("--bom", flags->bom, "CSV: start with a UTF-8 byte order mark (for spreadsheet programs)");
  run->add_flag("--no-sanitize", flags->no_sanitize, "Full key ids and the keyHash field (never plaintext keys)");
  run->add_option("--out", flags->out, "The file to write (mode 0600)")->required();
  run->callback([&ctx, flags] {
    ctx.exit_code = with_redis(ctx.global, false, [&ctx, flags](store::RedisClient& redis, const config::Config& cfg) {
      return export_run(redis, cfg, *flags, ctx.global);
    });
  });
}

// ---- test ----

struct Check {
  std::string name;
  bool ok;
  std::string detail;
};

struct Scratch {
  std::string tag = "crs-export-test-" + crypto::random_hex(4);
  std::vector<keys::NewKey> keys;
};

std::vector<std::string> scratch_names() {
  return {"Quote \"q\", comma, and\nnewline", "=HYPERLINK(\"http://example.invalid\")", "Ünïcødé 名前 ✓"};
}

keys::ApiKey scratch_key(const std::string& name, const std::string& tag) {
  keys::ApiKey k;
  k.name = name;
  k.description = "crs export test (removed when the test ends)";
  k.tags = {tag};
  k.enabled = false;  // never usable, even in the moment it exists
  return k;
}

json::object test_request(const std::string& format, const std::string& tag) {
  json::array tags;
  tags.emplace_back(tag);
  json::object filters;
  filters["tags"] = std::move(tags);
  json::object usage;
  usage["totals"] = true;
  json::object b;
  b["format"] = format;
  b["filters"] = std::move(filters);
  b["usage"] = std::move(usage);
  return b;
}

// The exported rows as name -> value maps, whatever the format.
Result<std::vector<std::map<std::string, std::string>>> read_back(const std::string& text, kx::Format format,
                                                                  std::vector<std::string>& header) {
  std::vector<std::map<std::string, std::string>> rows;
  auto as_text = [](const json::value& v) {
    return v.is_string() ? std::string(v.as_string()) : v.is_null() ? std::string() : json::serialize(v);
  };
  auto add_object = [&](const json::object& o) {
    std::map<std::string, std::string> row;
    for (const auto& m : o) row[std::string(m.key())] = as_text(m.value());
    rows.push_back(std::move(row));
  };
  boost::system::error_code ec;
  if (format == kx::Format::Csv) {
    auto records = kx::parse_csv(text);
    if (!records) return records.error();
    if (records->empty()) return Error{"no header row"};
    header = records->front();
    for (size_t r = 1; r < records->size(); ++r) {
      std::map<std::string, std::string> row;
      for (size_t i = 0; i < header.size() && i < (*records)[r].size(); ++i) row[header[i]] = (*records)[r][i];
      rows.push_back(std::move(row));
    }
  } else if (format == kx::Format::Json) {
    auto doc = json::parse(text, ec);
    if (ec || !doc.is_object()) return Error{"not one JSON object: " + ec.message()};
    for (const auto& f : doc.as_object().at("fields").as_array()) header.emplace_back(f.as_string());
    for (const auto& k : doc.as_object().at("keys").as_array()) add_object(k.as_object());
  } else {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      auto v = json::parse(line, ec);
      if (ec || !v.is_object()) return Error{"a line is not a JSON object"};
      if (header.empty())
        for (const auto& m : v.as_object()) header.emplace_back(m.key());
      add_object(v.as_object());
    }
  }
  return rows;
}

// What must not be in any export: plaintext keys, their digests (when sanitized: full ids too),
// the relay's own secrets and every upstream credential.
std::vector<std::pair<std::string, std::string>> secrets_of(const Scratch& s, const config::Config& cfg,
                                                           const std::vector<accounts::Account>& accounts,
                                                           bool sanitized) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& k : s.keys) {
    out.emplace_back("a plaintext key", k.plaintext);
    if (sanitized) out.emplace_back("a key digest", k.key.digest);
    if (sanitized) out.emplace_back("a full key id", k.key.id);
  }
  out.emplace_back("ENCRYPTION_KEY", cfg.security.encryptionKey);
  out.emplace_back("JWT_SECRET", cfg.security.jwtSecret);
  for (const auto& a : accounts)
    for (const auto* c : {&a.credentials.api_key, &a.credentials.access_token, &a.credentials.refresh_token})
      if (c->size() >= 8) out.emplace_back("an upstream credential of account " + a.id, *c);
  return out;
}

std::vector<Check> check_export(const kx::ExportTask& t, const kx::ExportSpec& spec, const std::string& dir,
                                const Scratch& s, const std::vector<std::pair<std::string, std::string>>& secrets) {
  std::vector<Check> checks;
  checks.push_back({"the task is done", t.state == "done", t.state + (t.error.empty() ? "" : ": " + t.error)});
  if (t.state != "done") return checks;
  std::string path = dir + "/" + t.file;
  std::string text = read_whole(path);
  struct stat st {}, dst {};
  ::stat(path.c_str(), &st);
  ::stat(dir.c_str(), &dst);
  checks.push_back({"file mode 0600", (st.st_mode & 0777) == 0600, fmt::format("{:04o}", st.st_mode & 0777)});
  checks.push_back({"directory mode 0700", (dst.st_mode & 0777) == 0700, fmt::format("{:04o}", dst.st_mode & 0777)});
  checks.push_back({"checksum matches", crypto::sha256_hex(text) == t.sha256, t.sha256});
  checks.push_back({"size matches", text.size() == t.size, std::to_string(text.size()) + " bytes"});
  std::vector<std::string> header;
  auto rows = read_back(text, spec.format, header);
  checks.push_back({"parses back", static_cast<bool>(rows), rows ? "" : rows.error().message});
  if (!rows) return checks;
  checks.push_back({"row count", rows->size() == s.keys.size(), fmt::format("{} of {}", rows->size(), s.keys.size())});
  checks.push_back({"fields", header == spec.fields, fmt::format("{} columns", header.size())});
  size_t found = 0;
  for (const auto& k : s.keys) {
    std::string expected = k.key.name.starts_with("=") && spec.format == kx::Format::Csv ? "'" + k.key.name : k.key.name;
    for (const auto& r : *rows) found += r.count("name") && r.at("name") == expected ? 1 : 0;
  }
  checks.push_back({"names round-trip (quotes, commas, newlines, non-ASCII, formulas neutralised in CSV)",
                    found == s.keys.size(), fmt::format("{} of {}", found, s.keys.size())});
  std::string leaked;
  for (const auto& [what, secret] : secrets)
    if (!secret.empty() && text.find(secret) != std::string::npos) leaked += (leaked.empty() ? "" : ", ") + what;
  checks.push_back({"no secret in the file", leaked.empty(), leaked.empty() ? std::to_string(secrets.size()) + " looked for" : leaked});
  return checks;
}

std::vector<Check> test_checks(const Result<kx::ExportTask>& ended, const kx::ExportSpec& spec, const std::string& dir,
                               const Scratch& s, const config::Config& cfg,
                               const Result<std::vector<accounts::Account>>& accounts) {
  if (!ended) return {Check{"the export runs", false, ended.error().message}};
  std::vector<accounts::Account> none;
  return check_export(*ended, spec, dir, s, secrets_of(s, cfg, accounts ? *accounts : none, spec.sanitize));
}

Task<void> remove_scratch(store::RedisClient& redis, const config::Config& cfg, const Scratch& s,
                          const kx::ExportTask& t, const std::string& dir) {
  keys::KeyStore store(redis, cfg.security.encryptionKey, cfg.security.apiKeyPrefix);
  for (const auto& k : s.keys) co_await store.remove(k.key.id);
  if (!t.file.empty()) kx::remove_export_file(dir, t.file);
  kx::TaskStore tasks(redis);
  co_await tasks.remove(t.id);
}

void print_checks(const std::vector<Check>& checks, bool passed, const kx::ExportTask& t, const GlobalOptions& g) {
  if (g.json) {
    json::array a;
    for (const auto& c : checks) a.push_back(json::object{{"check", c.name}, {"ok", c.ok}, {"detail", c.detail}});
    std::cout << json::serialize(json::object{{"passed", passed}, {"task", t.id}, {"format", t.format}, {"checks", a}}) << "\n";
    return;
  }
  for (const auto& c : checks)
    std::cout << (c.ok ? "  ok    " : "  FAIL  ") << c.name << (c.detail.empty() ? "" : " (" + c.detail + ")") << "\n";
  std::cout << (passed ? "export test: PASS" : "export test: FAIL") << " (" << t.format << ", task " << t.id
            << ", removed afterwards)\n";
}

Task<int> export_test(store::RedisClient& redis, const config::Config& cfg, std::string format,
                      const GlobalOptions& global) {
  if (!cfg.apiExport.enabled) co_return fail(global, "API key export is disabled (apiExport.enabled = false)");
  open_api_export_log(app::log_settings(cfg.logging));
  auto spec = kx::parse_spec(test_request(format, "x"), policy_of(cfg));
  if (!spec) co_return fail(global, spec.error().message);
  auto dir = kx::prepare_output_dir(cfg.apiExport.outputDir);
  if (!dir) co_return fail(global, dir.error().message);
  Scratch scratch;
  spec = kx::parse_spec(test_request(format, scratch.tag), policy_of(cfg));
  keys::KeyStore store(redis, cfg.security.encryptionKey, cfg.security.apiKeyPrefix);
  for (const auto& name : scratch_names()) {
    auto made = co_await store.create(scratch_key(name, scratch.tag));
    if (!made) co_return fail(global, "cannot create the scratch keys: " + made.error().message);
    scratch.keys.push_back(std::move(*made));
  }
  auto ended = co_await run_here(redis, cfg, *spec, "cli:export-test", nullptr);
  accounts::AccountStore account_store(redis, cfg.security.encryptionKey);
  auto accounts = co_await account_store.list();
  kx::ExportTask task;
  if (ended) task = *ended;
  std::vector<Check> checks = test_checks(ended, *spec, *dir, scratch, cfg, accounts);
  co_await remove_scratch(redis, cfg, scratch, task, *dir);
  bool passed = std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.ok; });
  print_checks(checks, passed, task, global);
  co_return passed ? 0 : 1;
}

void add_test(CLI::App& parent, Context& ctx) {
  auto format = std::make_shared<std::string>("json");
  auto* test = parent.add_subcommand("test", "Export three scratch keys end to end, parse the file back and check it");
  test->add_option("--format", *format, "json, csv or ndjson")->capture_default_str();
  test->callback([&ctx, format] {
    ctx.exit_code = with_redis(ctx.global, true, [&ctx, format](store::RedisClient& redis, const config::Config& cfg) {
      return export_test(redis, cfg, *format, ctx.global);
    });
  });
}

// ---- cleanup, list, show ----

json::object cleanup_json(const kx::CleanupReport& report, bool dry_run, int max_age_hours, const std::string& dir) {
  json::array removed, expired;
  for (const auto& n : report.removed) removed.emplace_back(n);
  for (const auto& n : report.expired) expired.emplace_back(n);
  return json::object{{"dryRun", dry_run}, {"maxAgeHours", max_age_hours}, {"directory", dir},
                      {"removed", removed}, {"expiredTasks", expired}, {"kept", report.kept}};
}

Task<int> export_cleanup(store::RedisClient& redis, const config::Config& cfg, int max_age_hours, bool dry_run,
                         const GlobalOptions& global) {
  auto dir = kx::prepare_output_dir(cfg.apiExport.outputDir);
  if (!dir) co_return fail(global, dir.error().message);
  open_api_export_log(app::log_settings(cfg.logging));
  std::string holder = "cli@" + host_name() + ":" + crypto::random_hex(8);
  auto locked = co_await kx::take_cleanup_lock(redis, holder);
  if (!locked) co_return fail(global, locked.error().message);
  if (!*locked) co_return fail(global, "another instance is cleaning exports now; try again in a minute");
  auto report = co_await kx::clean_exports(redis, *dir, int64_t{max_age_hours} * 3600 * 1000, dry_run);
  co_await kx::release_cleanup_lock(redis, holder);
  if (!report) co_return fail(global, report.error().message);
  if (global.json) {
    std::cout << json::serialize(cleanup_json(*report, dry_run, max_age_hours, *dir)) << "\n";
    co_return 0;
  }
  const char* verb = dry_run ? "would remove" : "removed";
  for (const auto& n : report->removed) std::cout << verb << " " << n << "\n";
  std::cout << fmt::format("{} {} file(s) older than {} h or left by stopped exports in {}; {} kept\n", verb,
                           report->removed.size(), max_age_hours, *dir, report->kept);
  co_return 0;
}

void add_cleanup(CLI::App& parent, Context& ctx) {
  auto max_age = std::make_shared<int>(-1);
  auto dry_run = std::make_shared<bool>(false);
  auto* cleanup = parent.add_subcommand("cleanup", "Remove export files older than --max-age hours (and stray temporary files)");
  cleanup->add_option("--max-age", *max_age, "Hours (default: apiExport.autoCleanup.maxAgeHours; 0: every finished file)")
      ->check(CLI::Range(0, 87600));
  cleanup->add_flag("--dry-run", *dry_run, "Only say what would be removed");
  cleanup->callback([&ctx, max_age, dry_run] {
    ctx.exit_code = with_redis(ctx.global, false, [&ctx, max_age, dry_run](store::RedisClient& redis, const config::Config& cfg) {
      int hours = *max_age >= 0 ? *max_age : cfg.apiExport.autoCleanup.maxAgeHours;
      return export_cleanup(redis, cfg, hours, *dry_run, ctx.global);
    });
  });
}

void print_task_line(const kx::ExportTask& t) {
  int64_t percent = t.total > 0 ? std::min<int64_t>(100, t.scanned * 100 / t.total) : (t.state == "done" ? 100 : 0);
  std::cout << fmt::format("{}  {:<9} {:<6} {:>3}%  {:>8} rows  {:<24} {}\n", t.id, t.state, t.format, percent, t.rows,
                           t.created_at, t.requested_by);
}

// A task this command found abandoned (and failed) leaves no temporary file behind, if it was
// written to this machine's output directory.
void forget_temporary(const config::Config& cfg, const kx::TaskStore::Found& f) {
  auto format = kx::parse_format(f.task.format);
  if (!f.failed_now || !format) return;
  std::error_code ec;
  auto dir = std::filesystem::absolute(cfg.apiExport.outputDir, ec).lexically_normal().string();
  if (!ec) kx::remove_export_file(dir, kx::temp_name(f.task.id, *format));
}

Task<int> export_list(store::RedisClient& redis, const config::Config& cfg, int limit, const GlobalOptions& global) {
  kx::TaskStore tasks(redis);
  auto found = co_await tasks.list(static_cast<size_t>(limit));
  if (!found) co_return fail(global, found.error().message);
  for (const auto& f : *found) forget_temporary(cfg, f);
  if (global.json) {
    json::array a;
    for (const auto& f : *found) a.push_back(kx::task_json(f.task));
    std::cout << json::serialize(a) << "\n";
    co_return 0;
  }
  if (found->empty()) std::cout << "no exports\n";
  for (const auto& f : *found) print_task_line(f.task);
  co_return 0;
}

Task<int> export_show(store::RedisClient& redis, const config::Config& cfg, std::string id, const GlobalOptions& global) {
  kx::TaskStore tasks(redis);
  auto found = co_await tasks.get(id);
  if (!found) co_return fail(global, found.error().message);
  if (!*found) co_return fail(global, "export task not found: " + id);
  forget_temporary(cfg, **found);
  const auto& t = (*found)->task;
  if (global.json) {
    std::cout << json::serialize(kx::task_json(t)) << "\n";
    co_return 0;
  }
  print_task_line(t);
  std::cout << fmt::format("  request   {}\n  progress  {}/{} keys, {} rows, {} batches\n", t.spec, t.scanned, t.total,
                           t.rows, t.batches);
  if (!t.file.empty()) std::cout << fmt::format("  file      {} ({} bytes, sha256 {})\n", t.file, t.size, t.sha256);
  if (!t.error.empty()) std::cout << "  error     " << t.error << "\n";
  co_return 0;
}

void add_list_show(CLI::App& parent, Context& ctx) {
  auto limit = std::make_shared<int>(50);
  auto* list = parent.add_subcommand("list", "Export tasks, newest first");
  list->add_option("--limit", *limit, "How many")->check(CLI::Range(1, 500))->capture_default_str();
  list->callback([&ctx, limit] {
    ctx.exit_code = with_redis(ctx.global, false, [&ctx, limit](store::RedisClient& redis, const config::Config& cfg) {
      return export_list(redis, cfg, *limit, ctx.global);
    });
  });
  auto id = std::make_shared<std::string>();
  auto* show = parent.add_subcommand("show", "One export task with its progress");
  show->add_option("id", *id, "Task id")->required();
  show->callback([&ctx, id] {
    ctx.exit_code = with_redis(ctx.global, false, [&ctx, id](store::RedisClient& redis, const config::Config& cfg) {
      return export_show(redis, cfg, *id, ctx.global);
    });
  });
}

}  // namespace

void add_export_commands(CLI::App& app, Context& ctx) {
  auto* exp = app.add_subcommand("export", "API key batch export: run, test, cleanup, list, show");
  exp->require_subcommand(1);
  add_run(*exp, ctx);
  add_test(*exp, ctx);
  add_cleanup(*exp, ctx);
  add_list_show(*exp, ctx);
}

}  // namespace crs::cli
