#!/bin/sh
# The container's entry point (the Dockerfile's ENTRYPOINT; the ops test runs it outside Docker).
# Arguments are a crs command line: `serve` by default, or e.g. `backup --out FILE`.
set -eu
cd "${CRS_HOME:-/app}"

if [ "$#" -eq 0 ]; then set -- serve; fi
if [ "$1" = "serve" ] && [ -z "${REDIS_HOST:-}${REDIS_URL:-}" ] \
   && ! command -v "${REDIS_SERVER_BINARY:-redis-server}" >/dev/null 2>&1; then
  echo "crs-entrypoint: set REDIS_HOST (or REDIS_URL): this image has no redis-server to embed" >&2
  exit 64
fi
umask 0077
mkdir -p data logs temp/exports
exec "${CRS_BINARY:-crs}" "$@"
