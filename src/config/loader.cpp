#include "config/loader.hpp"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/host_port.hpp"
#include <toml++/toml.h>

extern char** environ;

namespace crs::config {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSecretsFile = "secrets.env";
constexpr const char* kEmbeddedRedisPassword = "REDIS_EMBEDDED_PASSWORD";
// Placeholders shipped in CRS examples; a deployment using them has no secret at all.
constexpr std::string_view kPlaceholders[] = {"CHANGE-THIS-32-CHARACTER-KEY-NOW", "your-encryption-key-here",
                                              "your-jwt-secret-here"};

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Parses text from .env or the environment into the key's type.
std::optional<Value> parse_text(const KeySpec& spec, const std::string& raw) {
  std::string text = trim(raw);
  switch (spec.type) {
    case ValueType::Bool: {
      std::string l = text;
      for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (l == "true" || l == "1" || l == "yes" || l == "on") return Value{true};
      if (l == "false" || l == "0" || l == "no" || l == "off") return Value{false};
      return std::nullopt;
    }
    case ValueType::Int: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
      return Value{v};
    }
    case ValueType::Double: {
      if (text.empty()) return std::nullopt;
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
      return Value{v};
    }
    case ValueType::String:
      return Value{text};
    case ValueType::StringList: {
      std::vector<std::string> items;
      std::stringstream ss(text);
      std::string item;
      while (std::getline(ss, item, ','))
        if (auto t = trim(item); !t.empty()) items.push_back(t);
      return Value{items};
    }
  }
  return std::nullopt;
}

class Builder {
 public:
  explicit Builder(Loaded& out) : out_(out) {
    for (const auto& spec : schema()) out_.origins[spec.path] = Origin{Source::Default, "default"};
  }

  void apply(const KeySpec& spec, const Value& value, Origin origin) {
    if (auto problem = check_limits(spec, value); !problem.empty()) {
      error(origin, spec, problem);
      return;
    }
    spec.set(out_.config, value);
    out_.origins[spec.path] = std::move(origin);
  }

  void apply_text(const KeySpec& spec, const std::string& text, Origin origin) {
    auto value = parse_text(spec, text);
    if (!value) {
      error(origin, spec, fmt::format("expected {} (got \"{}\")", type_name(spec.type), text));
      return;
    }
    apply(spec, *value, std::move(origin));
  }

  void error(const Origin& origin, const KeySpec& spec, const std::string& problem) {
    std::string value_hint = spec.secret ? "" : problem;
    if (spec.secret) value_hint = "invalid value (" + std::string(type_name(spec.type)) + " expected; value hidden)";
    out_.errors.push_back(fmt::format("{}: {}: {}", origin.where, spec.path, value_hint));
  }

  void error(const std::string& where, const std::string& message) {
    out_.errors.push_back(fmt::format("{}: {}", where, message));
  }

 private:
  Loaded& out_;
};

std::optional<Value> from_toml(const KeySpec& spec, const toml::node& node) {
  switch (spec.type) {
    case ValueType::Bool:
      if (auto v = node.value_exact<bool>()) return Value{*v};
      break;
    case ValueType::Int:
      if (auto v = node.value_exact<int64_t>()) return Value{*v};
      break;
    case ValueType::Double:
      if (node.is_integer()) return Value{static_cast<double>(*node.value<int64_t>())};
      if (auto v = node.value_exact<double>()) return Value{*v};
      break;
    case ValueType::String:
      if (auto v = node.value_exact<std::string>()) return Value{*v};
      break;
    case ValueType::StringList:
      if (auto* arr = node.as_array()) {
        std::vector<std::string> items;
        for (const auto& item : *arr) {
          auto s = item.value_exact<std::string>();
          if (!s) return std::nullopt;
          items.push_back(*s);
        }
        return Value{items};
      }
      break;
  }
  return std::nullopt;
}

std::string_view toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

