# The two commands of the quick start: `make run` and `make test`.
# Both install what is missing (Debian 12, apt), build in Release, then run.

BUILD_DIR ?= build
BUILD_TYPE ?= Release
WERROR ?= OFF
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure build run test test-sanitize bench bench-export bench-admin-reads clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCRS_WERROR=$(WERROR) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/crs serve

test: build
	@bash scripts/install-deps.sh --with-test-clients
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

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
	@cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCRS_SANITIZE=address,undefined \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

clean:
	rm -rf $(BUILD_DIR) build-sanitize
