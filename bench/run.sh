#!/usr/bin/env bash
# Runs the whole benchmark: anygrad on every device (with OpenBLAS and direct
# CLBlast references in the same process), PyTorch on the same machine (CPU,
# and CUDA when present), then the ratio table, CSV and chart.
#
#   bash bench/run.sh [--quick] [--out DIR] [--devices SPEC,...] [--results NAME]
#
# Run from the repository root (or a bundle laid out like it) after building
# into ./build. Needs python3 (standard library only); PyTorch is optional and
# looked for in $AG_PYTHON, python3 on PATH and /usr/bin/python3, in that order.
# --results NAME also writes bench/results/<date>-NAME.{md,json,svg}.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  echo "usage: bash bench/run.sh [--quick] [--out DIR] [--devices SPEC,...] [--results NAME]" >&2
  exit 2
}
mode=(); out="bench/out"; devices=(); results=()
command_line="bash bench/run.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=(--quick) ;;
    --out) [ $# -ge 2 ] || usage; out="$2"; shift ;;
    --devices) [ $# -ge 2 ] || usage; devices=(--devices "$2"); shift ;;
    --results) [ $# -ge 2 ] || usage; results=(--results "$2"); shift ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
  shift
done
bench=./build/bench/anygrad-bench
if [ ! -x "$bench" ]; then
  echo "error: $bench not found: build first (cmake -S . -B build && cmake --build build -j)" >&2
  exit 1
fi

# The interpreter for the PyTorch reference: the first that can import torch.
candidates=()
[ -n "${AG_PYTHON:-}" ] && candidates+=("$AG_PYTHON")
if command -v python3 >/dev/null 2>&1; then candidates+=("$(command -v python3)"); fi
[ -x /usr/bin/python3 ] && candidates+=(/usr/bin/python3)
torch_py=""; any_py=""; tried=()
for py in "${candidates[@]}"; do
  case " ${tried[*]-} " in *" $py "*) continue ;; esac
  tried+=("$py")
  "$py" -c "" >/dev/null 2>&1 && any_py="${any_py:-$py}"
  if "$py" -c "import torch" >/dev/null 2>&1; then torch_py="$py"; break; fi
  if [ "$py" = "${AG_PYTHON:-}" ]; then echo "warning: AG_PYTHON=$py cannot import torch" >&2; fi
done
# Any interpreter runs the report (standard library only).
py="${torch_py:-$any_py}"
if [ -z "$py" ]; then
  echo "error: no python3 found (needed for the report); set AG_PYTHON" >&2
  exit 1
fi

mkdir -p "$out"
"$py" bench/environment.py --out "$out/environment.json" --torch-python "$torch_py" \
  --tried "${tried[*]}" --command "$command_line"
if [ -z "$torch_py" ]; then
  cat >&2 <<EOF

########################################################################
#  NO PYTORCH REFERENCE: no interpreter here can import torch.
#  Tried: ${tried[*]}
#  Install it (apt-get install python3-torch, or pip install torch) or
#  point AG_PYTHON at an interpreter that has it. Continuing without it.
########################################################################

EOF
fi

"$bench" "${mode[@]}" "${devices[@]}" --json "$out/anygrad.json" --csv "$out/anygrad.csv"
torch_files=()
if [ -n "$torch_py" ]; then
  "$torch_py" bench/torch_reference.py "${mode[@]}" --device cpu --threads "$(nproc)" \
    --json "$out/torch_cpu.json"
  torch_files+=("$out/torch_cpu.json")
  if "$torch_py" -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    "$torch_py" bench/torch_reference.py "${mode[@]}" --device cuda --json "$out/torch_cuda.json"
    torch_files+=("$out/torch_cuda.json")
  fi
fi
"$py" bench/environment.py --finish "$out/environment.json"
"$py" bench/report.py "$out/anygrad.json" "${torch_files[@]}" --env "$out/environment.json" \
  --out "$out" "${results[@]}"
