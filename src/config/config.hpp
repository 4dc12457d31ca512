#pragma once
// The typed configuration of the relay. Keys, defaults, environment variables and limits are
// declared once, in schema.cpp; config/config.example.toml documents them for admins.
#include <cstdint>
#include <string>
#include <vector>

namespace crs::config {

struct ServerConfig {
  std::string host = "0.0.0.0";
  int port = 3000;
  int workers = 0;                     // I/O threads; 0 = one per core
  std::string dataDir = "./data";
  int gracePeriod = 30;                // seconds in-flight requests get on SIGTERM
  int maxHeaderBytes = 65536;
  int64_t maxBodyBytes = 33554432;     // 32 MiB, Anthropic's own limit
  int64_t maxBodyBytesInFlight = 1073741824;  // 1 GiB: all request bodies being read or held
  int keepAliveTimeout = 65;           // seconds an idle client connection stays open
  int requestReadTimeout = 60;         // seconds to receive a whole request
  int writeTimeout = 120;              // seconds a write to a client that does not read may wait
  std::vector<std::string> trustedProxies;  // addresses/CIDRs allowed to name the client (X-Forwarded-For)
};

struct RedisConfig {
  std::string host;                    // empty (and no url) = embedded redis-server
  int port = 6379;
  std::string password;
  int db = 0;
  std::string url;                     // redis://[[user]:password@]host[:port][/db]
  std::string username;                // ACL user (Redis 6+); empty = the default user
  std::vector<std::string> sentinels;  // "host:port" of Redis Sentinels; set: they name the primary
  std::string sentinelName = "mymaster";
  std::string sentinelPassword;        // the sentinels' own password
  bool tls = false;                    // TLS to Redis and the sentinels (rediss:// sets it too)
  std::string tlsCaFile;               // CA bundle beside the system's, to verify the server with
  std::string tlsCertFile;             // client certificate (PEM) for a server with tls-auth-clients
  std::string tlsKeyFile;              // its private key (PEM)
  int connectTimeout = 3000;           // ms
  int commandTimeout = 5000;           // ms
  int embeddedPort = 6380;
  std::string embeddedBinary = "redis-server";
  // The embedded redis-server's password: generated into <dataDir>/secrets.env on the first
  // start (REDIS_EMBEDDED_PASSWORD), never a config key; loopback is no boundary on a shared host.
  std::string embeddedPassword;
};

struct SecurityConfig {
  std::string jwtSecret;
  std::string encryptionKey;
  std::string apiKeyPrefix = "cr_";
};

struct HealthCheckConfig {
  int interval = 30;                   // s
  int responseTimeThreshold = 5000;    // ms
  double successRateThreshold = 0.95;
  double errorRateThreshold = 0.05;
};

struct FailureRecoveryConfig {
  int failureThreshold = 5;
  int temporaryFailureDelay = 300;     // s
  int maxBackoffTime = 3600;           // s
  int burstCooldown = 60;              // s an account rests after a 429 that names no reset time
  bool enableCircuitBreaker = true;
};

struct AlgorithmWeights {
  double costPriority = 0.4;
  double performance = 0.3;
  double loadBalance = 0.2;
  double reliability = 0.1;
};

struct LoadBalancingConfig {
  bool enabled = true;
  std::string defaultStrategy = "balanced";
  int selectionTimeout = 5000;         // ms a request waits for a slot when every candidate is full
  int maxWaiting = 100;                // requests waiting for a slot, per instance; more get 529
  double pauseAtUtilization = 0.95;    // headroom: an account over this 5h/7d utilisation is a last resort
  int stickyTtl = 3600;                // s a conversation keeps its account (0 = no sticky sessions)
  int stickyMaxTtfb = 10000;           // ms; a sticky account slower than this loses its sessions
  HealthCheckConfig healthCheck;
  FailureRecoveryConfig failureRecovery;
  AlgorithmWeights algorithmWeights;
};

struct AutoCleanupConfig {
  bool enabled = true;
  int maxAgeHours = 24;
  int checkInterval = 6;               // hours
};

struct ApiExportConfig {
  bool enabled = true;
  std::string outputDir = "./temp/exports";
  bool sanitizeData = true;
  int batchSize = 100;
  std::vector<std::string> supportedFormats{"json", "csv", "ndjson"};
  AutoCleanupConfig autoCleanup;
};

struct QueryCacheConfig {
  bool enabled = true;
  int ttl = 300;                       // s
  std::string prefix = "query_cache:";
  int maxSize = 1000;
};

struct QueryPerformanceConfig {
  bool enableProfiling = false;
  int queryTimeout = 30000;            // ms
  int64_t memoryLimit = 104857600;     // bytes
};

struct QueryOptimizerConfig {
  bool enabled = true;
  int batchSize = 100;
  int pipelineSize = 50;
  int maxConcurrency = 10;
  QueryCacheConfig cache;
  QueryPerformanceConfig performance;
};

struct MetricsConfig {
  bool enableDetailedMetrics = true;
  int detailedKeyLimit = 100;          // keys with their own series; the rest are "other"
  std::string token;                   // METRICS_TOKEN: GET /metrics needs it; "" = loopback only
  int slowQueryThreshold = 1000;       // ms
  double memoryAlertThreshold = 0.8;
};

struct SmtpConfig {
  std::string host;
  int port = 587;
  std::string user;
  std::string pass;
  std::string caFile;                  // CA bundle to verify the server with ("" = the system's)
};

struct EmailAlertConfig {
  bool enabled = false;
  std::string from;
  std::vector<std::string> to;
  SmtpConfig smtp;
};

struct AlertsConfig {
  bool enabled = true;
  std::string webhook;
  std::vector<std::string> webhooks;   // more receivers, each "format:url" or a URL
  std::string webhookSecret;           // HMAC-SHA256 signature of generic webhooks
  int checkInterval = 30;              // s between checks
  double utilizationThreshold = 0.9;   // an account's 5h/7d utilisation that raises an alert
  int64_t memoryLimit = 0;             // bytes; 0 = the cgroup's memory.max, else the machine's
  EmailAlertConfig email;
};

struct MonitoringConfig {
  bool enabled = true;
  std::string logLevel = "info";       // PERFORMANCE_LOG_LEVEL
  MetricsConfig metrics;
  AlertsConfig alerts;
};

struct LogChannelConfig {
  bool enabled = true;
  std::string level = "info";
  std::string file;
};

struct LoggingConfig {
  std::string level = "info";
  std::string file = "logs/crs.log";
  int maxFileSizeMb = 10;
  int maxFiles = 5;
  // "debug" writes a line per scheduling decision (a cost on every request); moves are "info".
  LogChannelConfig loadBalancing{true, "info", "logs/load-balancing.log"};
  LogChannelConfig apiExport{true, "info", "logs/api-export.log"};
};

struct RelayConfig {
  int maxAttempts = 3;                 // accounts tried per request before giving up
  int connectTimeout = 10000;          // ms to connect (and TLS) to an upstream
  int firstByteTimeout = 600000;       // ms until the upstream's response headers
  int idleTimeout = 120000;            // ms of upstream silence mid-response before cutting it
  int requestTimeout = 600000;         // ms a relayed request may last in all, answer included
  std::string caFile;                  // extra CA bundle for upstream TLS (system CAs are always used)
  int concurrencyLeaseTtl = 30;        // s a concurrency slot outlives an instance that died holding it
  bool admitWhenRedisDown = false;     // relay while Redis is unreachable (limits uncounted, usage spooled)
};

struct OauthConfig {
  std::string tokenUrl = "https://platform.claude.com/v1/oauth/token";
  std::string authorizeUrl = "https://claude.ai/oauth/authorize";
  std::string redirectUri = "https://platform.claude.com/oauth/code/callback";
  std::string clientId = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
  std::string scopes = "org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers "
                       "user:file_upload";
  std::string apiBaseUrl = "https://api.anthropic.com";
  int refreshBeforeExpiry = 60;        // s before expiry an access token is refreshed
};

struct UsageConfig {
  std::string pricingFile = "config/pricing.json";
  int timezoneOffset = 8;              // hours; day/month buckets (the Node.js service's TIMEZONE_OFFSET)
  int recordsPerKey = 200;             // recent request records kept per key
  int hourlyRetentionDays = 7;         // days hourly usage buckets are kept
  int batchMs = 5;                     // ms a completion waits for others to go to Redis with
  int batchRecords = 256;              // completions per batch at most
};

struct AdminConfig {
  std::string username;                // with password: the admin's credentials, replacing stored ones
  std::string password;                // empty: generated on first start into dataDir/init.json
  int sessionTtl = 86400;              // s an admin login token stays valid
  int loginFailuresPerIp = 5;          // wrong passwords from one address before it must wait
  int loginFailuresPerUser = 10;       // wrong passwords for one username before it must wait
  int loginLockout = 900;              // s the failures are counted over (and the wait)
};

struct Config {
  ServerConfig server;
  AdminConfig admin;
  RelayConfig relay;
  OauthConfig oauth;
  UsageConfig usage;
  RedisConfig redis;
  SecurityConfig security;
  LoadBalancingConfig loadBalancing;
  ApiExportConfig apiExport;
  QueryOptimizerConfig queryOptimizer;
  MonitoringConfig monitoring;
  LoggingConfig logging;

  // True when no Redis is configured: `crs serve` runs its own redis-server.
  bool embedded_redis() const { return redis.host.empty() && redis.url.empty() && redis.sentinels.empty(); }
};

}  // namespace crs::config
