#!/usr/bin/env bash
# Runs every libFuzzer binary of a fuzz build for a bounded time (make fuzz):
#   run-fuzzers.sh <build dir> <seconds per fuzzer>
# Each starts from the saved corpus (tests/fuzz/corpus/<name>, never written to) and keeps
# what it finds in <build dir>/corpus/<name>; a crash is saved in <build dir>/crashes/ and
# fails the run. The last lines of each run (executions, coverage) go to <build dir>/fuzz-report.txt.
set -euo pipefail
build="$1"
seconds="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
report="$build/fuzz-report.txt"
mkdir -p "$build/crashes"
: > "$report"
failed=0
for fuzzer in "$build"/fuzz_*; do
  name="$(basename "$fuzzer")"
  name="${name#fuzz_}"
  mkdir -p "$build/corpus/$name"
  echo "== $name: ${seconds}s" | tee -a "$report"
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/crashes/$name-" \
      "$build/corpus/$name" "$root/tests/fuzz/corpus/$name" > "$build/fuzz-$name.log" 2>&1; then
    failed=1
    echo "   FAILED: see $build/fuzz-$name.log and $build/crashes/" | tee -a "$report"
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)|^#[0-9]+[[:space:]]+DONE" "$build/fuzz-$name.log" \
    | sed 's/^/   /' | tee -a "$report" || true
done
exit "$failed"
