#include "config/schema.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace crs::config {
namespace {

template <class T>
constexpr ValueType type_of() {
  if constexpr (std::is_same_v<T, bool>) return ValueType::Bool;
  else if constexpr (std::is_integral_v<T>) return ValueType::Int;
  else if constexpr (std::is_floating_point_v<T>) return ValueType::Double;
  else if constexpr (std::is_same_v<T, std::string>) return ValueType::String;
  else return ValueType::StringList;
}

template <class Access>
KeySpec& add(std::vector<KeySpec>& out, std::string path, Access access) {
  using T = std::remove_cvref_t<decltype(access(std::declval<Config&>()))>;
  KeySpec spec;
  spec.path = std::move(path);
  spec.type = type_of<T>();
  spec.get = [access](const Config& c) -> Value {
    const T& v = access(const_cast<Config&>(c));
    if constexpr (std::is_same_v<T, bool>) return v;
    else if constexpr (std::is_integral_v<T>) return static_cast<int64_t>(v);
    else return v;
  };
  spec.set = [access](Config& c, const Value& v) {
    if constexpr (std::is_same_v<T, bool>) access(c) = std::get<bool>(v);
    else if constexpr (std::is_integral_v<T>) access(c) = static_cast<T>(std::get<int64_t>(v));
    else if constexpr (std::is_floating_point_v<T>) access(c) = std::get<double>(v);
    else if constexpr (std::is_same_v<T, std::string>) access(c) = std::get<std::string>(v);
    else access(c) = std::get<std::vector<std::string>>(v);
  };
  out.push_back(std::move(spec));
  return out.back();
}

#define CRS_FIELD(member) [](Config& c) -> auto& { return c.member; }

const std::vector<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};

// What a running relay takes on SIGHUP: every reader of these keys reads the live view
// (config/live_config.hpp) or is told. Everything else is built into sockets, threads, stores and
// caches at start, and is reported by name as needing a restart.
void mark_live(std::vector<KeySpec>& keys) {
  static const std::vector<std::string_view> live{
      "logging.level", "logging.loadBalancing.level", "logging.apiExport.level",
      "relay.maxAttempts", "relay.connectTimeout", "relay.firstByteTimeout", "relay.idleTimeout",
      "relay.requestTimeout",
      "relay.admitWhenRedisDown",
      "loadBalancing.defaultStrategy", "loadBalancing.selectionTimeout", "loadBalancing.maxWaiting",
      "loadBalancing.pauseAtUtilization", "loadBalancing.stickyTtl", "loadBalancing.stickyMaxTtfb",
      "loadBalancing.healthCheck.", "loadBalancing.failureRecovery.", "loadBalancing.algorithmWeights.",
      "monitoring.alerts.", "monitoring.metrics.memoryAlertThreshold"};
  for (auto& key : keys)
    for (auto prefix : live)
      if (prefix.ends_with('.') ? key.path.starts_with(prefix) : key.path == prefix) key.live = true;
}

std::string path_of(const char* prefix, const char* name) { return std::string(prefix) + name; }

void add_server_keys(std::vector<KeySpec>& s) {
  add(s, "server.host", CRS_FIELD(server.host)).from_env({"HOST"});
  add(s, "server.port", CRS_FIELD(server.port)).from_env({"PORT"}).range(1, 65535);
  add(s, "server.workers", CRS_FIELD(server.workers)).from_env({"WORKERS"}).range(0, 256);
  add(s, "server.dataDir", CRS_FIELD(server.dataDir)).from_env({"DATA_DIR"});
  add(s, "server.gracePeriod", CRS_FIELD(server.gracePeriod)).from_env({"SHUTDOWN_GRACE_PERIOD"}).range(0, 3600);
  add(s, "server.maxHeaderBytes", CRS_FIELD(server.maxHeaderBytes)).range(1024, 1048576);
  add(s, "server.maxBodyBytes", CRS_FIELD(server.maxBodyBytes)).range(1024, 1073741824.0);
  add(s, "server.maxBodyBytesInFlight", CRS_FIELD(server.maxBodyBytesInFlight)).range(65536, 68719476736.0);
  add(s, "server.keepAliveTimeout", CRS_FIELD(server.keepAliveTimeout)).range(1, 3600);
  add(s, "server.requestReadTimeout", CRS_FIELD(server.requestReadTimeout)).range(1, 3600);
  add(s, "server.writeTimeout", CRS_FIELD(server.writeTimeout)).range(1, 3600);
  add(s, "server.trustedProxies", CRS_FIELD(server.trustedProxies)).from_env({"TRUSTED_PROXIES"});
}