void walk_toml(const toml::table& table, const std::string& prefix, const std::string& file, Builder& b) {
  for (const auto& [key, node] : table) {
    std::string path = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    std::string where = fmt::format("{}:{}", file, node.source().begin.line);
    if (node.is_table()) {
      if (find_key(path)) {
        b.error(where, fmt::format("{}: expected a value, got a table", path));
      } else if (!is_table(path)) {
        b.error(where, fmt::format("unknown key '{}'", path));
      } else {
        walk_toml(*node.as_table(), path, file, b);
      }
      continue;
    }
    const KeySpec* spec = find_key(path);
    if (!spec) {
      b.error(where, fmt::format("unknown key '{}'", path));
      continue;
    }
    auto value = from_toml(*spec, node);
    if (!value) {
      b.error(Origin{Source::File, where}, *spec,
              fmt::format("expected {}, got {}", type_name(spec->type), toml_type_name(node)));
      continue;
    }
    b.apply(*spec, *value, Origin{Source::File, where});
  }
}

// KEY=VALUE lines; `export`, comments and quotes allowed. Returns name -> (value, line).
std::map<std::string, std::pair<std::string, int>> read_env_file(const std::string& path) {
  std::map<std::string, std::pair<std::string, int>> vars;
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.starts_with("export ")) t = trim(t.substr(7));
    auto eq = t.find('=');
    if (eq == std::string::npos) continue;
    std::string name = trim(t.substr(0, eq));
    std::string value = trim(t.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (auto hash = value.find(" #"); hash != std::string::npos) {
      value = trim(value.substr(0, hash));
    }
    vars[name] = {value, number};
  }
  return vars;
}

// Applies the variables a key listens to; the DEBUG convention of the Node.js service too.
void apply_variables(Builder& b, const std::map<std::string, std::pair<std::string, int>>& vars, Source source,
                     const std::string& file) {
  auto where = [&](const std::string& name, int line) {
    return source == Source::Env ? name : fmt::format("{}:{} ({})", file, line, name);
  };
  for (const auto& spec : schema()) {
    for (const auto& name : spec.env) {
      auto it = vars.find(name);
      // Empty is unset (compose passes `${VAR:-}` through as ""): an empty ENCRYPTION_KEY
      // must not hide the generated one and have a new key made on every start.
      if (it == vars.end() || it->second.first.empty()) continue;
      b.apply_text(spec, it->second.first, Origin{source, where(name, it->second.second)});
    }
  }
  if (auto it = vars.find("DEBUG"); it != vars.end()) {
    const std::string& v = it->second.first;
    if (v == "true" || v == "1" || v == "*" || v.find("claude-relay") != std::string::npos)
      b.apply(*find_key("logging.level"), Value{std::string("debug")},
              Origin{source, where("DEBUG", it->second.second)});
  }
}

