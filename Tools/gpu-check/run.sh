#!/usr/bin/env bash
# The GPU check of issue #17, in one short run on a machine with a GPU (no network, no Swift):
# unpacks a bundle made by Tools/gpu-check/bundle.sh and writes to $OUT (default /tmp/gpu-check):
#   check.txt           everything below, in order, with the card and driver named
#   bench-opencl.jsonl  `mend bench models --device opencl:gpu --json` (z_iter_b64, z_iter_b1, SR_fwd_b1,
#                       G/D forward; launches, host waits, creations and command buffers per run)
#   bench-opencl-variants.jsonl  the z iterations with half weights, without split reductions, and
#                       on the lowered path (a "variant" field on each line)
#   bench-cpu.jsonl     the same cases on the machine's CPU path (same binary), for scale
#   torch-cuda.json     PyTorch CUDA on the same card, if `import torch` works there with CUDA
# plus the main command's wall time on the GPU and its output picture (complete-gpu.png).
#
#   bash Tools/gpu-check/run.sh .gpu-bundle/mend-gpu.tar.xz [--quick]
#
# --quick: short budgets and 50 iterations for the main command (a dry run on PoCL takes ~3 min).
set -uo pipefail
bundle=${1:?usage: run.sh BUNDLE.tar.xz [--quick]}
quick=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
log="$out/check.txt"
: > "$log"
say() { echo "$@" | tee -a "$log"; }
run() { say "\$ $*"; "$@" 2>&1 | tee -a "$log"; return "${PIPESTATUS[0]}"; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tar -C "$dir" -xJf "$bundle" || { say "gpu-check: cannot unpack $bundle"; exit 1; }
export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! ldconfig -p 2>/dev/null | grep -q 'libOpenCL\.so\.1 '; then
  export MEND_OPENCL_LIBRARY="$dir/lib-fallback/libOpenCL.so.1"
  say "gpu-check: no system libOpenCL.so.1; using the bundle's ocl-icd loader"
fi
# bench models times the face generator file: the photo model's G has the same architecture.
cp "$dir/weights/dcgan-photo-G.safetensors" "$dir/weights/dcgan-face-G.safetensors"
cp "$dir/weights/dcgan-photo-D.safetensors" "$dir/weights/dcgan-face-D.safetensors"
export MEND_WEIGHTS="$dir/weights" MEND_CACHE_DIR="$dir/cache" HOME="$dir/home"
mkdir -p "$HOME"
mend="$dir/bin/mend"
say "gpu-check: mend $(cat "$dir/COMMIT"), $(date -u +%FT%TZ), $(uname -srm)"
command -v nvidia-smi >/dev/null && run nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
ls /etc/OpenCL/vendors 2>/dev/null | sed 's/^/icd: /' | tee -a "$log"
run "$mend" --version
run "$mend" devices --probe || { say "gpu-check: no OpenCL device"; }
# The GPU: the first OpenCL device of type GPU (mend's auto picks the discrete GPU with most CUs).
dev=$("$mend" devices 2>/dev/null | awk '/^opencl:[0-9]+ / && /\[GPU\]/{print $1; exit}')
if [ -z "$dev" ]; then
  dev=$("$mend" devices 2>/dev/null | awk '/^opencl:[0-9]+ /{print $1; exit}')
  say "gpu-check: no OpenCL GPU listed; using ${dev:-none} (a dry run)"
fi
[ -n "$dev" ] || exit 1
budget=3; iters=1000
[ "$quick" = "--quick" ] && { budget=0.5; iters=50; }
say "gpu-check: device $dev, bench budget ${budget} s per case"
run "$mend" devices --warm --device "$dev" || true
for f in z_iter fwd; do
  "$mend" bench models --device "$dev" --json --budget "$budget" --filter "$f" 2>>"$log" | tee -a "$out/bench-opencl.jsonl" "$log"
done
# Variants of the OpenCL path on the z iterations: half-precision weights, no split reductions, and
# the lowered path (im2col + CLBlast), each line tagged with its variant.
for v in MEND_OPENCL_FP16=weights MEND_OPENCL_SPLIT=1 MEND_OPENCL_CONV=lowered; do
  say "gpu-check: variant $v"
  env "$v" "$mend" bench models --device "$dev" --json --budget "$budget" --filter z_iter 2>>"$log" \
    | sed "s/^{/{\"variant\":\"$v\",/" | tee -a "$out/bench-opencl-variants.jsonl" "$log"
done
for f in z_iter fwd; do
  "$mend" bench models --device cpu --json --budget "$budget" --filter "$f" 2>>"$log" | tee -a "$out/bench-cpu.jsonl" "$log"
done
# The main command (the README's), on the GPU, timed as a user would.
t0=$(date +%s.%N)
run "$mend" complete "$dir/example/astronaut-face.png" --mask "$dir/example/astronaut-face-mask.png" \
  -o "$out/complete-gpu.png" --device "$dev" --iterations "$iters"
t1=$(date +%s.%N)
say "gpu-check: main command ($iters iterations) on $dev: $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s wall"
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  run python3 "$here/torch_cuda.py" --budget "$budget" --json "$out/torch-cuda.json"
else
  say "gpu-check: PyTorch with CUDA is not importable here: no PyTorch baseline in this run"
fi
say "gpu-check: done"