void add_relay_keys(std::vector<KeySpec>& s) {
  add(s, "relay.maxAttempts", CRS_FIELD(relay.maxAttempts)).from_env({"RELAY_MAX_ATTEMPTS"}).range(1, 20);
  add(s, "relay.connectTimeout", CRS_FIELD(relay.connectTimeout)).range(100, 600000);
  add(s, "relay.firstByteTimeout", CRS_FIELD(relay.firstByteTimeout)).range(100, 3600000);
  add(s, "relay.idleTimeout", CRS_FIELD(relay.idleTimeout)).range(100, 3600000);
  add(s, "relay.requestTimeout", CRS_FIELD(relay.requestTimeout)).from_env({"REQUEST_TIMEOUT"}).range(1000, 86400000);
  add(s, "relay.caFile", CRS_FIELD(relay.caFile)).from_env({"UPSTREAM_CA_FILE"});
  add(s, "relay.concurrencyLeaseTtl", CRS_FIELD(relay.concurrencyLeaseTtl)).range(3, 3600);
  add(s, "relay.admitWhenRedisDown", CRS_FIELD(relay.admitWhenRedisDown)).from_env({"ADMIT_WHEN_REDIS_DOWN"});
}

void add_oauth_keys(std::vector<KeySpec>& s) {
  add(s, "oauth.tokenUrl", CRS_FIELD(oauth.tokenUrl)).from_env({"CLAUDE_OAUTH_TOKEN_URL"});
  add(s, "oauth.authorizeUrl", CRS_FIELD(oauth.authorizeUrl));
  add(s, "oauth.redirectUri", CRS_FIELD(oauth.redirectUri));
  add(s, "oauth.clientId", CRS_FIELD(oauth.clientId));
  add(s, "oauth.scopes", CRS_FIELD(oauth.scopes));
  add(s, "oauth.apiBaseUrl", CRS_FIELD(oauth.apiBaseUrl)).from_env({"CLAUDE_API_BASE_URL"});
  add(s, "oauth.refreshBeforeExpiry", CRS_FIELD(oauth.refreshBeforeExpiry)).range(0, 86400);
}

void add_usage_keys(std::vector<KeySpec>& s) {
  add(s, "usage.pricingFile", CRS_FIELD(usage.pricingFile)).from_env({"PRICING_FILE"});
  add(s, "usage.timezoneOffset", CRS_FIELD(usage.timezoneOffset)).from_env({"TIMEZONE_OFFSET"}).range(-12, 14);
  add(s, "usage.recordsPerKey", CRS_FIELD(usage.recordsPerKey)).range(0, 100000);
  add(s, "usage.hourlyRetentionDays", CRS_FIELD(usage.hourlyRetentionDays)).range(1, 3650);
  add(s, "usage.batchMs", CRS_FIELD(usage.batchMs)).from_env({"USAGE_BATCH_MS"}).range(0, 60000);
  add(s, "usage.batchRecords", CRS_FIELD(usage.batchRecords)).from_env({"USAGE_BATCH_RECORDS"}).range(1, 4096);
}

