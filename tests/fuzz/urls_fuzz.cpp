// Account URLs come from admins and imports (the Node.js service's data): base URLs and proxy
// URLs never crash the parsers, a base URL names a host and a port, and a proxy's password
// never survives its redaction for listings.
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "upstream/endpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string url(reinterpret_cast<const char*>(data), size);
  if (auto base = crs::upstream::parse_base_url(url)) {
    FUZZ_CHECK(!base->host.empty(), "a base URL without a host");
    FUZZ_CHECK(base->port != 0, "a base URL on port 0");
    FUZZ_CHECK(base->path_prefix.empty() || (base->path_prefix.front() == '/' && base->path_prefix.back() != '/'),
               "a path prefix that does not start with / or ends with one");
  }
  std::string shown = crs::upstream::redact_proxy_url(url);
  if (auto proxy = crs::upstream::parse_proxy_url(url)) {
    FUZZ_CHECK(proxy->kind == crs::upstream::Proxy::Kind::None || (!proxy->host.empty() && proxy->port != 0),
               "a proxy without a host or port");
    // What a listing shows parses to the same proxy with "***" for a password. (Searching the
    // text for the password is no test: "u1.0.1:**" can come from the user name and "***".)
    if (!proxy->password.empty()) {
      auto redacted = crs::upstream::parse_proxy_url(shown);
      FUZZ_CHECK(redacted && redacted->password == "***" && redacted->host == proxy->host &&
                     redacted->port == proxy->port,
                 "a proxy password survived its redaction");
    }
  }
  return 0;
}
