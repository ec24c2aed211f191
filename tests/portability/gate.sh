#!/usr/bin/env bash
# tests/portability/gate.sh — the kernel portability gate.
#
#   gate.sh DUMPDIR VULKAN_ENV
#
# DUMPDIR is what kernel_dump wrote: the OpenCL program exactly as the backend
# builds it (opencl/program.cl) with every set of build options it can pass
# (opencl/options.txt), and every embedded SPIR-V module (vulkan/*.spv).
#
# OpenCL: each option set is compiled by clang as strict OpenCL C (the
# version the options name, 1.1 when they name none), pedantic, warnings as
# errors, with every optional extension switched off (no cl_khr_fp64, no
# cl_khr_fp16: a double literal or a half type fails), for 32- and 64-bit
# devices. Vendor compilers (NVIDIA, AMD, Intel, Mesa) reject constructs that
# PoCL's clang accepts as extensions, such as variadic macros; this catches them.
#
# Vulkan: every module is validated by spirv-val for VULKAN_ENV, the lowest
# Vulkan version the README promises.
#
# Exit status 0 when everything passes, 1 when anything fails (each failure
# is printed with the compiler's diagnostics), 2 when a tool is missing.
set -uo pipefail
dir=${1:?usage: gate.sh DUMPDIR VULKAN_ENV}
vkenv=${2:?usage: gate.sh DUMPDIR VULKAN_ENV}
clang=${AG_GATE_CLANG:-clang}
spirv_val=${AG_GATE_SPIRV_VAL:-spirv-val}
failed=0
checked=0

if [ -f "$dir/opencl/program.cl" ]; then
  command -v "$clang" >/dev/null || { echo "gate: $clang not found (install clang)" >&2; exit 2; }
  while IFS= read -r opts || [ -n "$opts" ]; do
    std="-cl-std=CL1.1"
    case " $opts " in *" -cl-std="*) std="" ;; esac
    for target in spir spir64; do
      # shellcheck disable=SC2086  # options are a word list, as clBuildProgram splits them
      if ! log=$("$clang" -target "$target" -x cl $std $opts -Xclang -finclude-default-header \
                 -Xclang -cl-ext=-all -fsyntax-only -pedantic -Werror -Wdouble-promotion \
                 "$dir/opencl/program.cl" 2>&1); then
        echo "FAIL opencl [$target ${std:+$std }$opts]"
        echo "$log" | head -40
        failed=$((failed + 1))
      fi
      checked=$((checked + 1))
    done
  done < "$dir/opencl/options.txt"
fi

if [ -d "$dir/vulkan" ]; then
  command -v "$spirv_val" >/dev/null || { echo "gate: $spirv_val not found (install spirv-tools)" >&2; exit 2; }
  for spv in "$dir"/vulkan/*.spv; do
    [ -e "$spv" ] || continue
    if ! log=$("$spirv_val" --target-env "$vkenv" "$spv" 2>&1); then
      echo "FAIL vulkan $(basename "$spv" .spv) [$vkenv]"
      echo "$log" | head -20
      failed=$((failed + 1))
    fi
    checked=$((checked + 1))
  done
fi

if [ "$checked" -eq 0 ]; then
  echo "gate: nothing to check in $dir" >&2
  exit 1
fi
echo "portability gate: $((checked - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