void add_redis_keys(std::vector<KeySpec>& s) {
  add(s, "redis.host", CRS_FIELD(redis.host)).from_env({"REDIS_HOST"});
  add(s, "redis.port", CRS_FIELD(redis.port)).from_env({"REDIS_PORT"}).range(1, 65535);
  add(s, "redis.password", CRS_FIELD(redis.password)).from_env({"REDIS_PASSWORD"}).is_secret();
  add(s, "redis.db", CRS_FIELD(redis.db)).from_env({"REDIS_DB"}).range(0, 1000000);
  add(s, "redis.url", CRS_FIELD(redis.url)).from_env({"REDIS_URL"}).is_secret();
  add(s, "redis.username", CRS_FIELD(redis.username)).from_env({"REDIS_USERNAME"});
  add(s, "redis.sentinels", CRS_FIELD(redis.sentinels)).from_env({"REDIS_SENTINELS"});
  add(s, "redis.sentinelName", CRS_FIELD(redis.sentinelName)).from_env({"REDIS_SENTINEL_NAME"});
  add(s, "redis.sentinelPassword", CRS_FIELD(redis.sentinelPassword)).from_env({"REDIS_SENTINEL_PASSWORD"}).is_secret();
  add(s, "redis.tls", CRS_FIELD(redis.tls)).from_env({"REDIS_TLS"});
  add(s, "redis.tlsCaFile", CRS_FIELD(redis.tlsCaFile)).from_env({"REDIS_TLS_CA_FILE"});
  add(s, "redis.tlsCertFile", CRS_FIELD(redis.tlsCertFile)).from_env({"REDIS_TLS_CERT_FILE"});
  add(s, "redis.tlsKeyFile", CRS_FIELD(redis.tlsKeyFile)).from_env({"REDIS_TLS_KEY_FILE"});
  add(s, "redis.connectTimeout", CRS_FIELD(redis.connectTimeout)).range(10, 600000);
  add(s, "redis.commandTimeout", CRS_FIELD(redis.commandTimeout)).range(10, 600000);
  add(s, "redis.embeddedPort", CRS_FIELD(redis.embeddedPort)).from_env({"REDIS_EMBEDDED_PORT"}).range(1, 65535);
  add(s, "redis.embeddedBinary", CRS_FIELD(redis.embeddedBinary)).from_env({"REDIS_SERVER_BINARY"});
}

void add_admin_keys(std::vector<KeySpec>& s) {
  add(s, "admin.username", CRS_FIELD(admin.username)).from_env({"ADMIN_USERNAME"});
  add(s, "admin.password", CRS_FIELD(admin.password)).from_env({"ADMIN_PASSWORD"}).is_secret();
  add(s, "admin.sessionTtl", CRS_FIELD(admin.sessionTtl)).from_env({"ADMIN_SESSION_TTL"}).range(60, 30 * 86400);
  add(s, "admin.loginFailuresPerIp", CRS_FIELD(admin.loginFailuresPerIp)).range(1, 1000000);
  add(s, "admin.loginFailuresPerUser", CRS_FIELD(admin.loginFailuresPerUser)).range(1, 1000000);
  add(s, "admin.loginLockout", CRS_FIELD(admin.loginLockout)).range(1, 86400);
}

void add_security_keys(std::vector<KeySpec>& s) {
  add(s, "security.jwtSecret", CRS_FIELD(security.jwtSecret)).from_env({"JWT_SECRET"}).is_secret();
  add(s, "security.encryptionKey", CRS_FIELD(security.encryptionKey)).from_env({"ENCRYPTION_KEY"}).is_secret();
  add(s, "security.apiKeyPrefix", CRS_FIELD(security.apiKeyPrefix)).from_env({"API_KEY_PREFIX"});
}

