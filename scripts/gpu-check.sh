#!/usr/bin/env bash
# scripts/gpu-check.sh — proves a GPU machine in one command: the device
# list, the whole test suite on each GPU device (Vulkan and OpenCL; on Vulkan
# also the GEMM suites with the large-product kernel forced), the
# benchmark (with the PyTorch reference when torch is importable there) and
# the demo (MLP and CNN, 1 epoch each, eager and --graph) on each GPU device. It writes
# bench/results/<date>-<gpu>.md (the benchmark's record, which the check's
# findings are added to) with the benchmark's JSON and chart beside it.
#
#   bash scripts/gpu-check.sh [--devices SPEC,...] [--quick] [--out DIR] [--name NAME] [--jobs N]
#
#   --devices  the devices to prove (default: every GPU anygrad lists; on a
#              machine without one, each GPU backend's best device, e.g.
#              lavapipe and PoCL)
#   --quick    the benchmark's quick mode (default: full when a GPU is there)
#   --out DIR  also copy the results files into DIR
#   --name     the results name (default: from the first device's name)
#   --jobs N   test suites run N at a time (default: min(8, cores))
#
# It runs from the repository (after a build into ./build) or from a bundle
# made by scripts/gpu-bundle.sh, which needs no development packages.
# Exit status 0 when every suite, the benchmark and every demo run passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
invocation="bash scripts/gpu-check.sh${*:+ $*}"
cd "$root" || exit 2

devices=""; quick=""; copy_to=""; name=""; jobs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --devices) devices="$2"; shift ;;
    --quick) quick="--quick" ;;
    --out) copy_to="$2"; shift ;;
    --name) name="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