void check_cross_field(Loaded& out) {
  const auto& w = out.config.loadBalancing.algorithmWeights;
  double sum = w.costPriority + w.performance + w.loadBalance + w.reliability;
  if (std::fabs(sum - 1.0) > 1e-6) {
    std::vector<std::string> where;
    for (auto key : {"costPriority", "performance", "loadBalance", "reliability"}) {
      const auto& o = out.origins["loadBalancing.algorithmWeights." + std::string(key)];
      if (o.source != Source::Default) where.push_back(o.where);
    }
    out.errors.push_back(fmt::format("{}: loadBalancing.algorithmWeights: weights must sum to 1 (got {:.6f})",
                                     where.empty() ? std::string("default") : fmt::format("{}", fmt::join(where, ", ")),
                                     sum));
  }
  auto& sec = out.config.security;
  for (auto [key, value, min] : {std::tuple{"security.jwtSecret", &sec.jwtSecret, size_t{32}},
                                 std::tuple{"security.encryptionKey", &sec.encryptionKey, size_t{32}}}) {
    if (value->empty()) continue;
    const auto& where = out.origins[key].where;
    for (auto placeholder : kPlaceholders)
      if (*value == placeholder)
        out.errors.push_back(fmt::format("{}: {}: is the example placeholder; set a random secret", where, key));
    if (value->size() < min)
      out.errors.push_back(fmt::format("{}: {}: must be at least {} characters (got {})", where, key, min,
                                       value->size()));
  }
  if (out.config.security.apiKeyPrefix.empty())
    out.errors.push_back(fmt::format("{}: security.apiKeyPrefix: must not be empty",
                                     out.origins["security.apiKeyPrefix"].where));
  for (const auto& sentinel : out.config.redis.sentinels)
    if (auto parsed = parse_host_port(sentinel); !parsed)
      out.errors.push_back(fmt::format("{}: redis.sentinels: {}", out.origins["redis.sentinels"].where,
                                       parsed.error().message));
  if (!out.config.redis.sentinels.empty() && out.config.redis.sentinelName.empty())
    out.errors.push_back(fmt::format("{}: redis.sentinelName: must name the primary the sentinels watch",
                                     out.origins["redis.sentinelName"].where));
  const auto& redis = out.config.redis;
  if (!redis.url.empty() && !redis.url.starts_with("redis://") && !redis.url.starts_with("rediss://"))
    out.errors.push_back(fmt::format("{}: redis.url: must start with redis:// or rediss:// (TLS)",
                                     out.origins["redis.url"].where));
  if (redis.tlsCertFile.empty() != redis.tlsKeyFile.empty())
    out.errors.push_back(fmt::format("{}: redis.tlsCertFile and redis.tlsKeyFile go together (a client certificate "
                                     "and its key)", out.origins[redis.tlsCertFile.empty() ? "redis.tlsKeyFile"
                                                                                            : "redis.tlsCertFile"].where));
  for (const char* key : {"redis.tlsCaFile", "redis.tlsCertFile", "redis.tlsKeyFile"}) {
    auto path = std::get<std::string>(find_key(key)->get(out.config));
    if (!path.empty() && ::access(path.c_str(), R_OK) != 0)
      out.errors.push_back(fmt::format("{}: {}: cannot read {}", out.origins[key].where, key, path));
  }
}

std::string random_secret(size_t chars) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string out;
  while (out.size() < chars) {
    unsigned char buf[64];
    if (getrandom(buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf)) continue;
    for (unsigned char c : buf) {
      if (c >= 248) continue;  // 248 = 62 * 4: keep the distribution uniform
      out.push_back(kAlphabet[c % 62]);
      if (out.size() == chars) break;
    }
  }
  return out;
}

}  // namespace

