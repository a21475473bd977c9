#!/usr/bin/env bash
# libFuzzer over every reader mend has: PNG, JPEG, WebP, safetensors, .npy, masks, and the CLI's
# arguments-to-plan validation (Fuzz/, seeds in Fuzz/corpus). Built with -sanitize=fuzzer,address and
# MEND_CHECKED=1 (-O: bounds, overflow and precondition checks on) in .build-fuzz.
#
#   Tools/fuzz.sh [SECONDS] [TARGET...]   run each target SECONDS (default 20), one after another
#   Tools/fuzz.sh --build                 build only
#
# Targets: png jpeg webp safetensors npy mask cli (default: all). New inputs that add coverage go to
# .build-fuzz/corpus/TARGET (kept between runs), crashes to .build-fuzz/artifacts/. The last line per
# target is "fuzz-TARGET: N executions in S s, ok" (or FAIL); the script fails on any crash, leak,
# timeout (10 s per input) or out-of-memory (2 GiB).
#
# MEND_FUZZ_TIMEOUT=S sets the per-input timeout (default 10 s). libFuzzer measures it in wall-clock
# time, so a run at `nice -n 19` behind other work on a busy machine can be descheduled long enough
# to report a "timeout" on an input that takes milliseconds (seen: 22 s on a 40 ms input); such runs
# need a larger value (a real hang still fails, later).
set -euo pipefail
cd "$(dirname "$0")/.."
all=(png jpeg webp safetensors npy mask cli)
build_only=0; seconds=20
if [ "${1:-}" = "--build" ]; then build_only=1; shift; elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# The CLI target compiles mend's own sources (without @main): link them fresh, so new files count.
mkdir -p Fuzz/fuzz-cli/mend
rm -f Fuzz/fuzz-cli/mend/*.swift
for f in Tools/mend/*.swift; do ln -s "../../../$f" Fuzz/fuzz-cli/mend/; done

export MEND_FUZZ=1 MEND_CHECKED=1
for t in "${targets[@]}"; do
  set +o pipefail
  swift build -c release --scratch-path .build-fuzz --product "fuzz-$t" \
    --sanitize=address -Xswiftc -sanitize=fuzzer -Xcc -fsanitize=fuzzer-no-link 2>&1 | grep -vE "ld.gold: warning: Cannot export local symbol"
  rc=${PIPESTATUS[0]}
  set -o pipefail
  [ "$rc" -eq 0 ] && [ -x ".build-fuzz/release/fuzz-$t" ] || { echo "FAIL: fuzz-$t did not build"; exit 1; }
done
[ $build_only = 1 ] && exit 0

status=0
mkdir -p .build-fuzz/artifacts
for t in "${targets[@]}"; do
  # Absolute paths: the CLI target works inside its own sandbox folder.
  work=$PWD/.build-fuzz/corpus/$t; mkdir -p "$work"
  dict=(); [ -f "Fuzz/$t.dict" ] && dict=(-dict="$PWD/Fuzz/$t.dict")
  log=.build-fuzz/fuzz-$t.log
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ".build-fuzz/release/fuzz-$t" "$work" "$PWD/Fuzz/corpus/$t" \
    -max_total_time="$seconds" -timeout="${MEND_FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$PWD/.build-fuzz/artifacts/$t-" "${dict[@]}" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz-$t: ${runs:-?} executions in ${secs:-?} s, ok"
  else
    echo "fuzz-$t: FAIL (exit $rc) after ${runs:-?} executions; log $log:"
    grep -E "ERROR|SUMMARY|Fatal error|precondition|deadly|Test unit written" "$log" | head -20
    status=1
  fi
done
exit $status
