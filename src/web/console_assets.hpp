#pragma once
// The web console's files, embedded in the binary at build time (scripts/build-console.sh runs
// Vite, then src/web/console/scripts/embed.mjs writes the table with each file precompressed).
#include <span>
#include <string_view>

namespace crs::web {

struct Asset {
  std::string_view path;          // under /admin-next/: "index.html", "assets/index-B3x9.js"
  std::string_view content_type;
  std::string_view etag;          // quoted strong validator, from the content's SHA-256
  bool immutable;                 // the name carries a content hash (Vite's assets/)
  std::string_view identity;
  std::string_view gzip;          // empty when compressing does not make it smaller
  std::string_view brotli;        // empty when compressing does not make it smaller
};

std::span<const Asset> console_assets();

}  // namespace crs::web
