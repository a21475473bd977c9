#!/usr/bin/env bash
# The whole test suite: system packages, a release build (the CPU kernels need optimisation and a
# target CPU to run the suite in reasonable time), every test, and proof that a build without the
# OpenCL trait neither needs nor links libOpenCL.
set -euo pipefail
start_seconds=$SECONDS
# pipefail: a failing `swift test` fails the script even through `tee`.
cd "$(dirname "$0")/.."
bash Tools/setup.sh
bash Tools/lint.sh
swift build -c release --build-tests
Tools/link-kernels --check
swift test -c release --skip-build --disable-swift-testing 2>&1 | tee /tmp/mend-test.log
logs=(/tmp/mend-test.log)

# The op table and gradient checks above run on every kernel level this CPU supports; the model
# parity, tiled super-resolution, inpainting and training-gradient tests run again here on each
# level other than the best (MEND_CPU_ISA forces one).
levels=$(.build/release/mend devices | sed -n 's/^cpu isa .*this CPU runs \(.*\) (MEND_CPU_ISA.*/\1/p' | tr -d ',')
best=$(echo "$levels" | awk '{print $1}')
for isa in avx512 avx2 generic; do
  if ! echo " $levels " | grep -q " $isa "; then
    echo "== kernel level $isa: not supported by this CPU, not tested here (skipped) =="
    continue
  fi
  [ "$isa" = "$best" ] && continue
  echo "== kernel level $isa (MEND_CPU_ISA=$isa): model parity, tiled SR, inpainting, training gradients =="
  MEND_CPU_ISA=$isa MEND_TEST_CPU_ONLY=1 swift test -c release --skip-build --disable-swift-testing \
    --filter 'ParityTests|UpscalerTests|InpaintingTests|DCGANTrainingTests.testDiscriminatorParameterGradients|DCGANTrainingTests.testGeneratorParameterGradients|SRTrainingTests.testParameterGradientsAndLearning' \
    2>&1 | tee "/tmp/mend-test-$isa.log"
  logs+=("/tmp/mend-test-$isa.log")
done

echo "== API documentation (DocC): every public symbol of Mend documented, every link resolved =="
Tools/build-docs

echo "== Examples/: a package that depends on mend by path, built and run =="
swift build -c release --package-path Examples
rm -rf /tmp/mend-example
Examples/.build/release/MendExample docs/example/astronaut-face.png docs/example/astronaut-face-mask.png /tmp/mend-example 50
test -s /tmp/mend-example/completed.png && test -s /tmp/mend-example/upscaled.png
echo "Examples: ok"

echo "== the default build opens libOpenCL and CLBlast at run time: neither is linked =="
if ldd .build/release/mend | grep -qiE "libOpenCL|libclblast"; then
  echo "FAIL: mend links OpenCL at build time:"; ldd .build/release/mend | grep -iE "opencl|clblast"; exit 1
fi

echo "== CPU-only build (swift build --disable-default-traits): no OpenCL library needed =="
swift build -c release --disable-default-traits --product mend --scratch-path .build-cpuonly
bin=.build-cpuonly/release/mend
if ldd "$bin" | grep -qiE "libOpenCL|libclblast"; then
  echo "FAIL: the CPU-only mend links OpenCL:"; ldd "$bin" | grep -iE "opencl|clblast"; exit 1
fi
"$bin" devices | tee /tmp/mend-cpuonly-devices.txt
grep -q "^cpu" /tmp/mend-cpuonly-devices.txt
if "$bin" bench ops --device opencl --filter gemm_7x7x7 2>/tmp/mend-cpuonly-err.txt; then
  echo "FAIL: the CPU-only build accepted --device opencl"; exit 1
fi
grep -q "built without OpenCL" /tmp/mend-cpuonly-err.txt
echo "CPU-only build: ok (no libOpenCL/libclblast linked; --device opencl refused with a clear error)"

# The fast suites again with checks on: MEND_CHECKED=1 builds release with -O instead of
# -Ounchecked, so preconditions, bounds and overflow checks run (the default build removes them).
# The CLI tests drive this build's own mend (MEND_BINARY).
echo "== checked build (MEND_CHECKED=1: -O, preconditions/bounds/overflow on): fast suites =="
MEND_CHECKED=1 swift build -c release --build-tests --scratch-path .build-checked
MEND_CHECKED=1 MEND_BINARY=.build-checked/release/mend swift test -c release --skip-build --disable-swift-testing \
  --scratch-path .build-checked \
  --filter 'ImagingTests|BatchingTests|ComputeTests|SafeTensorsTests|SupportTests|GraphTests|MaskHardeningTests|CLITests|FaceDetectionTests' \
  2>&1 | tee /tmp/mend-test-checked.log
logs+=(/tmp/mend-test-checked.log)

# Every reader under libFuzzer with AddressSanitizer, 20 s each (Tools/fuzz.sh; longer runs and their
# numbers: docs/reliability.md).
echo "== fuzz smoke: ${MEND_FUZZ_SECONDS:-20} s per target =="
Tools/fuzz.sh "${MEND_FUZZ_SECONDS:-20}"

# One closing line for the whole run: each swift test run's own total (its last "Executed" line).
# XCTest counts a skipped test as executed: skips are counted apart and never reported as passed;
# under CI=true a skip fails the run (a CI machine must have what every test needs).
total=0; failed=0; skipped=0
for log in "${logs[@]}"; do
  summary=$(grep -E "^\s*Executed [0-9]+ tests?, with " "$log" | tail -1)
  [ -n "$summary" ] || { echo "FAIL: no test summary in $log"; exit 1; }
  total=$((total + $(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')))
  failed=$((failed + $(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')))
  if echo "$summary" | grep -qE "[0-9]+ tests? skipped"; then
    skipped=$((skipped + $(echo "$summary" | sed -E 's/.* ([0-9]+) tests? skipped.*/\1/')))
  fi
done
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests:"; grep -hE "Test Case .* skipped|: Skipped|error: .*XCTSkip|skipped" "${logs[@]}" | grep -v "Executed" | sort -u | head -20
fi
echo "$((total - failed - skipped)) passed, $skipped skipped, $failed failed"
if [ "${CI:-}" = "true" ] && [ "$skipped" -gt 0 ]; then
  echo "FAIL: CI=true and $skipped tests skipped"; exit 1
fi
[ "$failed" -eq 0 ]
echo "test.sh: $(( (SECONDS - start_seconds) / 60 )) min $(( (SECONDS - start_seconds) % 60 )) s"
