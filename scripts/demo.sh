#!/usr/bin/env bash
# Installs the dependencies (and the Fashion-MNIST data set), builds anygrad and
# trains the demo model on the best available device (AG_DEVICE overrides).
# Usage (from the repository root, as root on Debian 12): bash scripts/demo.sh [demo options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --demo
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"
./build/tools/anygrad-info || true
exec ./build/examples/fashion_mnist --device "${AG_DEVICE:-auto}" "$@"
