#include "support/secret_sweep.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <boost/json.hpp>

namespace crs::test::sweep {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr size_t kShortest = 12;  // shorter values are too common to look for

std::mutex& files_mutex() {
  static std::mutex m;
  return m;
}

const std::string& sweep_dir() {
  static const std::string dir = [] {
    const char* d = std::getenv("CRS_SWEEP_DIR");
    return std::string(d ? d : "");
  }();
  return dir;
}

void append(const std::string& kind, std::string_view text) {
  std::lock_guard lock(files_mutex());
  fs::path dir = fs::path(sweep_dir()) / kind;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream out(dir / (std::to_string(getpid()) + ".txt"), std::ios::app | std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

std::set<std::string>& recorded() {  // under files_mutex
  static std::set<std::string> values;
  return values;
}

// A secret this process handed the relay or saw announced before: an answer repeating it
// announces nothing, it leaks.
bool known(std::string_view value) {
  std::lock_guard lock(files_mutex());
  return recorded().count(std::string(value)) > 0;
}

std::string normalized(std::string_view name) {
  std::string out;
  for (char c : name)
    if (c != '_' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Names whose values are credentials in the relay's configuration, APIs and CLI.
bool credential_name(std::string_view name) {
  std::string n = normalized(name);
  for (std::string_view end : {"password", "secret", "token", "pass", "apikey", "encryptionkey", "secretaccesskey"})
    if (n.ends_with(end)) return true;
  return false;
}

// The members an answer to a POST may announce a secret in.
bool announced_name(std::string_view name) {
  return name == "apiKey" || name == "key" || name == "token" || name == "password";
}

void walk_json(const json::value& v, const std::function<void(std::string_view, const json::string&)>& visit) {
  if (v.is_object()) {
    for (const auto& [k, member] : v.get_object()) {
      if (member.is_string()) visit(k, member.get_string());
      else walk_json(member, visit);
    }
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) walk_json(e, visit);
  }
}

std::optional<json::value> parse(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

// The password of a URL's user info (scheme://user:password@host).
void secrets_in_url(std::string_view text) {
  size_t scheme = text.find("://");
  if (scheme == std::string_view::npos) return;
  size_t at = text.find('@', scheme);
  size_t colon = text.find(':', scheme + 3);
  if (at != std::string_view::npos && colon != std::string_view::npos && colon < at)
    secret(text.substr(colon + 1, at - colon - 1));
}

}  // namespace

bool enabled() { return !sweep_dir().empty(); }

void secret(std::string_view value) {
  if (!enabled() || value.size() < kShortest || value.find_first_of("\r\n") != std::string_view::npos) return;
  // What a listing shows of a secret ("sk-ant...0000", "***") is not one.
  if (value.find("...") != std::string_view::npos || value.find("***") != std::string_view::npos) return;
  // Placeholders made of a few repeated characters ("tttt…") turn up in any long text.
  std::string distinct(value);
  std::sort(distinct.begin(), distinct.end());
  if (std::unique(distinct.begin(), distinct.end()) - distinct.begin() < 5) return;
  {
    std::lock_guard lock(files_mutex());
    if (!recorded().insert(std::string(value)).second) return;
  }
  append("secrets", std::string(value) + "\n");
}

void secrets_in_json(std::string_view text) {
  if (!enabled()) return;
  auto v = parse(text);
  if (!v) return;
  walk_json(*v, [](std::string_view name, const json::string& value) {
    if (credential_name(name)) secret(value);
  });
}

void secrets_in_config(std::string_view text) {
  if (!enabled()) return;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string name = line.substr(0, eq), value = line.substr(eq + 1);
    auto trim = [](std::string& s) {
      while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.front())) || s.front() == '"' || s.front() == '\''))
        s.erase(0, 1);
      while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == '"' || s.back() == '\''))
        s.pop_back();
    };
    trim(name);
    trim(value);
    if (name.starts_with("export ")) name = name.substr(7);
    if (credential_name(name)) secret(value);
    secrets_in_url(value);
  }
}

