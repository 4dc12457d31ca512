#pragma once
// libcurl, loaded the first time an alert is delivered rather than when the relay starts: with
// the ~25 libraries it brings (GnuTLS, Kerberos, LDAP, SSH, ...) it was 4.2 MB of the relay's
// resident pages (measured with /proc/PID/smaps), and most relays never send an alert. The header still gives
// the types and constants; only the functions come from the loaded library.
#include <curl/curl.h>

#include "core/result.hpp"

namespace crs::alerts {

struct CurlLibrary {
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
};

// Loads and initialises libcurl once (thread-safe; blocking: call it off the I/O threads). The
// error says what is missing, and the next call tries again.
Result<const CurlLibrary*> curl_library();

}  // namespace crs::alerts
