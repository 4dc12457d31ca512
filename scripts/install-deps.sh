#!/usr/bin/env bash
# Installs the Debian 12 packages the relay needs to build, run and test.
# Idempotent: only packages that are missing are installed, and apt-get update
# runs only when something is missing.
set -euo pipefail

# What building the `crs` binary needs (the Dockerfile's build stage: --build-only).
build_packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libhiredis-dev libsimdjson-dev libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev libcurl4-openssl-dev libjemalloc-dev
)
packages=("${build_packages[@]}")
if [[ "${1:-}" != "--build-only" ]]; then
  packages+=(
    curl libgtest-dev libgmock-dev libbenchmark-dev
    redis-server
    openssl socat
    python3 python3-yaml systemd
  )
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# `make bench` also needs the baselines and the load generator.
if [[ "${1:-}" == "--bench" ]]; then
  for p in nginx-light wrk gnuplot-nox python3 linux-perf; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
fi

# `make fuzz` builds with clang and libFuzzer (tests/fuzz).
if [[ "${1:-}" == "--fuzz" ]]; then
  for p in clang-16 libclang-rt-16-dev; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
fi

# Node.js builds the web console (Vite, from npm) and runs the real-client and browser tests;
# Debian's is enough if none is there.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

# The browser tests drive Debian's Chromium (headless) with playwright-core.
if [[ "${1:-}" == "--with-test-clients" ]]; then
  status=$(dpkg-query -W -f='${Status}' chromium 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=(chromium)
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # libboost1.81-dev conflicts with the default 1.74 headers; apt resolves that by removing them.
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The npm packages of the real-client and browser tests, exactly as locked (again when the
# lockfile changes).
if [[ "${1:-}" == "--with-test-clients" ]]; then
  here="$(cd "$(dirname "$0")/.." && pwd)"
  lock_sum="$(sha256sum "$here/tests/clients/package-lock.json" | cut -d' ' -f1)"
  stamp="$here/tests/clients/node_modules/.crs-lock-sha256"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" ]]; then
    (cd "$here/tests/clients" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_sum" > "$stamp"
  fi
fi

# promtool checks GET /metrics in the tests. Only the tool is taken from Debian's prometheus
# package (unpacked into .tools/, not installed): installing it would start a Prometheus server.
if [[ "${1:-}" == "--with-test-clients" ]]; then
  here="$(cd "$(dirname "$0")/.." && pwd)"
  if ! command -v promtool >/dev/null 2>&1 && [[ ! -x "$here/.tools/promtool" ]]; then
    unpack="$(mktemp -d)"
    (cd "$unpack" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus; }; })
    dpkg-deb -x "$unpack"/prometheus_*.deb "$unpack/root"
    mkdir -p "$here/.tools"
    cp "$unpack/root/usr/bin/promtool" "$here/.tools/promtool"
    rm -rf "$unpack"
    echo "install-deps: promtool unpacked into .tools/"
  fi
fi
