#!/usr/bin/env bash
# Runs the whole benchmark: anygrad on every device (with OpenBLAS and direct
# CLBlast references in the same process), PyTorch on the same machine (CPU,
# and CUDA when present), then the ratio table, CSV and chart.
#   bash bench/run.sh [--quick] [--out DIR]     (after building into ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=""; out="bench/out"; devices=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode="--quick" ;;
    --out) out="$2"; shift ;;
    --devices) devices=(--devices "$2"); shift ;;
    *) echo "usage: $0 [--quick] [--out DIR] [--devices SPEC,...]" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
threads=$(nproc)
./build/bench/anygrad-bench $mode "${devices[@]}" --json "$out/anygrad.json" --csv "$out/anygrad.csv"
torch_files=()
if python3 -c "import torch" 2>/dev/null; then
  python3 bench/torch_reference.py $mode --device cpu --threads "$threads" --json "$out/torch_cpu.json"
  torch_files+=("$out/torch_cpu.json")
  if python3 -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    python3 bench/torch_reference.py $mode --device cuda --json "$out/torch_cuda.json"
    torch_files+=("$out/torch_cuda.json")
  fi
else
  echo "PyTorch not installed (pip install torch): no PyTorch reference" >&2
fi
python3 bench/report.py "$out/anygrad.json" "${torch_files[@]}" --out "$out"
