#include "alerts/curl_library.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace crs::alerts {
namespace {

// Debian's libcurl4 (the OpenSSL build, as the -dev package the build uses).
constexpr const char* kSoname = "libcurl.so.4";

template <typename Fn>
bool resolve(void* handle, const char* name, Fn& out, std::string& missing) {
  out = reinterpret_cast<Fn>(dlsym(handle, name));
  if (!out) missing = name;
  return out != nullptr;
}

Result<CurlLibrary> load() {
  void* handle = dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return Error{std::string("alerts need libcurl (") + kSoname + "), which could not be loaded: " +
                 (why ? why : "unknown reason") + " (Debian: apt-get install libcurl4)"};
  }
  CurlLibrary lib;
  std::string missing;
  bool all = resolve(handle, "curl_easy_init", lib.easy_init, missing) &&
             resolve(handle, "curl_easy_cleanup", lib.easy_cleanup, missing) &&
             resolve(handle, "curl_easy_setopt", lib.easy_setopt, missing) &&
             resolve(handle, "curl_easy_perform", lib.easy_perform, missing) &&
             resolve(handle, "curl_easy_getinfo", lib.easy_getinfo, missing) &&
             resolve(handle, "curl_easy_strerror", lib.easy_strerror, missing) &&
             resolve(handle, "curl_slist_append", lib.slist_append, missing) &&
             resolve(handle, "curl_slist_free_all", lib.slist_free_all, missing);
  if (!all) {
    dlclose(handle);
    return Error{std::string(kSoname) + " lacks " + missing};
  }
  auto global_init = reinterpret_cast<decltype(&::curl_global_init)>(dlsym(handle, "curl_global_init"));
  if (!global_init || global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    dlclose(handle);
    return Error{std::string(kSoname) + " could not initialise"};
  }
  return lib;  // the handle stays open for the process's life: its functions are kept
}

}  // namespace

Result<const CurlLibrary*> curl_library() {
  static std::mutex mutex;
  static CurlLibrary loaded;
  static bool ready = false;
  std::lock_guard lock(mutex);
  if (!ready) {
    auto lib = load();
    if (!lib) return lib.error();
    loaded = *lib;
    ready = true;
  }
  return &loaded;
}

}  // namespace crs::alerts