cores=$(nproc 2>/dev/null || echo 2)
[ -n "$jobs" ] || jobs=$((cores < 8 ? cores : 8))
work=$(mktemp -d "${TMPDIR:-/tmp}/anygrad-gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
stamp() { echo "[$(($(date +%s) - start)) s] $*"; }

# ---- Environment: bundled libraries, golden data, data set, caches ----------
# A bundle carries its binaries and libraries in payload.tar.xz (gpu-bundle.sh).
if [ -f payload.tar.xz ] && { [ ! -x build/tools/anygrad-info ] || [ payload.tar.xz -nt build/tools/anygrad-info ]; }; then
  tar -xJf payload.tar.xz 2>/dev/null ||
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(".")' payload.tar.xz ||
    { echo "gpu-check: cannot unpack payload.tar.xz here (need a writable bundle)" >&2; exit 2; }
  touch build/tools/anygrad-info
fi
[ -d tests/golden ] && export AG_GOLDEN_DIR="$root/tests/golden"
data=/usr/share/datasets/fashion-mnist
[ -d data/fashion-mnist ] && data="$root/data/fashion-mnist"
export XDG_CACHE_HOME="$work/cache"
info=build/tools/anygrad-info
[ -x "$info" ] || { echo "gpu-check: $info not found: build first (cmake -B build) or use a bundle" >&2; exit 2; }

# ---- 1. Devices -------------------------------------------------------------
stamp "devices"
"$info" | tee "$work/devices.txt"
"$info" --list >"$work/list.txt" || { echo "gpu-check: listing devices failed" >&2; exit 1; }
gpu_found=yes
if [ -z "$devices" ]; then
  devices=$(awk -F'\t' '$2 != "cpu" {print $1}' "$work/list.txt" | paste -sd, -)
  if [ -z "$devices" ]; then
    gpu_found=no
    devices=$(awk -F'\t' '$1 ~ /^(vulkan|opencl)/ && !seen[substr($1, 1, 6)]++ {print $1}' \
              "$work/list.txt" | paste -sd, -)
    echo "gpu-check: no GPU listed; checking the GPU backends' CPU implementations: $devices"
  fi
fi
[ -n "$devices" ] || { echo "gpu-check: no Vulkan or OpenCL device to check" >&2; exit 1; }
# Without a GPU (lavapipe, PoCL) the benchmark runs quick and the demo trains
# on the first 6,000 images, to finish in minutes on a small CPU.
demo_limit=()
if [ "$gpu_found" = no ]; then quick="--quick"; demo_limit=(--limit 6000); fi
first=${devices%%,*}
first_name=$(awk -F'\t' -v s="$first" '$1 == s {print $3}' "$work/list.txt")
if [ -z "$name" ]; then
  name=$(echo "${first_name:-$first}" | tr '[:upper:]' '[:lower:]' | sed 's/([^)]*)//g; s/[^a-z0-9]\{1,\}/-/g; s/^-//; s/-$//' | cut -c1-40)
  [ "$gpu_found" = yes ] || name="no-gpu-$name"
fi
date_tag=$(date +%Y-%m-%d)
IFS=, read -r -a devs <<<"$devices"

# ---- 2. Test suites on each device --------------------------------------------
stamp "test suites on: $devices ($jobs at a time)"
mkdir -p "$work/suites"
suites=()
for t in build/tests/test_*; do [ -x "$t" ] && [ -f "$t" ] && suites+=("$t"); done
run_one() {  # run_one DEVICE SUITE [VAR=VALUE]: the suite's log and status under its tag
  local tag t0
  tag="${1//[:.]/_}__$(basename "$2")${3:+__${3//[^A-Za-z0-9]/_}}"
  t0=$(date +%s)
  env ${3:+"$3"} AG_TEST_BACKENDS="$1" CK_FORK=no timeout 900 "$2" >"$work/suites/$tag.log" 2>&1
  echo "$? $(($(date +%s) - t0))" >"$work/suites/$tag.status"
}
export -f run_one; export work
for d in "${devs[@]}"; do for s in "${suites[@]}"; do printf '%s\n%s\n\n' "$d" "$s"; done; done |
  xargs -d '\n' -n 3 -P "$jobs" bash -c 'run_one "$0" "$1" "$2"'
# The GPU GEMM kernel of large products (gemm_blocked) on every Vulkan GPU:
# the suites' products are too small to pick it by size.
extra_env=AG_VULKAN_GEMM_TILE=128
extra_suites=(build/tests/test_kernels build/tests/test_half build/tests/test_matmul)
for d in "${devs[@]}"; do
  [[ "$d" == vulkan* ]] || continue
  for s in "${extra_suites[@]}"; do [ -x "$s" ] && printf '%s\n%s\n%s\n' "$d" "$s" "$extra_env"; done
done | xargs -d '\n' -n 3 -r -P "$jobs" bash -c 'run_one "$0" "$1" "$2"'
suite_fail=0
{
  printf '| suite |'; for d in "${devs[@]}"; do printf ' %s |' "$d"; done; echo
  printf '|---|'; for d in "${devs[@]}"; do printf -- '---|'; done; echo
  rows=("${suites[@]}")
  for s in "${extra_suites[@]}"; do [ -x "$s" ] && rows+=("$s $extra_env"); done
  for row in "${rows[@]}"; do
    read -r s var <<<"$row"
    printf '| %s%s |' "$(basename "$s")" "${var:+ ($var)}"
    for d in "${devs[@]}"; do
      tag="${d//[:.]/_}__$(basename "$s")${var:+__${var//[^A-Za-z0-9]/_}}"
      if [ -n "$var" ] && [[ "$d" != vulkan* ]]; then printf ' - |'; continue; fi
      read -r rc secs <"$work/suites/$tag.status" || rc=1
      checks=$(grep -o 'Checks: [0-9]*, Failures: [0-9]*, Errors: [0-9]*' "$work/suites/$tag.log" | tail -1)
      if [ "$rc" = 0 ]; then printf ' pass (%s s) |' "$secs"
      else printf ' **FAIL** rc %s: %s |' "$rc" "${checks:-no summary}"; suite_fail=$((suite_fail + 1)); fi
    done
    echo
  done
} >"$work/suites.md"
cat "$work/suites.md"
for f in "$work"/suites/*.status; do
  read -r rc _ <"$f"
  [ "$rc" = 0 ] || { echo "---- $(basename "$f" .status)"; grep -v '^100%' "${f%.status}.log" | tail -25; }
done

# ---- 3. Benchmark -------------------------------------------------------------
stamp "benchmark ${quick:-(full)} on: $devices"
bench_ok=yes
bash bench/run.sh $quick --out "$work/bench" --devices "$devices" --results "$name" >"$work/bench.log" 2>&1 ||
  bench_ok=no
tail -60 "$work/bench.log"

# ---- 4. Demo --------------------------------------------------------------------
demo_fail=0
: >"$work/demo.md"
for d in "${devs[@]}"; do
  for run in mlp cnn "mlp --graph" "cnn --graph"; do
    read -r m mode <<<"$run"
    m_name="$m${mode:+ $mode}"
    stamp "demo $m_name on $d"
    log="$work/demo_${d//[:.]/_}_$m${mode:+_graph}.log"
    if build/examples/fashion_mnist --device "$d" --model "$m" --epochs 1 --data "$data" "${demo_limit[@]}" \
         ${mode:+"$mode"} --save "$work/model_$m.safetensors" >"$log" 2>&1; then
      res=$(tr '\r' '\n' <"$log" | grep -E '^test accuracy' | tail -1)
    else
      res="**FAIL**: $(tr '\r' '\n' <"$log" | tail -2 | paste -sd' ' -)"
      demo_fail=$((demo_fail + 1))
    fi
    echo "| $d | $m_name | ${res:-no result line} |" >>"$work/demo.md"
    echo "  $res"
  done
done

# ---- 5. Results file ----------------------------------------------------------
# The benchmark wrote bench/results/<date>-<name>.md (+ .json, .svg); the
# check's own findings are added to it.
elapsed=$(($(date +%s) - start))
mkdir -p bench/results
base=$(ls -t bench/results/*-"$name".md 2>/dev/null | head -1)
base=${base%.md}
[ -n "$base" ] || base="bench/results/$date_tag-$name"
{
  [ -f "$base.md" ] || echo "# GPU check: $first_name ($date_tag) — the benchmark wrote no record"
  echo
  echo "## GPU check"
  echo
  echo "Command: \`$invocation\` (devices $devices${quick:+, benchmark $quick}), $elapsed s in all;"
  echo "anygrad $(cat VERSION 2>/dev/null || git describe --always --dirty 2>/dev/null || echo unknown)."
  echo
  echo "### Devices"
  echo
  echo '```'
  cat "$work/devices.txt"
  echo '```'
  echo
  echo "### Test suites ($suite_fail failed)"
  echo
  cat "$work/suites.md"
  echo
  echo "### Demo (1 epoch each${demo_limit[*]:+, ${demo_limit[*]}})"
  echo
  echo "| device | model | result |"
  echo "|---|---|---|"
  cat "$work/demo.md"
  if [ "$bench_ok" != yes ]; then
    echo
    echo "### Benchmark FAILED (end of its log)"
    echo
    echo '```'
    tail -40 "$work/bench.log"
    echo '```'
  fi
} >>"$base.md"
results=("$base".md); for ext in json svg; do [ -f "$base.$ext" ] && results+=("$base.$ext"); done
echo "results: ${results[*]}"
# The whole benchmark log goes along: the record keeps only its end when the
# benchmark fails.
if [ -n "$copy_to" ]; then mkdir -p "$copy_to" && cp "${results[@]}" "$work/bench.log" "$copy_to/"; fi
stamp "done: $suite_fail suite failures, $demo_fail demo failures, benchmark ${bench_ok/yes/ok}"
[ "$suite_fail" -eq 0 ] && [ "$demo_fail" -eq 0 ] && [ "$bench_ok" = yes ]