void add_load_balancing_keys(std::vector<KeySpec>& s) {
  const char* lb = "loadBalancing.";
  add(s, path_of(lb, "enabled"), CRS_FIELD(loadBalancing.enabled)).from_env({"LOAD_BALANCING_ENABLED"});
  add(s, path_of(lb, "defaultStrategy"), CRS_FIELD(loadBalancing.defaultStrategy))
      .from_env({"LOAD_BALANCING_STRATEGY"})
      .one_of({"least_used", "least_recent", "lowest_cost", "balanced", "weighted_random"});
  add(s, path_of(lb, "selectionTimeout"), CRS_FIELD(loadBalancing.selectionTimeout))
      .from_env({"LOAD_BALANCING_SELECTION_TIMEOUT"}).range(1, 600000);
  add(s, path_of(lb, "maxWaiting"), CRS_FIELD(loadBalancing.maxWaiting))
      .from_env({"LOAD_BALANCING_MAX_WAITING"}).range(0, 100000);
  add(s, path_of(lb, "pauseAtUtilization"), CRS_FIELD(loadBalancing.pauseAtUtilization))
      .from_env({"LOAD_BALANCING_PAUSE_AT_UTILIZATION"}).range(0, 1);
  add(s, path_of(lb, "stickyTtl"), CRS_FIELD(loadBalancing.stickyTtl))
      .from_env({"LOAD_BALANCING_STICKY_TTL"}).range(0, 30 * 86400);
  add(s, path_of(lb, "stickyMaxTtfb"), CRS_FIELD(loadBalancing.stickyMaxTtfb))
      .from_env({"LOAD_BALANCING_STICKY_MAX_TTFB"}).range(1, 3600000);
  add(s, path_of(lb, "healthCheck.interval"), CRS_FIELD(loadBalancing.healthCheck.interval))
      .from_env({"LOAD_BALANCING_HEALTH_CHECK_INTERVAL"}).range(1, 86400);
  add(s, path_of(lb, "healthCheck.responseTimeThreshold"), CRS_FIELD(loadBalancing.healthCheck.responseTimeThreshold))
      .from_env({"LOAD_BALANCING_RESPONSE_TIME_THRESHOLD"}).range(1, 3600000);
  add(s, path_of(lb, "healthCheck.successRateThreshold"), CRS_FIELD(loadBalancing.healthCheck.successRateThreshold))
      .from_env({"LOAD_BALANCING_SUCCESS_RATE_THRESHOLD"}).range(0, 1);
  add(s, path_of(lb, "healthCheck.errorRateThreshold"), CRS_FIELD(loadBalancing.healthCheck.errorRateThreshold))
      .from_env({"LOAD_BALANCING_ERROR_RATE_THRESHOLD"}).range(0, 1);
  add(s, path_of(lb, "failureRecovery.failureThreshold"), CRS_FIELD(loadBalancing.failureRecovery.failureThreshold))
      .from_env({"LOAD_BALANCING_FAILURE_THRESHOLD"}).range(1, 1000);
  add(s, path_of(lb, "failureRecovery.temporaryFailureDelay"),
      CRS_FIELD(loadBalancing.failureRecovery.temporaryFailureDelay))
      .from_env({"LOAD_BALANCING_TEMPORARY_FAILURE_DELAY"}).range(1, 86400);
  add(s, path_of(lb, "failureRecovery.maxBackoffTime"), CRS_FIELD(loadBalancing.failureRecovery.maxBackoffTime))
      .from_env({"LOAD_BALANCING_MAX_BACKOFF_TIME"}).range(1, 604800);
  add(s, path_of(lb, "failureRecovery.burstCooldown"), CRS_FIELD(loadBalancing.failureRecovery.burstCooldown))
      .from_env({"LOAD_BALANCING_BURST_COOLDOWN"}).range(1, 86400);
  add(s, path_of(lb, "failureRecovery.enableCircuitBreaker"),
      CRS_FIELD(loadBalancing.failureRecovery.enableCircuitBreaker))
      .from_env({"LOAD_BALANCING_ENABLE_CIRCUIT_BREAKER"});
  add(s, path_of(lb, "algorithmWeights.costPriority"), CRS_FIELD(loadBalancing.algorithmWeights.costPriority))
      .from_env({"LOAD_BALANCING_COST_PRIORITY_WEIGHT"}).range(0, 1);
  add(s, path_of(lb, "algorithmWeights.performance"), CRS_FIELD(loadBalancing.algorithmWeights.performance))
      .from_env({"LOAD_BALANCING_PERFORMANCE_WEIGHT"}).range(0, 1);
  add(s, path_of(lb, "algorithmWeights.loadBalance"), CRS_FIELD(loadBalancing.algorithmWeights.loadBalance))
      .from_env({"LOAD_BALANCING_LOAD_BALANCE_WEIGHT"}).range(0, 1);
  add(s, path_of(lb, "algorithmWeights.reliability"), CRS_FIELD(loadBalancing.algorithmWeights.reliability))
      .from_env({"LOAD_BALANCING_RELIABILITY_WEIGHT"}).range(0, 1);
}

