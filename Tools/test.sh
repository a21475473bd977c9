#!/usr/bin/env bash
# The whole test suite: system packages, a release build (the CPU kernels need optimisation and a
# target CPU to run the suite in reasonable time), every test, and proof that a build without the
# OpenCL trait neither needs nor links libOpenCL.
set -euo pipefail
# pipefail: a failing `swift test` fails the script even through `tee`.
cd "$(dirname "$0")/.."
bash Tools/setup.sh
swift build -c release --build-tests
swift test -c release --skip-build --disable-swift-testing 2>&1 | tee /tmp/mend-test.log

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

# One closing line for the whole run (XCTest's own summary comes first, above).
summary=$(grep -E "^\s*Executed [0-9]+ tests?, with [0-9]+ failures?" /tmp/mend-test.log | tail -1)
total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
echo "$((total - failed)) passed, $failed failed"