void secrets_in_env(const std::vector<std::string>& env) {
  for (const auto& kv : env) secrets_in_config(kv);
}

std::string masked_command(const std::vector<std::string>& args) {
  std::string line = "crs";
  for (size_t i = 0; i < args.size(); ++i) {
    bool after_flag = i > 0 && args[i - 1].starts_with("--") && args[i - 1].find('=') == std::string::npos &&
                      credential_name(args[i - 1].substr(2));
    size_t eq = args[i].find('=');
    line += ' ';
    if (args[i].starts_with("--") && eq != std::string::npos && credential_name(args[i].substr(2, eq - 2)))
      line.append(args[i], 0, eq + 1).append("***");
    else if (after_flag || args[i].find("://") != std::string::npos)
      line += "***";
    else
      line += args[i];
  }
  return line;
}

void secrets_in_args(const std::vector<std::string>& args) {
  if (!enabled()) return;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    secrets_in_url(a);
    if (!a.starts_with("--")) continue;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      if (credential_name(a.substr(2, eq - 2))) secret(a.substr(eq + 1));
    } else if (credential_name(a.substr(2)) && i + 1 < args.size()) {
      secret(args[i + 1]);
    }
  }
}

void answer(std::string_view what, std::string_view text, bool announces) {
  if (!enabled()) return;
  std::string kept(text);
  if (announces) {
    size_t body = kept.find("\r\n\r\n");
    body = body == std::string::npos ? 0 : body + 4;
    if (auto v = parse(std::string_view(kept).substr(body))) {
      std::vector<std::pair<std::string, std::string>> announced;
      walk_json(*v, [&](std::string_view name, const json::string& value) {
        if (announced_name(name) && value.size() >= kShortest && !known(value)) announced.emplace_back(name, value);
      });
      for (const auto& [name, value] : announced) {
        secret(value);
        // That one occurrence, after its member's name, is the announcement.
        size_t at = kept.find("\"" + name + "\"", body);
        if (at != std::string::npos) at = kept.find("\"" + value + "\"", at);
        if (at != std::string::npos) kept.replace(at + 1, value.size(), "(announced)");
      }
    }
    // A session cookie set by a login is announced the same way.
    for (size_t at = 0; (at = kept.find("\r\nSet-Cookie: ", at)) != std::string::npos && at < body;) {
      size_t eq = kept.find('=', at), end = kept.find_first_of(";\r", eq);
      if (eq == std::string::npos || end == std::string::npos) break;
      at = eq;
      std::string value = kept.substr(eq + 1, end - eq - 1);
      if (value.size() < kShortest || known(value)) continue;
      secret(value);
      kept.replace(eq + 1, end - eq - 1, "(announced)");
    }
  }
  append("answers", "\n=== " + std::string(what) + "\n" + kept + "\n");
}

void keep_relay_files(const std::string& relay_dir) {
  if (!enabled()) return;
  static std::atomic<int> counter{0};
  fs::path from(relay_dir);
  fs::path to = fs::path(sweep_dir()) / "logs" / (std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::error_code ec;
  fs::create_directories(to, ec);
  fs::copy_file(from / "serve.log", to / "serve.log", ec);
  if (fs::is_directory(from / "logs", ec))
    fs::copy(from / "logs", to / "logs", fs::copy_options::recursive, ec);
  for (const auto& entry : fs::directory_iterator(from / "data", ec))
    if (entry.path().filename().string().starts_with("usage-spool-"))
      fs::copy_file(entry.path(), to / entry.path().filename(), ec);

  auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  secrets_in_config(read(from / "data" / "secrets.env"));
  if (auto init = parse(read(from / "data" / "init.json")))
    walk_json(*init, [](std::string_view name, const json::string& value) {
      if (name == "adminPassword" || credential_name(name)) secret(value);
    });
}

}  // namespace crs::test::sweep