void add_api_export_keys(std::vector<KeySpec>& s) {
  const char* ex = "apiExport.";
  add(s, path_of(ex, "enabled"), CRS_FIELD(apiExport.enabled)).from_env({"API_EXPORT_ENABLED"});
  add(s, path_of(ex, "outputDir"), CRS_FIELD(apiExport.outputDir)).from_env({"API_EXPORT_OUTPUT_DIR"});
  add(s, path_of(ex, "sanitizeData"), CRS_FIELD(apiExport.sanitizeData)).from_env({"API_EXPORT_SANITIZE_DATA"});
  add(s, path_of(ex, "batchSize"), CRS_FIELD(apiExport.batchSize)).from_env({"API_EXPORT_BATCH_SIZE"}).range(1, 100000);
  add(s, path_of(ex, "supportedFormats"), CRS_FIELD(apiExport.supportedFormats))
      .from_env({"API_EXPORT_SUPPORTED_FORMATS"}).one_of({"json", "csv", "ndjson"});
  add(s, path_of(ex, "autoCleanup.enabled"), CRS_FIELD(apiExport.autoCleanup.enabled))
      .from_env({"API_EXPORT_AUTO_CLEANUP_ENABLED"});
  add(s, path_of(ex, "autoCleanup.maxAgeHours"), CRS_FIELD(apiExport.autoCleanup.maxAgeHours))
      .from_env({"API_EXPORT_MAX_AGE_HOURS"}).range(1, 87600);
  add(s, path_of(ex, "autoCleanup.checkInterval"), CRS_FIELD(apiExport.autoCleanup.checkInterval))
      .from_env({"API_EXPORT_CLEANUP_CHECK_INTERVAL"}).range(1, 8760);
}

void add_query_optimizer_keys(std::vector<KeySpec>& s) {
  const char* qo = "queryOptimizer.";
  add(s, path_of(qo, "enabled"), CRS_FIELD(queryOptimizer.enabled)).from_env({"QUERY_OPTIMIZER_ENABLED"});
  add(s, path_of(qo, "batchSize"), CRS_FIELD(queryOptimizer.batchSize))
      .from_env({"QUERY_OPTIMIZER_BATCH_SIZE"}).range(1, 100000);
  add(s, path_of(qo, "pipelineSize"), CRS_FIELD(queryOptimizer.pipelineSize))
      .from_env({"QUERY_OPTIMIZER_PIPELINE_SIZE"}).range(1, 100000);
  add(s, path_of(qo, "maxConcurrency"), CRS_FIELD(queryOptimizer.maxConcurrency))
      .from_env({"QUERY_OPTIMIZER_MAX_CONCURRENCY"}).range(1, 1000);
  add(s, path_of(qo, "cache.enabled"), CRS_FIELD(queryOptimizer.cache.enabled)).from_env({"QUERY_CACHE_ENABLED"});
  add(s, path_of(qo, "cache.ttl"), CRS_FIELD(queryOptimizer.cache.ttl)).from_env({"QUERY_CACHE_TTL"}).range(1, 86400);
  add(s, path_of(qo, "cache.prefix"), CRS_FIELD(queryOptimizer.cache.prefix)).from_env({"QUERY_CACHE_PREFIX"});
  add(s, path_of(qo, "cache.maxSize"), CRS_FIELD(queryOptimizer.cache.maxSize))
      .from_env({"QUERY_CACHE_MAX_SIZE"}).range(1, 10000000);
  add(s, path_of(qo, "performance.enableProfiling"), CRS_FIELD(queryOptimizer.performance.enableProfiling))
      .from_env({"QUERY_OPTIMIZER_ENABLE_PROFILING"});
  add(s, path_of(qo, "performance.queryTimeout"), CRS_FIELD(queryOptimizer.performance.queryTimeout))
      .from_env({"QUERY_OPTIMIZER_QUERY_TIMEOUT"}).range(1, 3600000);
  add(s, path_of(qo, "performance.memoryLimit"), CRS_FIELD(queryOptimizer.performance.memoryLimit))
      .from_env({"QUERY_OPTIMIZER_MEMORY_LIMIT"}).range(1048576, 1099511627776.0);
}

