// API key export end to end: the real binary on a real redis-server, files read back by
// independent parsers (Python's csv and json modules), the admin API's answers, the CLI, the
// settings of apiExport.*, cleanup, 100,000 keys, and a kill -9 in the middle of an export.
#include <sys/stat.h>
#include <utime.h>

#include <csignal>
#include <fstream>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/crypto.hpp"
#include "integration/bulk_keys.hpp"
#include "support/support.hpp"
#include "usage/usage_reader.hpp"

namespace crs::test {
namespace {
namespace json = boost::json;

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis.start()); }

  void start(const std::string& config = "") {
    if (relay && relay->process().running()) relay->stop();
    dir.write("config/config.toml", config);
    relay = std::make_unique<RelayProcess>(
        dir, std::vector<std::string>{"REDIS_HOST=127.0.0.1", "REDIS_PORT=" + std::to_string(redis.port()),
                                      "ENCRYPTION_KEY=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                                      "JWT_SECRET=jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj"});
    ASSERT_TRUE(relay->start()) << relay->log();
    token.clear();
  }

  std::string admin_token() {
    if (!token.empty()) return token;
    auto init = json::parse(read_file(dir.file("data/init.json"))).as_object();
    json::object login{{"username", init["adminUsername"]}, {"password", init["adminPassword"]}};
    auto r = http_request(relay->port(), "POST", "/web/auth/login", json::serialize(login),
                          {{"content-type", "application/json"}});
    EXPECT_EQ(r.status, 200) << r.body;
    token = std::string(json::parse(r.body).as_object().at("token").as_string());
    return token;
  }

  HttpResponse admin(const std::string& method, const std::string& path, const std::string& body = "",
                     std::chrono::milliseconds timeout = 10s) {
    return http_request(relay->port(), method, path, body,
                        {{"authorization", "Bearer " + admin_token()}, {"content-type", "application/json"}}, timeout);
  }

  struct MadeKey {
    std::string id, plaintext;
  };
  MadeKey make_key(const std::string& name, const std::string& tags = "") {
    std::vector<std::string> args{"keys", "create", "--name", name, "--json"};
    if (!tags.empty()) args.insert(args.end(), {"--tags", tags});
    auto r = relay->cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto o = json::parse(r.out).as_object();
    return {std::string(o.at("id").as_string()), std::string(o.at("key").as_string())};
  }

  // Starts an export; returns its task id.
  std::string start_export(const std::string& request) {
    auto r = admin("POST", "/admin/api-keys/export", request);
    EXPECT_EQ(r.status, 202) << r.body;
    if (r.status != 202) return {};
    EXPECT_FALSE(r.header("location").empty());
    return std::string(json::parse(r.body).as_object().at("data").as_object().at("id").as_string());
  }

  json::object task(const std::string& id) {
    auto r = admin("GET", "/admin/exports/" + id);
    if (r.status != 200) return json::object{{"state", "http " + std::to_string(r.status)}};
    return json::parse(r.body).as_object().at("data").as_object();
  }

  // Waits until the task has ended; returns it.
  json::object finished(const std::string& id, std::chrono::milliseconds timeout = 30s) {
    json::object t;
    EXPECT_TRUE(wait_until([&] {
      t = task(id);
      std::string state(t.at("state").as_string());
      return state != "queued" && state != "running";
    }, timeout, 50ms)) << json::serialize(t);
    return t;
  }

  std::string export_dir() const { return dir.file("temp/exports"); }
  std::string digest_of(const std::string& id) { return redis.cli({"HGET", "apikey:" + id, "apiKey"}); }

  // Python reads the file: prints a JSON summary of what it found.
  json::object python(const std::string& script, const std::string& file) {
    std::string path = dir.file("download.bin");
    std::ofstream(path, std::ios::binary) << file;
    auto r = run_command({"python3", "-c", script, path}, {}, "", 60s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out).as_object();
  }

  TempDir dir;
  RedisServer redis{dir.file("redis")};
  std::unique_ptr<RelayProcess> relay;
  std::string token;
};

const char* kCsvSummary = R"PY(
import csv, json, sys
with open(sys.argv[1], newline='', encoding='utf-8-sig') as f:
    rows = list(csv.reader(f))
print(json.dumps({"header": rows[0], "rows": rows[1:]}))
)PY";

