#!/usr/bin/env bash
# Installs everything anygrad needs to build and test on Debian 12 (run as root).
# Usage: scripts/install-deps.sh [--demo]   (--demo also installs the Fashion-MNIST data set)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential cmake pkg-config valgrind
  check libsubunit-dev
  libopenblas-dev zlib1g-dev
  libvulkan-dev glslang-tools spirv-tools mesa-vulkan-drivers vulkan-validationlayers
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libclblast-dev
  libcjson-dev
  libopenmpi-dev openmpi-bin
  clang
)
if [ "${1:-}" = "--demo" ]; then packages+=(dataset-fashion-mnist); fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
