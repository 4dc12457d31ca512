# The two commands of the quick start: `make run` and `make test`.
# Both install what is missing (Debian 12, apt), build in Release, then run.

BUILD_DIR ?= build
BUILD_TYPE ?= Release
WERROR ?= OFF
JOBS ?= $(shell nproc)
CTEST_ARGS ?=
# ccache refuses every compile that uses the precompiled headers unless told these are safe.
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
# Another clone does not hit this cache: the precompiled headers list absolute paths, so their
# .gch differs and so does the hash of every object built with one.

.PHONY: all deps configure build run test test-ops test-sanitize test-tsan soak fuzz bench bench-export bench-admin-reads clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCRS_WERROR=$(WERROR) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds only the relay binary (not the tests and tools), then serves in the foreground.
run: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target crs
	@echo "make run: starting ./$(BUILD_DIR)/crs serve; its 'admin login:' line says where the admin login is"
	./$(BUILD_DIR)/crs serve

test: build
	@bash scripts/install-deps.sh --with-test-clients
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Operations: the Dockerfile's build script from scratch (its own build directory; with ccache
# and the same flags as `build` it mostly hits the cache), then the container's run steps on
# what it staged, and the checks of the deployment files against that binary.
test-ops: deps
	@bash scripts/install-deps.sh --with-test-clients
	@cd tests/ops && CRS_SOURCE_DIR=$(CURDIR) CRS_BUILD_DIR=$(CURDIR)/build-stage CRS_BINARY=$(CURDIR)/build-stage/crs \
	  CRS_STAGE_FROM=$(CURDIR)/build-stage CRS_STAGE_STEP=all CRS_CMAKE_ARGS="-DCRS_WERROR=$(WERROR)" \
	  PYTHONDONTWRITEBYTECODE=1 python3 -m unittest -v container_run_test container_files_test systemd_unit_test

# The benchmark of bench/README.md: relay vs nginx vs direct, results in bench/results/.
bench: build
	@bash scripts/install-deps.sh --bench
	@python3 bench/run.py $(BENCH_ARGS)

# The key export benchmark (issue 17): 100,000 keys as CSV, JSON and NDJSON, time and memory.
bench-export: build
	@python3 bench/export.py $(BENCH_ARGS)

# The admin read benchmark (issue 18): listing 20,000 keys with and without the query optimizer.
bench-admin-reads: build
	@python3 bench/admin_reads.py $(BENCH_ARGS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer (separate build dir).
test-sanitize: deps
	@bash scripts/install-deps.sh --with-test-clients
	@cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCRS_SANITIZE=address,undefined \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The soak (issue 22): SOAK_REQUESTS relayed requests with faults sprinkled in; RSS and fds
# sampled (PNG in docs/), slots and metering checked at the end. bench/results/<date>-soak.md.
SOAK_REQUESTS ?= 1000000
soak: build
	@python3 bench/soak.py --requests $(SOAK_REQUESTS)

# The multi-threaded parts under ThreadSanitizer (issue 22): the relay with its I/O threads,
# blocking pool and spool thread, driven by every integration and store test (the unit tests,
# the corpus replays, the container file checks, browsers and real clients are left out). Slow
# (TSan costs 5-15x), so not part of `make test`. A report fails the run.
TSAN_EXCLUDE ?= NOT_BUILT|^fuzz[.]|^ops[.]|ConsoleBrowser|RealClients
test-tsan: deps
	@cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRS_SANITIZE=thread \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target crs fake-upstream test-proxy integration_tests store_tests
	@rm -rf build-tsan/tsan && mkdir -p build-tsan/tsan
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$(CURDIR)/build-tsan/tsan/report" \
	  ctest --output-on-failure -j $(JOBS) -E '$(TSAN_EXCLUDE)' $(CTEST_ARGS); rc=$$?; \
	  if ls tsan/report* >/dev/null 2>&1; then echo "ThreadSanitizer reports:"; cat tsan/report*; exit 1; fi; \
	  exit $$rc

# libFuzzer on every fuzz target (tests/fuzz) under ASan+UBSan, FUZZ_SECONDS each (clang).
# -O1 with line tables only: a cold build takes ~5 minutes on 2 cores (RelWithDebInfo: ~3x),
# so CI can afford it.
FUZZ_SECONDS ?= 60
fuzz:
	@bash scripts/install-deps.sh --fuzz
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_FLAGS_FUZZ="-O1 -gline-tables-only" \
	  -DCMAKE_CXX_COMPILER=clang++-16 \
	  -DCRS_FUZZ=ON -DCRS_SANITIZE=address,undefined -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzzers
	@bash scripts/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) build-sanitize build-stage build-fuzz build-tsan
