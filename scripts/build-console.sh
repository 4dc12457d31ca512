#!/usr/bin/env bash
# Builds the web console and writes the C++ source that embeds it:
#   build-console.sh <src/web/console> <output dir>
# npm installs exactly the lockfile's packages (again only when the lockfile changed), Vite
# builds into <output dir>/dist, and embed.mjs writes <output dir>/console_assets.cpp with
# every file stored as is, gzipped and brotli-compressed. The built files are never edited.
set -euo pipefail
console="$1"
out="$2"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "build-console: node and npm are needed to build the web console (scripts/install-deps.sh installs them)" >&2
  exit 1
fi

cd "$console"
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp="node_modules/.crs-lock-sha256"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$stamp"
fi

mkdir -p "$out"
node_modules/.bin/tsc --noEmit -p .
node_modules/.bin/vite build --logLevel warn --emptyOutDir --outDir "$out/dist"
node scripts/embed.mjs "$out/dist" "$out/console_assets.cpp"
