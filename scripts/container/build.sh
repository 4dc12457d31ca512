#!/usr/bin/env bash
# The Dockerfile's build stage, step by step; `make test-ops` runs the same script outside
# Docker, and `make test` runs its install step on the tested build.
#   build.sh SOURCE_DIR BUILD_DIR STAGE_DIR [all|configure|build|install]
# The stage is what the runtime image copies to /usr/local: bin/crs and share/crs/.
set -euo pipefail
src="$1" build="$2" stage="$3" step="${4:-all}"

# ccache refuses every compile that uses the precompiled headers unless told these are safe.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"

configure() {
  local launcher=()
  if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  # CRS_CMAKE_ARGS: extra options (make test-ops passes the CI's -DCRS_WERROR).
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRS_BUILD_TESTS=OFF "${launcher[@]}" \
    ${CRS_CMAKE_ARGS:-} >/dev/null
}
build_binary() { cmake --build "$build" --target crs -j "$(nproc)"; }
install_stage() {
  rm -rf "$stage"
  cmake --install "$build" --prefix "$stage" >/dev/null
  strip --strip-unneeded "$stage/bin/crs"
  test -x "$stage/bin/crs"
}

case "$step" in
  configure) configure ;;
  build) build_binary ;;
  install) install_stage ;;
  all) configure && build_binary && install_stage ;;
  *) echo "build.sh: unknown step $step" >&2; exit 2 ;;
esac
