#!/usr/bin/env bash
# Formatting check with the toolchain's swift-format and the repository's .swift-format.
# Strict on the paths listed here (formatted with `swift format format --in-place --recursive
# PATH`); add a path once its files are formatted. The rest of the tree predates the formatter and
# is formatted file by file as it is edited, so as not to collide with work in progress.
set -euo pipefail
cd "$(dirname "$0")/.."
formatted=(Sources/Mend Tests/MendTests Sources/FaceDetection Tests/FaceDetectionTests Examples/Package.swift Examples/Sources)
swift format lint --strict --recursive "${formatted[@]}"
echo "lint: ok (${formatted[*]})"