const char* kJsonSummary = R"PY(
import json, sys
with open(sys.argv[1], encoding='utf-8') as f:
    doc = json.load(f)
print(json.dumps({"fields": doc["fields"], "count": doc["count"], "keys": doc["keys"]}))
)PY";

std::vector<std::string> tricky_names() {
  return {"Quote \"q\", comma", "line\nbreak", "Ünïcødé 名前 ✓", "=1+2", "+SUM(1)", "-1", "@A1", "\tTAB", "\rCR"};
}

std::string expected_cell(const std::string& name) {
  return std::string("=+-@\t\r").find(name[0]) != std::string::npos ? "'" + name : name;
}

TEST_F(ExportTest, CsvAndJsonRoundTripThroughIndependentParsersAndHoldNoSecret) {
  start();
  std::vector<MadeKey> made;
  for (const auto& n : tricky_names()) made.push_back(make_key(n, "audit"));
  make_key("not in the export", "other");
  auto add = relay->cli({"accounts", "add", "--type", "claude-console", "--name", "acct", "--base-url",
                         "http://127.0.0.1:9", "--api-key", "sk-ant-api03-export-secret-credential-0000", "--json"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  redis.cli({"HSET", usage::all_time_key(usage::Subject::Key, made[0].id), "totalRequests", "7", "totalCostMicro", "1234567"});

  std::string csv_id = start_export(R"({"format":"csv","fields":["id","name","tags","totalRequests","totalCost"],
                                        "filters":{"tags":["audit"]}})");
  auto t = finished(csv_id);
  ASSERT_EQ(t.at("state").as_string(), "done") << json::serialize(t);
  EXPECT_EQ(t.at("progress").as_object().at("rows").as_int64(), static_cast<int64_t>(made.size()));
  EXPECT_EQ(t.at("progress").as_object().at("batches").as_int64(), 1);  // apiExport.batchSize 100
  auto csv = admin("GET", "/admin/exports/" + csv_id + "/download");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(csv.header("content-disposition"), "attachment; filename=\"keys-" + csv_id + ".csv\"");
  EXPECT_EQ(csv.header("content-length"), std::to_string(csv.body.size()));
  EXPECT_EQ(csv.header("x-content-sha256"), crypto::sha256_hex(csv.body));
  EXPECT_EQ(t.at("sha256").as_string(), crypto::sha256_hex(csv.body));

  auto parsed = python(kCsvSummary, csv.body);
  EXPECT_EQ(json::serialize(parsed.at("header")), R"(["id","name","tags","totalRequests","totalCost"])");
  std::multiset<std::string> names;
  for (const auto& row : parsed.at("rows").as_array()) {
    const auto& cells = row.as_array();
    names.insert(std::string(cells.at(1).as_string()));
    EXPECT_EQ(cells.at(2).as_string(), R"(["audit"])");
    if (cells.at(1).as_string() == tricky_names()[0]) {
      EXPECT_EQ(cells.at(3).as_string(), "7");
      EXPECT_EQ(cells.at(4).as_string(), "1.234567");
    }
  }
  std::multiset<std::string> expected;
  for (const auto& n : tricky_names()) expected.insert(expected_cell(n));
  EXPECT_EQ(names, expected);

  std::string json_id = start_export(R"({"format":"json","filters":{"tags":["audit"]},"usage":{"totals":true}})");
  ASSERT_EQ(finished(json_id).at("state").as_string(), "done");
  auto doc = admin("GET", "/admin/exports/" + json_id + "/download");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.header("content-type"), "application/json");
  auto read = python(kJsonSummary, doc.body);
  EXPECT_EQ(read.at("count").as_int64(), static_cast<int64_t>(made.size()));
  std::multiset<std::string> json_names;
  for (const auto& k : read.at("keys").as_array()) json_names.insert(std::string(k.as_object().at("name").as_string()));
  auto all_names = tricky_names();
  EXPECT_EQ(json_names, std::multiset<std::string>(all_names.begin(), all_names.end()));

  // Sanitized: no plaintext, no digest, no full id, no upstream credential, in either file.
  for (const auto& body : {csv.body, doc.body}) {
    EXPECT_EQ(body.find("sk-ant-api03-export-secret-credential"), std::string::npos);
    for (const auto& k : made) {
      EXPECT_EQ(body.find(k.plaintext), std::string::npos);
      EXPECT_EQ(body.find(digest_of(k.id)), std::string::npos);
      EXPECT_EQ(body.find(k.id), std::string::npos);
    }
  }
  struct stat file {}, folder {};
  ASSERT_EQ(::stat((export_dir() + "/keys-" + csv_id + ".csv").c_str(), &file), 0);
  ASSERT_EQ(::stat(export_dir().c_str(), &folder), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600);
  EXPECT_EQ(folder.st_mode & 0777, 0700);
  // Every export is a line in the export log, without a secret.
  ASSERT_TRUE(wait_until([&] { return read_file(dir.file("logs/api-export.log")).find(json_id) != std::string::npos; }));
  std::string log = read_file(dir.file("logs/api-export.log"));
  EXPECT_NE(log.find("export " + csv_id + " done"), std::string::npos);
  EXPECT_NE(log.find("sha256 " + crypto::sha256_hex(csv.body)), std::string::npos);
  for (const auto& k : made) EXPECT_EQ(log.find(k.plaintext), std::string::npos);
}

