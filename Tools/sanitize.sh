#!/usr/bin/env bash
# The test suite under AddressSanitizer and ThreadSanitizer: the CPU thread pool, the OpenCL queue,
# the progress reporting and every reader run instrumented. Release builds (the suite is too slow
# unoptimised) with MEND_CHECKED=1 (-O: bounds and overflow checks on too), each in its own scratch
# folder. Heap-allocation counting (Tests/MallocCounter) is off under sanitizers, so those tests skip.
#
#   Tools/sanitize.sh [address|thread|both] [SUITE-FILTER]
#
# Default: both, the whole suite. Results and timings: docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}; filter=${2:-}
kinds=(); case $which in address|thread) kinds=("$which");; both) kinds=(address thread);; *) echo "usage: $0 [address|thread|both] [filter]"; exit 2;; esac
status=0
for k in "${kinds[@]}"; do
  scratch=.build-$k
  echo "== --sanitize=$k: build ($scratch) =="
  set +o pipefail
  MEND_CHECKED=1 swift build -c release --build-tests --sanitize="$k" --scratch-path "$scratch" 2>&1 \
    | grep -vE "ld.gold: warning: Cannot export local symbol"
  rc=${PIPESTATUS[0]}
  set -o pipefail
  [ "$rc" -eq 0 ] || { echo "FAIL: the $k build failed"; exit 1; }
  echo "== --sanitize=$k: tests${filter:+ ($filter)} =="
  log=/tmp/mend-sanitize-$k.log
  set +e
  # halt_on_error: the first report fails the run. LeakSanitizer: every `mend` the CLI tests start
  # (MEND_BINARY: the instrumented build) runs with leak detection on and must exit cleanly
  # (MEND_CHILD_ASAN_OPTIONS); the test process itself runs without it, since XCTest and
  # Foundation.Process keep their own objects alive at exit (~440 allocations, 34 KB, none from mend's
  # modules: checked by hand, docs/reliability.md).
  ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 MEND_CHILD_ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    MEND_CHECKED=1 MEND_BINARY="$scratch/release/mend" \
    swift test -c release --skip-build --disable-swift-testing --sanitize="$k" --scratch-path "$scratch" \
    ${filter:+--filter "$filter"} >"$log" 2>&1
  rc=$?
  set -e
  reports=$(grep -cE "^(==[0-9]+==ERROR: AddressSanitizer|==[0-9]+==ERROR: LeakSanitizer|WARNING: ThreadSanitizer)" "$log" || true)
  grep -E "^\s*Executed [0-9]+ tests?, with " "$log" | tail -1
  echo "--sanitize=$k: exit $rc, $reports sanitizer reports (log $log)"
  if [ $rc -ne 0 ] || [ "$reports" -ne 0 ]; then
    grep -E -A12 "ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|error: -\[|Fatal error" "$log" | head -60
    status=1
  fi
done
exit $status
