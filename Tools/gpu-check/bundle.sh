#!/usr/bin/env bash
# Packs what the GPU check needs into one archive that travels to a machine with no network and no
# Swift: the release `mend` (the README's build), the shared libraries it loads that are not part of
# a base system (the Swift runtime, libpng/jpeg/webp), CLBlast, a fallback OpenCL ICD loader, the
# face cascade, the photo face model and SRResNet weights, and the example photo.
#
#   bash Tools/gpu-check/bundle.sh [OUT.tar.xz]      # default .gpu-bundle/mend-gpu.tar.xz (< 60 MiB)
#
# Then, with the device tool: run `bash Tools/gpu-check/run.sh .gpu-bundle/mend-gpu.tar.xz` there,
# carrying `.gpu-bundle` (see Tools/gpu-check/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.gpu-bundle/mend-gpu.tar.xz}
mkdir -p "$(dirname "$out")"
swift build -c release --product mend >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/lib-fallback" "$stage/weights" "$stage/example"
cp .build/release/mend "$stage/bin/"
# Every library mend loads except the C/C++ runtime every Linux has (glibc, libstdc++, libgcc, zlib).
ldd .build/release/mend | awk '/=> \//{print $3}' \
  | grep -v -E '/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libz)\.so' \
  | while read -r l; do cp -L "$l" "$stage/lib/"; done
cl=$(ldconfig -p | awk '/libclblast\.so\.1 /{print $NF; exit}')
[ -n "$cl" ] || { echo "bundle: libclblast.so.1 not found (apt-get install libclblast1)" >&2; exit 1; }
cp -L "$cl" "$stage/lib/"
# CLBlast's own dependencies beyond the base system (libOpenCL is the driver's business).
ldd "$cl" | awk '/=> \//{print $3}' | { grep -v -E '/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libz|libOpenCL)\.so' || true; } \
  | while read -r l; do cp -Ln "$l" "$stage/lib/" 2>/dev/null || true; done
# ocl-icd's loader, used only when the GPU machine has no libOpenCL.so.1 of its own.
ocl=$(ldconfig -p | awk '/libOpenCL\.so\.1 /{print $NF; exit}')
[ -n "$ocl" ] && cp -L "$ocl" "$stage/lib-fallback/"
w=$(python3 Tools/fetch-weights --print-dir)
for f in dcgan-photo-G.safetensors dcgan-photo-D.safetensors srresnet-x4.safetensors; do
  cp "$w/$f" "$stage/weights/" || { echo "bundle: $w/$f missing (bash Tools/setup.sh)" >&2; exit 1; }
done
casc=""
for d in "$w" /usr/share/opencv4/haarcascades /usr/share/opencv/haarcascades; do
  [ -f "$d/haarcascade_frontalface_default.xml" ] && { casc="$d/haarcascade_frontalface_default.xml"; break; }
done
[ -n "$casc" ] && cp "$casc" "$stage/weights/"
cp docs/example/astronaut-face.png docs/example/astronaut-face-mask.png "$stage/example/"
git rev-parse --short HEAD > "$stage/COMMIT" 2>/dev/null || echo unknown > "$stage/COMMIT"
tar -C "$stage" -cJf "$out" .
size=$(stat -c %s "$out")
echo "bundle: $out, $((size / 1048576)) MiB ($(cat "$stage/COMMIT"))"
[ "$size" -lt $((60 * 1048576)) ] || { echo "bundle: over 60 MiB: the device tool carries 64 MiB in all" >&2; exit 1; }
