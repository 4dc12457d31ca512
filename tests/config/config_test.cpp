#include <sys/stat.h>

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "support/support.hpp"

namespace crs::config {
namespace {

using test::TempDir;

struct Fixture {
  TempDir dir;
  LoadOptions options;
  Fixture() {
    options.default_config_path = dir.file("config/config.toml");
    options.env_file = dir.file(".env");
    options.environment["DATA_DIR"] = dir.file("data");
  }
  Loaded load() { return config::load(options); }
  void file(const std::string& text) { dir.write("config/config.toml", text); }
};

bool has_error(const Loaded& l, const std::string& needle) {
  for (const auto& e : l.errors)
    if (e.find(needle) != std::string::npos) return true;
  return false;
}

std::string errors_of(const Loaded& l) {
  std::string out;
  for (const auto& e : l.errors) out += e + "\n";
  return out;
}

TEST(ConfigLoader, DefaultsWithoutAnyFile) {
  Fixture f;
  auto l = f.load();
  ASSERT_TRUE(l.ok()) << errors_of(l);
  EXPECT_EQ(l.config.server.port, 3000);
  EXPECT_EQ(l.config.server.host, "0.0.0.0");
  EXPECT_TRUE(l.config.embedded_redis());
  EXPECT_EQ(l.config.loadBalancing.defaultStrategy, "balanced");
  EXPECT_DOUBLE_EQ(l.config.loadBalancing.algorithmWeights.costPriority, 0.4);
  EXPECT_EQ(l.config.apiExport.outputDir, "./temp/exports");
  EXPECT_EQ(l.config.queryOptimizer.cache.prefix, "query_cache:");
  EXPECT_EQ(l.config.queryOptimizer.performance.memoryLimit, 104857600);
  EXPECT_EQ(l.config_path, "");
  EXPECT_EQ(l.origins.at("server.port").source, Source::Default);
  EXPECT_EQ(l.origins.size(), schema().size());
}

TEST(ConfigLoader, FileValuesCarryTheirLine) {
  Fixture f;
  f.file("# comment\n[server]\nport = 4100\n\n[loadBalancing]\ndefaultStrategy = \"least_used\"\n"
         "[loadBalancing.healthCheck]\nsuccessRateThreshold = 0.9\n");
  auto l = f.load();
  ASSERT_TRUE(l.ok()) << errors_of(l);
  EXPECT_EQ(l.config.server.port, 4100);
  EXPECT_EQ(l.config.loadBalancing.defaultStrategy, "least_used");
  EXPECT_DOUBLE_EQ(l.config.loadBalancing.healthCheck.successRateThreshold, 0.9);
  EXPECT_EQ(l.origins.at("server.port").source, Source::File);
  EXPECT_EQ(l.origins.at("server.port").where, f.dir.file("config/config.toml") + ":3");
}

TEST(ConfigLoader, UnknownKeyNamesFileLineAndKey) {
  Fixture f;
  f.file("[server]\nport = 3000\nprot = 3001\n[nosuch]\nx = 1\n");
  auto l = f.load();
  EXPECT_FALSE(l.ok());
  EXPECT_TRUE(has_error(l, f.dir.file("config/config.toml") + ":3: unknown key 'server.prot'")) << errors_of(l);
  EXPECT_TRUE(has_error(l, ":4: unknown key 'nosuch'")) << errors_of(l);
}

TEST(ConfigLoader, WrongTypeIsAnError) {
  Fixture f;
  f.file("[server]\nport = \"3000\"\n[apiExport]\nenabled = 1\nsupportedFormats = \"json\"\n");
  auto l = f.load();
  EXPECT_TRUE(has_error(l, ":2: server.port: expected an integer, got a string")) << errors_of(l);
  EXPECT_TRUE(has_error(l, ":4: apiExport.enabled: expected a boolean, got an integer")) << errors_of(l);
  EXPECT_TRUE(has_error(l, ":5: apiExport.supportedFormats: expected a list of strings")) << errors_of(l);
}

TEST(ConfigLoader, IntegersAreAcceptedForNumbers) {
  Fixture f;
  f.file("[monitoring.metrics]\nmemoryAlertThreshold = 1\n");
  auto l = f.load();
  ASSERT_TRUE(l.ok()) << errors_of(l);
  EXPECT_DOUBLE_EQ(l.config.monitoring.metrics.memoryAlertThreshold, 1.0);
}

TEST(ConfigLoader, OutOfRangeValues) {
  Fixture f;
  f.file("[loadBalancing]\ndefaultStrategy = \"fastest\"\n[loadBalancing.healthCheck]\nerrorRateThreshold = 1.5\n"
         "[server]\nport = 70000\n[apiExport]\nsupportedFormats = [\"json\", \"xml\"]\n");
  auto l = f.load();
  EXPECT_TRUE(has_error(l, ":2: loadBalancing.defaultStrategy: must be one of least_used, least_recent, lowest_cost, "
                           "balanced, weighted_random (got \"fastest\")"))
      << errors_of(l);
  EXPECT_TRUE(has_error(l, ":4: loadBalancing.healthCheck.errorRateThreshold: must be between 0 and 1")) << errors_of(l);
  EXPECT_TRUE(has_error(l, ":6: server.port: must be between 1 and 65535")) << errors_of(l);
  EXPECT_TRUE(has_error(l, ":8: apiExport.supportedFormats: must be one of json, csv, ndjson (got \"xml\")")) << errors_of(l);
}

TEST(ConfigLoader, WeightsMustSumToOne) {
  Fixture f;
  f.file("[loadBalancing.algorithmWeights]\ncostPriority = 0.5\nperformance = 0.3\n");
  auto l = f.load();
  EXPECT_TRUE(has_error(l, "loadBalancing.algorithmWeights: weights must sum to 1 (got 1.100000)")) << errors_of(l);
  EXPECT_TRUE(has_error(l, f.dir.file("config/config.toml") + ":2")) << errors_of(l);

  f.file("[loadBalancing.algorithmWeights]\ncostPriority = 0.25\nperformance = 0.25\nloadBalance = 0.25\n"
         "reliability = 0.25\n");
  EXPECT_TRUE(f.load().ok());
  f.file("[loadBalancing.algorithmWeights]\ncostPriority = -0.1\nperformance = 0.5\nloadBalance = 0.5\n"
         "reliability = 0.1\n");
  EXPECT_TRUE(has_error(f.load(), "costPriority: must be between 0 and 1"));
}

TEST(ConfigLoader, PrecedenceDefaultFileDotEnvEnvironment) {
  Fixture f;
  f.file("[server]\nport = 4000\nhost = \"127.0.0.2\"\n[queryOptimizer.cache]\nttl = 100\n");
  f.dir.write(".env", "# comment\nexport PORT=4001\nQUERY_CACHE_TTL=\"200\"\nUNRELATED=1\n");
  f.options.environment["PORT"] = "4002";
  auto l = f.load();
  ASSERT_TRUE(l.ok()) << errors_of(l);
  EXPECT_EQ(l.config.server.port, 4002);
  EXPECT_EQ(l.origins.at("server.port").source, Source::Env);
  EXPECT_EQ(l.origins.at("server.port").where, "PORT");
  EXPECT_EQ(l.config.queryOptimizer.cache.ttl, 200);
  EXPECT_EQ(l.origins.at("queryOptimizer.cache.ttl").source, Source::DotEnv);
  EXPECT_EQ(l.origins.at("queryOptimizer.cache.ttl").where, f.dir.file(".env") + ":3 (QUERY_CACHE_TTL)");
  EXPECT_EQ(l.config.server.host, "127.0.0.2");
  EXPECT_EQ(l.origins.at("server.host").source, Source::File);
}

TEST(ConfigLoader, GuideEnvironmentVariables) {
  Fixture f;
  auto& env = f.options.environment;
  env["LOAD_BALANCING_ENABLED"] = "false";
  env["LOAD_BALANCING_STRATEGY"] = "lowest_cost";
  env["API_EXPORT_ENABLED"] = "false";
  env["API_EXPORT_OUTPUT_DIR"] = "/var/exports";
  env["QUERY_OPTIMIZER_ENABLED"] = "0";
  env["QUERY_CACHE_ENABLED"] = "no";
  env["QUERY_CACHE_TTL"] = "42";
  env["ENABLE_PERFORMANCE_MONITORING"] = "false";
  env["PERFORMANCE_LOG_LEVEL"] = "warn";
  env["LOG_LEVEL"] = "error";
  env["REDIS_HOST"] = "redis.internal";
  env["REDIS_PORT"] = "6390";
  env["REDIS_PASSWORD"] = "pw-123";
  env["REDIS_DB"] = "2";
  auto l = f.load();
  ASSERT_TRUE(l.ok()) << errors_of(l);
  const auto& c = l.config;
  EXPECT_FALSE(c.loadBalancing.enabled);
  EXPECT_EQ(c.loadBalancing.defaultStrategy, "lowest_cost");
  EXPECT_FALSE(c.apiExport.enabled);
  EXPECT_EQ(c.apiExport.outputDir, "/var/exports");
  EXPECT_FALSE(c.queryOptimizer.enabled);
  EXPECT_FALSE(c.queryOptimizer.cache.enabled);
  EXPECT_EQ(c.queryOptimizer.cache.ttl, 42);
  EXPECT_FALSE(c.monitoring.enabled);
  EXPECT_EQ(c.monitoring.logLevel, "warn");
  EXPECT_EQ(c.logging.level, "error");
  EXPECT_EQ(c.redis.host, "redis.internal");
  EXPECT_EQ(c.redis.port, 6390);
  EXPECT_EQ(c.redis.password, "pw-123");
  EXPECT_EQ(c.redis.db, 2);
  EXPECT_FALSE(c.embedded_redis());
}

TEST(ConfigLoader, DebugTurnsOnDebugLogging) {
  Fixture f;
  f.options.environment["DEBUG"] = "claude-relay:*";
  auto l = f.load();
  EXPECT_EQ(l.config.logging.level, "debug");
  EXPECT_EQ(l.origins.at("logging.level").where, "DEBUG");
  Fixture g;
  g.options.environment["DEBUG"] = "express:*";
  EXPECT_EQ(g.load().config.logging.level, "info");
}

TEST(ConfigLoader, BadEnvironmentValueNamesTheVariable) {
  Fixture f;
  f.options.environment["PORT"] = "abc";
  f.options.environment["LOAD_BALANCING_ENABLED"] = "maybe";
  f.options.environment["REDIS_PASSWORD"] = "";
  auto l = f.load();
  EXPECT_TRUE(has_error(l, "PORT: server.port: expected an integer (got \"abc\")")) << errors_of(l);
  EXPECT_TRUE(has_error(l, "LOAD_BALANCING_ENABLED: loadBalancing.enabled: expected a boolean")) << errors_of(l);
}

TEST(ConfigLoader, SecretsAreValidatedWithoutEchoingThem) {
  Fixture f;
  f.options.environment["ENCRYPTION_KEY"] = "CHANGE-THIS-32-CHARACTER-KEY-NOW";
  f.options.environment["JWT_SECRET"] = "tooshort-secret";
  auto l = f.load();
  EXPECT_TRUE(has_error(l, "ENCRYPTION_KEY: security.encryptionKey: is the example placeholder")) << errors_of(l);
  EXPECT_TRUE(has_error(l, "JWT_SECRET: security.jwtSecret: must be at least 32 characters")) << errors_of(l);
  EXPECT_FALSE(has_error(l, "tooshort-secret"));
}

TEST(ConfigLoader, RedisUrlMustBeRedisScheme) {
  Fixture f;
  f.options.environment["REDIS_URL"] = "http://x";
  EXPECT_TRUE(has_error(f.load(), "REDIS_URL: redis.url: must start with redis://"));
}

TEST(ConfigLoader, SentinelsAreHostAndPortAndMakeRedisExternal) {
  Fixture f;
  f.options.environment["REDIS_SENTINELS"] = "10.0.0.1:26379, [::1]:26380";
  auto ok = f.load();
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.config.redis.sentinels.size(), 2u);
  EXPECT_FALSE(ok.config.embedded_redis());
  f.options.environment["REDIS_SENTINELS"] = "10.0.0.1";
  EXPECT_TRUE(has_error(f.load(), "REDIS_SENTINELS: redis.sentinels: \"10.0.0.1\" is not host:port"));
  f.options.environment["REDIS_SENTINELS"] = "fe80::1:26379";
  EXPECT_TRUE(has_error(f.load(), "write an IPv6 address as [address]:port"));
  f.options.environment["REDIS_SENTINELS"] = "10.0.0.1:99999";
  EXPECT_TRUE(has_error(f.load(), "has an invalid port"));
  f.options.environment["REDIS_SENTINELS"] = "10.0.0.1:26379";
  f.options.environment["REDIS_SENTINEL_NAME"] = "";
  auto named = f.load();
  EXPECT_EQ(named.config.redis.sentinelName, "mymaster") << "an empty variable counts as unset";
}

TEST(ConfigLoader, ExplicitMissingFileIsAnError) {
  Fixture f;
  f.options.config_path = f.dir.file("nope.toml");
  EXPECT_TRUE(has_error(f.load(), "nope.toml: config file not found"));
}

TEST(ConfigLoader, TomlSyntaxErrorNamesTheLine) {
  Fixture f;
  f.file("[server]\nport = 3000\nhost = \n");
  auto l = f.load();
  EXPECT_FALSE(l.ok());
  EXPECT_TRUE(has_error(l, f.dir.file("config/config.toml") + ":3:")) << errors_of(l);
}

TEST(ConfigSecrets, GeneratedOnceAndPersisted0600) {
  Fixture f;
  auto l = f.load();
  ASSERT_TRUE(l.ok());
  auto generated = ensure_secrets(l);
  ASSERT_TRUE(generated.ok()) << generated.error().message;
  EXPECT_EQ(generated->size(), 3u);  // and the embedded Redis's password
  EXPECT_EQ(l.config.redis.embeddedPassword.size(), 32u);
  EXPECT_EQ(l.config.security.encryptionKey.size(), 32u);
  EXPECT_EQ(l.config.security.jwtSecret.size(), 64u);
  struct stat st{};
  ASSERT_EQ(stat(f.dir.file("data/secrets.env").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat(f.dir.file("data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);

  // The next start reads the same values back, marked as generated.
  auto again = f.load();
  ASSERT_TRUE(again.ok()) << errors_of(again);
  EXPECT_EQ(again.config.security.encryptionKey, l.config.security.encryptionKey);
  EXPECT_EQ(again.config.security.jwtSecret, l.config.security.jwtSecret);
  EXPECT_EQ(again.config.redis.embeddedPassword, l.config.redis.embeddedPassword);
  EXPECT_EQ(again.origins.at("security.encryptionKey").source, Source::Generated);
  EXPECT_TRUE(ensure_secrets(again)->empty());

  // An empty variable is unset (compose's `${ENCRYPTION_KEY:-}`): the generated key stays, and
  // no new one is made (it would leave every sealed credential unreadable).
  f.options.environment["ENCRYPTION_KEY"] = "";
  f.options.environment["JWT_SECRET"] = "";
  auto empty_vars = f.load();
  ASSERT_TRUE(empty_vars.ok()) << errors_of(empty_vars);
  EXPECT_EQ(empty_vars.config.security.encryptionKey, l.config.security.encryptionKey);
  EXPECT_EQ(empty_vars.config.security.jwtSecret, l.config.security.jwtSecret);
  EXPECT_TRUE(ensure_secrets(empty_vars)->empty());

  // A configured value wins over the generated one.
  f.options.environment["ENCRYPTION_KEY"] = std::string(32, 'k');
  auto configured = f.load();
  EXPECT_EQ(configured.config.security.encryptionKey, std::string(32, 'k'));
  EXPECT_EQ(configured.origins.at("security.encryptionKey").source, Source::Env);
}

TEST(ConfigExample, ExampleFileIsValidAndCoversEveryKey) {
  Fixture f;
  f.options.config_path = test::source_dir() + "/config/config.example.toml";
  auto l = f.load();
  ASSERT_TRUE(l.ok()) << errors_of(l);
  for (const auto& spec : schema()) {
    if (spec.path == "server.dataDir") continue;  // set by the fixture's environment
    EXPECT_EQ(l.origins.at(spec.path).source, Source::File) << spec.path << " is missing from config.example.toml";
  }
  // The example documents the defaults: loading it changes nothing.
  Fixture d;
  auto defaults = d.load();
  for (const auto& spec : schema()) {
    if (spec.path == "server.dataDir") continue;
    EXPECT_EQ(format_value(spec.get(l.config)), format_value(spec.get(defaults.config))) << spec.path;
  }
}

}  // namespace
}  // namespace crs::config