std::string_view source_name(Source source) {
  switch (source) {
    case Source::Default: return "default";
    case Source::Generated: return "generated";
    case Source::File: return "file";
    case Source::DotEnv: return ".env";
    case Source::Env: return "env";
  }
  return "?";
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

LoadOptions default_load_options(const std::string& config_path) {
  LoadOptions o;
  o.environment = process_environment();
  o.config_path = config_path;
  if (o.config_path.empty())
    if (auto it = o.environment.find("CRS_CONFIG"); it != o.environment.end()) o.config_path = it->second;
  return o;
}

Loaded load(const LoadOptions& options) {
  Loaded out;
  Builder b(out);

  std::string path = options.config_path;
  bool explicit_path = !path.empty();
  if (!explicit_path) path = options.default_config_path;
  if (fs::exists(path)) {
    out.config_path = path;
    try {
      toml::table table = toml::parse_file(path);
      walk_toml(table, "", path, b);
    } catch (const toml::parse_error& e) {
      out.errors.push_back(fmt::format("{}:{}: {}", path, e.source().begin.line, e.description()));
    }
  } else if (explicit_path) {
    out.errors.push_back(fmt::format("{}: config file not found", path));
  }

  if (!options.env_file.empty() && fs::exists(options.env_file))
    apply_variables(b, read_env_file(options.env_file), Source::DotEnv, options.env_file);

  std::map<std::string, std::pair<std::string, int>> env;
  for (const auto& [k, v] : options.environment) env[k] = {v, 0};
  apply_variables(b, env, Source::Env, "");

  // Secrets generated on an earlier first start fill in only what nothing else set.
  std::string secrets = (fs::path(out.config.server.dataDir) / kSecretsFile).string();
  if (fs::exists(secrets)) {
    auto vars = read_env_file(secrets);
    if (auto it = vars.find(kEmbeddedRedisPassword); it != vars.end())
      out.config.redis.embeddedPassword = it->second.first;
    for (auto [name, key] : {std::pair{"JWT_SECRET", "security.jwtSecret"},
                             std::pair{"ENCRYPTION_KEY", "security.encryptionKey"}}) {
      auto it = vars.find(name);
      if (it == vars.end() || out.origins[key].source != Source::Default) continue;
      b.apply_text(*find_key(key), it->second.first,
                   Origin{Source::Generated, fmt::format("{}:{}", secrets, it->second.second)});
    }
  }

  check_cross_field(out);
  return out;
}

Result<std::vector<std::string>> ensure_secrets(Loaded& loaded) {
  auto& sec = loaded.config.security;
  std::vector<std::string> generated;
  if (sec.jwtSecret.empty()) generated.push_back("JWT_SECRET");
  if (sec.encryptionKey.empty()) generated.push_back("ENCRYPTION_KEY");
  auto& redis = loaded.config.redis;
  if (loaded.config.embedded_redis() && redis.embeddedPassword.empty()) generated.push_back(kEmbeddedRedisPassword);
  if (generated.empty()) return generated;

  fs::path dir(loaded.config.server.dataDir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", dir.string(), ec.message())};
  ::chmod(dir.c_str(), 0700);
  fs::path file = dir / kSecretsFile;
  auto existing = fs::exists(file) ? read_env_file(file.string()) : decltype(read_env_file("")){};

  if (sec.jwtSecret.empty()) sec.jwtSecret = random_secret(64);
  // 32 characters: the length the Node.js service documents for ENCRYPTION_KEY.
  if (sec.encryptionKey.empty()) sec.encryptionKey = random_secret(32);
  if (loaded.config.embedded_redis() && redis.embeddedPassword.empty()) redis.embeddedPassword = random_secret(32);
  existing["JWT_SECRET"] = {sec.jwtSecret, 0};
  existing["ENCRYPTION_KEY"] = {sec.encryptionKey, 0};
  if (!redis.embeddedPassword.empty()) existing[kEmbeddedRedisPassword] = {redis.embeddedPassword, 0};

  fs::path tmp = dir / (std::string(kSecretsFile) + ".tmp");
  {
    mode_t old = ::umask(0077);
    std::ofstream out(tmp, std::ios::trunc);
    ::umask(old);
    out << "# Generated by crs on first start. Keep this file secret and backed up:\n"
           "# ENCRYPTION_KEY decrypts stored credentials and hashes relay keys;\n"
           "# REDIS_EMBEDDED_PASSWORD is the embedded redis-server's password.\n";
    for (const auto& [name, value] : existing) out << name << "=" << value.first << "\n";
    if (!out) return Error{fmt::format("cannot write {}", tmp.string())};
  }
  ::chmod(tmp.c_str(), 0600);
  fs::rename(tmp, file, ec);
  if (ec) return Error{fmt::format("cannot write {}: {}", file.string(), ec.message())};
  for (const auto& name : generated) {
    if (name == kEmbeddedRedisPassword) continue;  // not a config key
    auto key = name == "JWT_SECRET" ? "security.jwtSecret" : "security.encryptionKey";
    loaded.origins[key] = Origin{Source::Generated, file.string()};
  }
  return generated;
}

}  // namespace crs::config