void add_monitoring_keys(std::vector<KeySpec>& s) {
  const char* mo = "monitoring.";
  add(s, path_of(mo, "enabled"), CRS_FIELD(monitoring.enabled)).from_env({"ENABLE_PERFORMANCE_MONITORING"});
  add(s, path_of(mo, "logLevel"), CRS_FIELD(monitoring.logLevel)).from_env({"PERFORMANCE_LOG_LEVEL"}).one_of(kLevels);
  add(s, path_of(mo, "metrics.enableDetailedMetrics"), CRS_FIELD(monitoring.metrics.enableDetailedMetrics));
  add(s, path_of(mo, "metrics.detailedKeyLimit"), CRS_FIELD(monitoring.metrics.detailedKeyLimit)).range(1, 100000);
  add(s, path_of(mo, "metrics.token"), CRS_FIELD(monitoring.metrics.token)).from_env({"METRICS_TOKEN"}).is_secret();
  add(s, path_of(mo, "metrics.slowQueryThreshold"), CRS_FIELD(monitoring.metrics.slowQueryThreshold)).range(1, 3600000);
  add(s, path_of(mo, "metrics.memoryAlertThreshold"), CRS_FIELD(monitoring.metrics.memoryAlertThreshold)).range(0, 1);
  add(s, path_of(mo, "alerts.enabled"), CRS_FIELD(monitoring.alerts.enabled));
  add(s, path_of(mo, "alerts.webhook"), CRS_FIELD(monitoring.alerts.webhook)).from_env({"ALERT_WEBHOOK_URL"}).is_secret();
  add(s, path_of(mo, "alerts.webhooks"), CRS_FIELD(monitoring.alerts.webhooks)).is_secret();
  add(s, path_of(mo, "alerts.webhookSecret"), CRS_FIELD(monitoring.alerts.webhookSecret))
      .from_env({"ALERT_WEBHOOK_SECRET"}).is_secret();
  add(s, path_of(mo, "alerts.checkInterval"), CRS_FIELD(monitoring.alerts.checkInterval)).range(1, 86400);
  add(s, path_of(mo, "alerts.utilizationThreshold"), CRS_FIELD(monitoring.alerts.utilizationThreshold)).range(0, 1);
  add(s, path_of(mo, "alerts.memoryLimit"), CRS_FIELD(monitoring.alerts.memoryLimit)).range(0, 1099511627776.0);
  add(s, path_of(mo, "alerts.email.enabled"), CRS_FIELD(monitoring.alerts.email.enabled));
  add(s, path_of(mo, "alerts.email.from"), CRS_FIELD(monitoring.alerts.email.from));
  add(s, path_of(mo, "alerts.email.to"), CRS_FIELD(monitoring.alerts.email.to));
  add(s, path_of(mo, "alerts.email.smtp.host"), CRS_FIELD(monitoring.alerts.email.smtp.host)).from_env({"SMTP_HOST"});
  add(s, path_of(mo, "alerts.email.smtp.port"), CRS_FIELD(monitoring.alerts.email.smtp.port))
      .from_env({"SMTP_PORT"}).range(1, 65535);
  add(s, path_of(mo, "alerts.email.smtp.auth.user"), CRS_FIELD(monitoring.alerts.email.smtp.user)).from_env({"SMTP_USER"});
  add(s, path_of(mo, "alerts.email.smtp.auth.pass"), CRS_FIELD(monitoring.alerts.email.smtp.pass))
      .from_env({"SMTP_PASS"}).is_secret();
  add(s, path_of(mo, "alerts.email.smtp.caFile"), CRS_FIELD(monitoring.alerts.email.smtp.caFile)).from_env({"SMTP_CA_FILE"});
}