TEST_F(ExportTest, UnsanitizedNeedsAskingAndNeverHoldsPlaintext) {
  start();
  auto k = make_key("full");
  auto refused = admin("POST", "/admin/api-keys/export", R"({"fields":["id","keyHash"]})");
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("sanitize"), std::string::npos);
  std::string id = start_export(R"({"format":"ndjson","fields":["id","name","keyHash"],"sanitize":false})");
  ASSERT_EQ(finished(id).at("state").as_string(), "done");
  auto body = admin("GET", "/admin/exports/" + id + "/download").body;
  auto row = json::parse(body.substr(0, body.find('\n'))).as_object();
  EXPECT_EQ(row.at("id").as_string(), k.id);
  EXPECT_EQ(row.at("keyHash").as_string(), digest_of(k.id));
  EXPECT_EQ(body.find(k.plaintext), std::string::npos);
  EXPECT_TRUE(wait_until([&] { return read_file(dir.file("logs/api-export.log")).find("NOT sanitized") != std::string::npos; }));
}

TEST_F(ExportTest, BadRequestsAndForeignPathsGetClearRefusals) {
  start("[apiExport]\nsupportedFormats = [\"csv\", \"json\"]\n");
  make_key("one");
  auto expect_error = [&](const std::string& request, int status, const std::string& words) {
    auto r = admin("POST", "/admin/api-keys/export", request);
    EXPECT_EQ(r.status, status) << request << " -> " << r.body;
    EXPECT_NE(r.body.find(words), std::string::npos) << r.body;
  };
  expect_error(R"({"format":"ndjson"})", 400, "apiExport.supportedFormats");
  expect_error(R"({"format":"xml"})", 400, "format: one of csv, json");
  expect_error(R"({"fields":["name","secret"]})", 400, "unknown field");
  expect_error(R"({"filters":{"owner":"me"}})", 400, "unknown filter");
  expect_error("[1,2]", 400, "JSON object");

  auto anonymous = http_request(relay->port(), "POST", "/admin/api-keys/export", "{}", {{"content-type", "application/json"}});
  EXPECT_EQ(anonymous.status, 401);
  std::string id = start_export(R"({"format":"csv"})");
  ASSERT_EQ(finished(id).at("state").as_string(), "done");
  EXPECT_EQ(http_get(relay->port(), "/admin/exports/" + id + "/download").status, 401);
  EXPECT_EQ(http_get(relay->port(), "/admin/exports").status, 401);

  // Unknown tasks are not found; a path with an escaped separator or a dot segment is refused
  // before any route sees it (smuggling_test.cpp).
  for (const std::string& path : std::vector<std::string>{
           "/admin/exports/00000000-0000-4000-8000-000000000000", "/admin/exports/00000000-0000-4000-8000-000000000000/download",
           "/admin/exports/keys-" + id + ".csv/download", "/admin/exports/..%2F..%2F..%2Fetc%2Fpasswd/download",
           "/admin/exports/" + id + "%2F..%2F..%2Fconfig/download", "/admin/exports/%2e%2e/download"}) {
    auto r = admin("GET", path);
    EXPECT_EQ(r.status, path.find('%') == std::string::npos ? 404 : 400) << path << " " << r.body;
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
  }
  // A task whose file is replaced by a link is not followed.
  std::string link_id = start_export(R"({"format":"csv"})");
  ASSERT_EQ(finished(link_id).at("state").as_string(), "done");
  std::string file = export_dir() + "/keys-" + link_id + ".csv";
  ASSERT_EQ(::unlink(file.c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", file.c_str()), 0);
  EXPECT_EQ(admin("GET", "/admin/exports/" + link_id + "/download").status, 404);

  // Deleting a finished export removes its file and its task.
  ASSERT_EQ(admin("DELETE", "/admin/exports/" + id).status, 200);
  EXPECT_FALSE(std::ifstream(export_dir() + "/keys-" + id + ".csv").good());
  EXPECT_EQ(admin("GET", "/admin/exports/" + id).status, 404);
  EXPECT_EQ(admin("GET", "/admin/exports/" + id + "/download").status, 404);
  EXPECT_EQ(admin("DELETE", "/admin/exports/" + id).status, 404);
}

TEST_F(ExportTest, ARedisErrorFailsTheExportInsteadOfLeavingRowsOut) {
  start();
  auto k = make_key("usage stored wrongly");
  // HGETALL on a string is a WRONGTYPE error reply: the export must fail, not count zero.
  redis.cli({"SET", usage::all_time_key(usage::Subject::Key, k.id), "not a hash"});
  std::string id = start_export(R"({"format":"csv","usage":{"totals":true}})");
  auto t = finished(id);
  EXPECT_EQ(t.at("state").as_string(), "failed") << json::serialize(t);
  EXPECT_NE(std::string(t.at("error").as_string()).find("WRONGTYPE"), std::string::npos) << json::serialize(t);
  EXPECT_EQ(run_command({"ls", "-A", export_dir()}).out, "");
  // Without usage the same key exports.
  EXPECT_EQ(finished(start_export(R"({"format":"csv"})")).at("state").as_string(), "done");
}

TEST_F(ExportTest, HeadOfADownloadIsItsHeaderAlone) {
  start();
  make_key("head");
  std::string id = start_export(R"({"format":"json"})");
  auto t = finished(id);
  ASSERT_EQ(t.at("state").as_string(), "done");
  std::string auth = "Authorization: Bearer " + admin_token() + "\r\n";
  std::string both = "HEAD /admin/exports/" + id + "/download HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n" +
                     "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string out = raw_exchange(relay->port(), both);
  EXPECT_NE(out.find("Content-Length: " + std::to_string(t.at("size").as_int64())), std::string::npos) << out;
  EXPECT_EQ(out.find("\"taskId\""), std::string::npos) << out;  // no body
  auto second = out.find("\r\n\r\nHTTP/1.1 ");
  ASSERT_NE(second, std::string::npos) << out;  // the next answer follows the header at once
  EXPECT_NE(out.find("\"status\""), std::string::npos);
}

TEST_F(ExportTest, SettingsChangeWhatTheExportDoes) {
  start("[apiExport]\nbatchSize = 7\nsanitizeData = false\noutputDir = \"custom/out\"\n");
  std::vector<MadeKey> made;
  for (int i = 0; i < 20; ++i) made.push_back(make_key(fmt::format("k{}", i)));
  auto hash_unasked = admin("POST", "/admin/api-keys/export", R"({"fields":["id","keyHash"]})");
  EXPECT_EQ(hash_unasked.status, 400) << hash_unasked.body;  // the hash needs "sanitize": false in the request
  std::string id = start_export(R"({"format":"json","fields":["id","name"]})");
  auto t = finished(id);
  ASSERT_EQ(t.at("state").as_string(), "done") << json::serialize(t);
  EXPECT_EQ(t.at("progress").as_object().at("batches").as_int64(), 3);  // 20 keys, 7 a batch
  EXPECT_FALSE(t.at("sanitized").as_bool());
  EXPECT_TRUE(std::ifstream(dir.file("custom/out/keys-" + id + ".json")).good());
  auto doc = json::parse(admin("GET", "/admin/exports/" + id + "/download").body).as_object();
  EXPECT_EQ(doc.at("keys").as_array().at(0).as_object().at("id").as_string(), made[0].id);

  start("[apiExport]\nenabled = false\n");
  auto off = admin("POST", "/admin/api-keys/export", "{}");
  EXPECT_EQ(off.status, 404);
  EXPECT_NE(off.body.find("apiExport.enabled"), std::string::npos);
  auto cli = relay->cli({"export", "run", "--format", "csv", "--out", dir.file("x.csv")});
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_NE(cli.err.find("disabled"), std::string::npos);
}

TEST_F(ExportTest, AnOutputDirectoryOthersCanEnterIsRefused) {
  ASSERT_EQ(::mkdir(dir.file("open").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.file("open").c_str(), 0755), 0);
  start("[apiExport]\noutputDir = \"open\"\n");
  auto r = admin("POST", "/admin/api-keys/export", "{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("mode 0755"), std::string::npos) << r.body;
  EXPECT_NE(relay->log().find("chmod 700"), std::string::npos);
  EXPECT_NE(relay->cli({"export", "run", "--out", dir.file("x.csv")}).err.find("mode 0755"), std::string::npos);
  auto check = relay->cli({"config", "check"});
  EXPECT_EQ(check.exit_code, 0);  // the relay serves; only exports are refused
  EXPECT_NE(check.err.find("warning: apiExport.outputDir"), std::string::npos) << check.err;

  ASSERT_EQ(::mkdir(dir.file("foreign").c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir.file("foreign").c_str(), 65534, 65534), 0);
  start("[apiExport]\noutputDir = \"foreign\"\n");
  auto foreign = admin("POST", "/admin/api-keys/export", "{}");
  EXPECT_EQ(foreign.status, 503);
  EXPECT_NE(foreign.body.find("belongs to uid 65534"), std::string::npos) << foreign.body;
}

void age(const std::string& path, std::chrono::hours by) {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - by);
  utimbuf times{t, t};
  ASSERT_EQ(::utime(path.c_str(), &times), 0) << path;
}

TEST_F(ExportTest, CleanupRemovesExactlyTheExpiredFilesAndTheirTasks) {
  start("[apiExport.autoCleanup]\nmaxAgeHours = 2\n");
  make_key("one");
  std::string old_id = start_export(R"({"format":"csv"})");
  std::string fresh_id = start_export(R"({"format":"csv"})");
  ASSERT_EQ(finished(old_id).at("state").as_string(), "done");
  ASSERT_EQ(finished(fresh_id).at("state").as_string(), "done");
  std::string old_file = export_dir() + "/keys-" + old_id + ".csv", fresh_file = export_dir() + "/keys-" + fresh_id + ".csv";
  std::string stray = export_dir() + "/.keys-" + crypto::uuid_v4() + ".csv.tmp";
  std::string other = export_dir() + "/notes.txt";
  std::ofstream(stray) << "half";
  std::ofstream(other) << "mine";
  age(old_file, std::chrono::hours(3));
  age(other, std::chrono::hours(30));
  // A finished file whose task is gone: no one can serve or expire it, so it goes, whatever its age.
  std::string orphan_id = start_export(R"({"format":"csv"})");
  ASSERT_EQ(finished(orphan_id).at("state").as_string(), "done");
  redis.cli({"DEL", "export:task:" + orphan_id});
  std::string orphan = export_dir() + "/keys-" + orphan_id + ".csv";
  // A task left running by a dead instance (its lease long over) with its temporary file.
  std::string dead_id = crypto::uuid_v4();
  redis.cli({"HSET", "export:task:" + dead_id, "id", dead_id, "state", "running", "format", "csv", "leaseUntil", "1000"});
  std::string dead_temp = export_dir() + "/.keys-" + dead_id + ".csv.tmp";
  std::ofstream(dead_temp) << "half";

  auto dry = relay->cli({"export", "cleanup", "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(json::parse(dry.out).as_object().at("removed").as_array().size(), 4u) << dry.out;
  EXPECT_TRUE(std::ifstream(old_file).good());
  EXPECT_TRUE(std::ifstream(stray).good());
  EXPECT_TRUE(std::ifstream(orphan).good());
  EXPECT_TRUE(std::ifstream(dead_temp).good());
  EXPECT_EQ(redis.cli({"HGET", "export:task:" + dead_id, "state"}), "running");  // a dry run changes nothing

  auto kept_at_four = relay->cli({"export", "cleanup", "--max-age", "4", "--json"});
  EXPECT_EQ(json::parse(kept_at_four.out).as_object().at("expiredTasks").as_array().size(), 0u) << kept_at_four.out;
  EXPECT_TRUE(std::ifstream(old_file).good());

  auto done = relay->cli({"export", "cleanup"});  // maxAgeHours = 2 from the configuration
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_FALSE(std::ifstream(old_file).good());
  EXPECT_FALSE(std::ifstream(stray).good());
  EXPECT_FALSE(std::ifstream(orphan).good());
  EXPECT_FALSE(std::ifstream(dead_temp).good());
  EXPECT_EQ(redis.cli({"HGET", "export:task:" + dead_id, "state"}), "failed");
  EXPECT_TRUE(std::ifstream(fresh_file).good());
  EXPECT_TRUE(std::ifstream(other).good());
  EXPECT_EQ(task(old_id).at("state").as_string(), "expired");
  EXPECT_EQ(task(fresh_id).at("state").as_string(), "done");
  EXPECT_EQ(admin("GET", "/admin/exports/" + old_id + "/download").status, 404);

  // The service's own cleanup runs at start and then every checkInterval hours, if enabled.
  age(fresh_file, std::chrono::hours(3));
  start("[apiExport.autoCleanup]\nenabled = false\nmaxAgeHours = 2\n");
  auto listing = json::parse(admin("GET", "/admin/exports").body).as_object().at("data").as_object();
  EXPECT_FALSE(listing.at("cleanup").as_object().at("enabled").as_bool());
  EXPECT_TRUE(std::ifstream(fresh_file).good());
  start("[apiExport.autoCleanup]\nmaxAgeHours = 2\ncheckInterval = 5\n");
  ASSERT_TRUE(wait_until([&] { return !std::ifstream(fresh_file).good(); }));
  EXPECT_EQ(task(fresh_id).at("state").as_string(), "expired");
  json::object cleanup;
  ASSERT_TRUE(wait_until([&] {
    cleanup = json::parse(admin("GET", "/admin/exports").body).as_object().at("data").as_object().at("cleanup").as_object();
    return cleanup.at("nextRunAt").is_string();
  }));
  EXPECT_EQ(cleanup.at("checkIntervalHours").as_int64(), 5);
  EXPECT_EQ(cleanup.at("lastRemoved").as_int64(), 1);
  auto hour = [](const json::value& v) { return std::stoi(std::string(v.as_string()).substr(11, 2)); };
  EXPECT_EQ((hour(cleanup.at("nextRunAt")) - hour(cleanup.at("lastRunAt")) + 24) % 24, 5);
}

TEST_F(ExportTest, CliRunTestListAndShow) {
  start();
  make_key("cli, \"quoted\"");
  auto run = relay->cli({"export", "run", "--format", "csv", "--usage-totals", "--out", dir.file("mine.csv"), "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto summary = json::parse(run.out).as_object();
  std::string written = read_file(dir.file("mine.csv"));
  EXPECT_EQ(summary.at("sha256").as_string(), crypto::sha256_hex(written));
  EXPECT_NE(run.err.find("1/1 keys scanned"), std::string::npos) << run.err;  // progress lines off a terminal
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("mine.csv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_NE(written.find("\"cli, \"\"quoted\"\"\""), std::string::npos);

  for (const char* format : {"json", "csv", "ndjson"}) {
    auto test = relay->cli({"export", "test", "--format", format});
    EXPECT_EQ(test.exit_code, 0) << test.out << test.err;
    EXPECT_NE(test.out.find("export test: PASS"), std::string::npos) << test.out;
  }
  EXPECT_EQ(redis.cli({"ZCARD", "apikey:idx:createdAt"}), "1");  // the scratch keys are gone

  auto list = relay->cli({"export", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_EQ(json::parse(list.out).as_array().size(), 1u);  // the test's tasks are removed too
  std::string id(summary.at("id").as_string());
  auto show = relay->cli({"export", "show", id});
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find("sha256 " + crypto::sha256_hex(written)), std::string::npos) << show.out;
  EXPECT_NE(relay->cli({"export", "show", "nope"}).exit_code, 0);
}

TEST_F(ExportTest, CancellingARunningExportLeavesNoFile) {
  start("[apiExport]\nbatchSize = 1\n");
  for (int i = 0; i < 40; ++i) make_key(fmt::format("k{}", i));
  // A year of daily usage per key makes each one-key batch slow enough to cancel mid-way.
  std::string id = start_export(R"({"format":"csv","usage":{"period":"day","from":"2026-01-01","to":"2026-12-31"}})");
  ASSERT_TRUE(wait_until([&] { return task(id).at("state").as_string() == "running"; }, 10s, 5ms));
  auto r = admin("DELETE", "/admin/exports/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  auto t = finished(id);
  EXPECT_EQ(t.at("state").as_string(), "cancelled");
  EXPECT_LT(t.at("progress").as_object().at("scanned").as_int64(), 40);
  ASSERT_TRUE(wait_until([&] {
    auto files = run_command({"ls", "-A", export_dir()});
    return files.out.empty();
  })) << run_command({"ls", "-A", export_dir()}).out;
}

// ---- 100,000 keys ----

int64_t status_kb(int pid, const std::string& field) {
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find(field + ":");
  return at == std::string::npos ? 0 : std::atoll(status.c_str() + at + field.size() + 1);
}

const char* kCsvIds = R"PY(
import csv, json, sys
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    rows = list(csv.reader(f))
print(json.dumps({"header": rows[0], "ids": [r[0] for r in rows[1:]], "names_ok": all(r[1] == "key %d, \"n\"" % i for i, r in enumerate(rows[1:])),
                  "requests": sum(int(r[2]) for r in rows[1:])}))
)PY";

TEST_F(ExportTest, OneHundredThousandKeysInBoundedMemory) {
  start();
  auto ids = populate(redis, dir, 100000);
  int64_t expected_requests = 0;
  for (int i = 0; i < 100000; i += 3) expected_requests += i % 97 + 1;
  int pid = relay->process().pid();
  for (const char* format : {"csv", "json"}) {
    int64_t rss_before = status_kb(pid, "VmRSS");
    auto began = std::chrono::steady_clock::now();
    std::string id = start_export(fmt::format(R"({{"format":"{}","fields":["id","name","totalRequests"],"sanitize":false}})", format));
    auto t = finished(id, 90s);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    ASSERT_EQ(t.at("state").as_string(), "done") << json::serialize(t);
    int64_t growth_kb = status_kb(pid, "VmHWM") - rss_before;  // an upper bound of the export's peak
    std::cout << "[ export ] 100000 keys as " << format << ": " << took.count() << " ms, " << t.at("size").as_int64()
              << " bytes, peak RSS growth at most " << growth_kb / 1024 << " MB\n";
#ifndef __SANITIZE_ADDRESS__  // ASan keeps freed memory in quarantine (256 MB): RSS tells nothing there
    EXPECT_LT(growth_kb, 64 * 1024);
#endif
    auto download = admin("GET", "/admin/exports/" + id + "/download", "", 60s);
    ASSERT_EQ(download.status, 200);
    EXPECT_EQ(crypto::sha256_hex(download.body), t.at("sha256").as_string());
    EXPECT_EQ(download.header("x-content-sha256"), t.at("sha256").as_string());
    if (std::string(format) == "csv") {
      auto read = python(kCsvIds, download.body);
      EXPECT_EQ(json::serialize(read.at("header")), R"(["id","name","totalRequests"])");
      EXPECT_TRUE(read.at("names_ok").as_bool());
      EXPECT_EQ(read.at("requests").as_int64(), expected_requests);
      const auto& got = read.at("ids").as_array();
      ASSERT_EQ(got.size(), ids.size());
      for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(got[i].as_string(), ids[i]) << i;
    } else {
      auto read = python(kJsonSummary, download.body);
      EXPECT_EQ(read.at("count").as_int64(), 100000);
      EXPECT_EQ(read.at("keys").as_array().size(), 100000u);
      EXPECT_EQ(read.at("keys").as_array().at(99999).as_object().at("id").as_string(), ids.back());
    }
  }
}

TEST_F(ExportTest, KillNineMidExportLeavesNoVisibleFileAndTheTaskFails) {
  start("[apiExport]\nbatchSize = 10\n");
  populate(redis, dir, 100000);
  std::string id = start_export(R"({"format":"csv","usage":{"totals":true}})");
  ASSERT_TRUE(wait_until([&] { return task(id).at("progress").as_object().at("scanned").as_int64() > 0; }, 20s));
  relay->process().send_signal(SIGKILL);
  relay->process().wait_for(5s);
  std::string temp = export_dir() + "/.keys-" + id + ".csv.tmp";
  EXPECT_TRUE(std::ifstream(temp).good());
  EXPECT_FALSE(std::ifstream(export_dir() + "/keys-" + id + ".csv").good());

  start("[apiExport]\nbatchSize = 10\n");
  json::object t;
  // The lease (20 s) runs out; the first reader after that fails the task and removes its file.
  ASSERT_TRUE(wait_until([&] {
    t = task(id);
    return t.at("state").as_string() == "failed";
  }, 40s, 500ms)) << json::serialize(t);
  EXPECT_NE(std::string(t.at("error").as_string()).find("stopped"), std::string::npos);
  EXPECT_FALSE(std::ifstream(temp).good());
  EXPECT_FALSE(std::ifstream(export_dir() + "/keys-" + id + ".csv").good());
  EXPECT_EQ(admin("GET", "/admin/exports/" + id + "/download").status, 404);
}

}  // namespace
}  // namespace crs::test
