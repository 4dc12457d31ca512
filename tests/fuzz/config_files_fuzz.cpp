// config/config.toml and .env come from admins (and from an imported Node.js .env): whatever
// they hold, loading never crashes, and a secret's value is never repeated in an error (errors
// are printed at start and by `crs config check`). The input is the TOML text, a NUL, the
// .env text, a NUL, and a secret (after a fixed marker) that the harness sets for every secret key in both files.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "config/loader.hpp"
#include "fuzz_check.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path& work_dir() {
  static const fs::path dir = [] {
    char pattern[] = "/tmp/crs-fuzz-config-XXXXXX";
    return fs::path(mkdtemp(pattern));
  }();
  return dir;
}

void write(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

std::string_view take(std::string_view& rest) {
  size_t nul = rest.find('\0');
  std::string_view part = rest.substr(0, nul);
  rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string_view toml_text = take(rest), env_text = take(rest);
  std::string toml(toml_text), env(env_text);
  // A marker no message holds, so a hit is an echo, not a coincidence with fixed text.
  std::string secret = "S3cr3t-" + std::string(take(rest));
  for (const char* key : {"redis.password", "admin.password", "security.jwtSecret", "security.encryptionKey",
                          "monitoring.metrics.token"}) {
    std::string_view k(key);
    size_t dot = k.rfind('.');
    toml += "\n[" + std::string(k.substr(0, dot)) + "]\n" + std::string(k.substr(dot + 1)) + " = \"" + secret + "\"\n";
  }
  for (const char* name : {"REDIS_PASSWORD", "ADMIN_PASSWORD", "JWT_SECRET", "ENCRYPTION_KEY", "METRICS_TOKEN", "REDIS_URL"})
    env += std::string("\n") + name + "=" + secret + "\n";
  write(work_dir() / "config.toml", toml);
  write(work_dir() / ".env", env);

  crs::config::LoadOptions options;
  options.config_path = (work_dir() / "config.toml").string();
  options.env_file = (work_dir() / ".env").string();
  auto loaded = crs::config::load(options);
  // Any twelve bytes of it: an error may show a secret cut short. When the fuzzer copied those
  // bytes into a value that is not a secret (it learns the marker), an error may rightly show them.
  std::string start = secret.substr(0, 12);
  bool elsewhere = toml_text.find(start) != std::string_view::npos || env_text.find(start) != std::string_view::npos;
  if (start.size() == 12 && !elsewhere)
    for (const auto& e : loaded.errors) FUZZ_CHECK(e.find(start) == std::string::npos, "a secret repeated in an error");
  return 0;
}