void add_logging_keys(std::vector<KeySpec>& s) {
  const char* lg = "logging.";
  add(s, path_of(lg, "level"), CRS_FIELD(logging.level)).from_env({"LOG_LEVEL"}).one_of(kLevels);
  add(s, path_of(lg, "file"), CRS_FIELD(logging.file)).from_env({"LOG_FILE"});
  add(s, path_of(lg, "maxFileSizeMb"), CRS_FIELD(logging.maxFileSizeMb)).range(1, 10240);
  add(s, path_of(lg, "maxFiles"), CRS_FIELD(logging.maxFiles)).from_env({"LOG_MAX_FILES"}).range(1, 1000);
  add(s, path_of(lg, "loadBalancing.enabled"), CRS_FIELD(logging.loadBalancing.enabled));
  add(s, path_of(lg, "loadBalancing.level"), CRS_FIELD(logging.loadBalancing.level)).one_of(kLevels);
  add(s, path_of(lg, "loadBalancing.file"), CRS_FIELD(logging.loadBalancing.file));
  add(s, path_of(lg, "apiExport.enabled"), CRS_FIELD(logging.apiExport.enabled));
  add(s, path_of(lg, "apiExport.level"), CRS_FIELD(logging.apiExport.level)).one_of(kLevels);
  add(s, path_of(lg, "apiExport.file"), CRS_FIELD(logging.apiExport.file));
}

std::vector<KeySpec> build() {
  std::vector<KeySpec> s;
  add_server_keys(s);
  add_relay_keys(s);
  add_oauth_keys(s);
  add_usage_keys(s);
  add_redis_keys(s);
  add_admin_keys(s);
  add_security_keys(s);
  add_load_balancing_keys(s);
  add_api_export_keys(s);
  add_query_optimizer_keys(s);
  add_monitoring_keys(s);
  add_logging_keys(s);
  mark_live(s);
  return s;
}

#undef CRS_FIELD

}  // namespace

std::string_view type_name(ValueType type) {
  switch (type) {
    case ValueType::Bool: return "a boolean";
    case ValueType::Int: return "an integer";
    case ValueType::Double: return "a number";
    case ValueType::String: return "a string";
    case ValueType::StringList: return "a list of strings";
  }
  return "?";
}

const std::vector<KeySpec>& schema() {
  static const std::vector<KeySpec> keys = build();
  return keys;
}

const KeySpec* find_key(std::string_view path) {
  for (const auto& k : schema())
    if (k.path == path) return &k;
  return nullptr;
}

bool is_table(std::string_view path) {
  for (const auto& k : schema())
    if (k.path.size() > path.size() && k.path.starts_with(path) && k.path[path.size()] == '.') return true;
  return false;
}

std::string check_limits(const KeySpec& spec, const Value& value) {
  if (spec.has_range) {
    double v = std::holds_alternative<int64_t>(value) ? static_cast<double>(std::get<int64_t>(value))
               : std::holds_alternative<double>(value) ? std::get<double>(value)
                                                        : 0.0;
    if (v < spec.min || v > spec.max)
      return fmt::format("must be between {} and {} (got {})", spec.min, spec.max, format_value(value));
  }
  if (!spec.choices.empty()) {
    auto allowed = [&](const std::string& v) {
      return std::find(spec.choices.begin(), spec.choices.end(), v) != spec.choices.end();
    };
    std::vector<std::string> items;
    if (auto* str = std::get_if<std::string>(&value)) items.push_back(*str);
    if (auto* list = std::get_if<std::vector<std::string>>(&value)) items = *list;
    for (const auto& item : items)
      if (!allowed(item))
        return fmt::format("must be one of {} (got \"{}\")", fmt::join(spec.choices, ", "), item);
  }
  return {};
}

std::string format_value(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, int64_t>) return std::to_string(v);
        else if constexpr (std::is_same_v<T, double>) return fmt::format("{}", v);
        else if constexpr (std::is_same_v<T, std::string>) return v;
        else return fmt::format("[{}]", fmt::join(v, ", "));
      },
      value);
}

}  // namespace crs::config
