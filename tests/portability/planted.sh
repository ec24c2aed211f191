#!/usr/bin/env bash
# tests/portability/planted.sh — shows that the portability gate fails on
# non-portable kernels: each case plants one construct into a fresh dump of
# the real kernels and expects gate.sh to fail with the matching diagnostic.
#
#   planted.sh KERNEL_DUMP GATE VULKAN_ENV GLSLANG
set -uo pipefail
dump=${1:?}; gate=${2:?}; vkenv=${3:?}; glslang=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0; fail=0

# expect_fail NAME PATTERN: the gate run on $work/d must fail and print PATTERN.
expect_fail() {
  local out
  if out=$(bash "$gate" "$work/d" "$vkenv" 2>&1); then
    echo "FAIL $1: the gate passed a planted non-portable construct"; fail=$((fail + 1))
  elif ! grep -q -- "$2" <<<"$out"; then
    echo "FAIL $1: the gate failed without the expected diagnostic \"$2\":"; echo "$out" | head -20
    fail=$((fail + 1))
  else
    echo "ok   $1"; pass=$((pass + 1))
  fi
}
fresh() { rm -rf "$work/d" && "$dump" "$work/d" || { echo "kernel_dump failed"; exit 1; }; }

if fresh && [ -f "$work/d/opencl/program.cl" ]; then
  cat >>"$work/d/opencl/program.cl" <<'CL'
#define PLANTED_BODY(x, ...) x = __VA_ARGS__;
__kernel void planted_variadic(__global float *d) { PLANTED_BODY(d[0], 1.0f) }
CL
  expect_fail "OpenCL variadic macro (clang extension)" "variadic macros"
  fresh
  echo '__kernel void planted_double(__global float *d) { d[0] = (float)(d[1] * 0.5); }' \
    >>"$work/d/opencl/program.cl"
  expect_fail "OpenCL double constant without cl_khr_fp64" "cl_khr_fp64"
  fresh
  echo '__kernel void planted_half(__global half *d) { d[0] = d[1]; }' >>"$work/d/opencl/program.cl"
  expect_fail "OpenCL half arithmetic without cl_khr_fp16" "cl_khr_fp16"
fi

if fresh && [ -d "$work/d/vulkan" ]; then
  [ -n "$glslang" ] || { echo "planted.sh: no glslangValidator given"; exit 1; }
  printf '#version 450\nlayout(local_size_x = 1) in;\nlayout(std430, binding = 0) buffer B { float v[]; };\nvoid main() { v[0] = 1.0; }\n' \
    >"$work/planted.comp"
  "$glslang" -V --quiet --target-env vulkan1.3 -o "$work/d/vulkan/planted_vk13.spv" "$work/planted.comp" ||
    { echo "glslangValidator failed"; exit 1; }
  expect_fail "SPIR-V module for Vulkan 1.3 (SPIR-V 1.6)" "planted_vk13"
fi

echo "planted: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
