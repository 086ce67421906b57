#!/usr/bin/env bash
# Installs everything nnport needs to build and test (idempotent), then configures and builds.
# Usage: scripts/setup.sh [--no-build] [--sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libprotobuf-dev protobuf-compiler libonnx-dev   # ONNX import/export through the system onnx.proto
  libgtest-dev libgmock-dev libbenchmark-dev      # unit tests, micro-benchmarks
  libxnnpack-dev libpthreadpool-dev libdnnl-dev   # CPU backends: XNNPACK on pthreadpool (the session's pool), oneDNN
  libcli11-dev nlohmann-json3-dev libfmt-dev      # CLI, JSON, formatting
  libstb-dev                                      # stb_image: calibration images (quantize/prune --data)
  libonnx-testdata                                # ONNX backend test data: the conformance gate
  python3-torch python3-torchvision python3-onnx python3-numpy  # zoo model generation and references only
  python3-sklearn                                 # digits data set for the trained quantization-accuracy model
  graphviz                                        # `nnport check --html` lays out the graph with dot
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime (npm onnxruntime-node, CPU build with its native library) for the export gate and side-by-side runs.
# --ignore-scripts: its postinstall only fetches optional CUDA providers from nuget.org, which is not reachable.
if ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -f tools/ort/node_modules/onnxruntime-node/package.json ]; then
  echo "setup: installing onnxruntime-node into tools/ort"
  (cd tools/ort && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

BUILD=1
SAN=OFF
for a in "$@"; do
  case "$a" in
    --no-build) BUILD=0 ;;
    --sanitize) SAN=ON ;;
  esac
done
if [ "$BUILD" = 1 ]; then
  dir=build
  [ "$SAN" = ON ] && dir=build-asan
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNNPORT_SANITIZE=$SAN >/dev/null
  ninja -C "$dir" -j "$(nproc)"
fi
