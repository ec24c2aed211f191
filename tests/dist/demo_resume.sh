#!/usr/bin/env bash
# tests/dist/demo_resume.sh MPIEXEC FASHION_MNIST
# The demo data-parallel on 2 ranks over a small random IDX data set: rank 0
# alone prints the progress and writes the model and the checkpoint; a run
# on 2 ranks resumes from it; a run on 1 rank refuses to, naming both counts.
set -euo pipefail
mpiexec=$1 prog=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mpi=("$mpiexec" --oversubscribe --allow-run-as-root -np 2)
export AG_NUM_THREADS=1 AG_DIST_TIMEOUT=60

# IDX files: magic 0 0 8 <ndim>, big-endian u32 dims, then u8 data.
idx() { # file ndim dims... (data from stdin)
  local f=$1 nd=$2; shift 2
  printf "\\x00\\x00\\x08\\x$(printf %02x "$nd")" >"$f"
  for d in "$@"; do printf "\\x$(printf %02x $((d >> 24 & 255)))\\x$(printf %02x $((d >> 16 & 255)))\\x$(printf %02x $((d >> 8 & 255)))\\x$(printf %02x $((d & 255)))" >>"$f"; done
  cat >>"$f"
}
head -c $((256 * 784)) /dev/urandom | idx "$dir/train-images-idx3-ubyte" 3 256 28 28
labels() { head -c "$1" < <(tr -dc '\000-\011' </dev/urandom); } # n bytes in 0..9
labels 256 | idx "$dir/train-labels-idx1-ubyte" 1 256
head -c $((64 * 784)) /dev/urandom | idx "$dir/t10k-images-idx3-ubyte" 3 64 28 28
labels 64 | idx "$dir/t10k-labels-idx1-ubyte" 1 64

common=(--distributed --device cpu --data "$dir" --batch-size 32 --eval-batch-size 64
        --checkpoint "$dir/ck.safetensors" --save "$dir/model.safetensors")
cd "$dir"
"${mpi[@]}" "$prog" "${common[@]}" --epochs 1 >out1.txt 2>&1 || { cat out1.txt; echo "FAIL: run 1"; exit 1; }
cat out1.txt
grep -q "data-parallel on 2 ranks: batch 32 per rank, 64 per step" out1.txt
[ "$(tr '\r' '\n' <out1.txt | grep -c '^epoch 1/1 done')" = 1 ] || { echo "FAIL: not exactly one rank printed"; exit 1; }
[ -s ck.safetensors ] && [ -s model.safetensors ] || { echo "FAIL: files not written"; exit 1; }
grep -aq '"extra.world_size":"2"' ck.safetensors || { echo "FAIL: the checkpoint does not record 2 ranks"; exit 1; }

"${mpi[@]}" "$prog" "${common[@]}" --epochs 2 --resume ck.safetensors >out2.txt 2>&1 || { cat out2.txt; echo "FAIL: resume on 2 ranks"; exit 1; }
cat out2.txt
grep -q "resumed from ck.safetensors after epoch 1" out2.txt
[ "$(tr '\r' '\n' <out2.txt | grep -c '^epoch 2/2 done')" = 1 ] || { echo "FAIL: the resumed run did not train epoch 2 once"; exit 1; }

if "$prog" --device cpu --data "$dir" --epochs 2 --resume ck.safetensors >out3.txt 2>&1; then
  cat out3.txt; echo "FAIL: a 1-process run resumed a 2-rank checkpoint"; exit 1
fi
cat out3.txt
grep -q "written by a run on 2 rank(s); resume it on 2, not 1" out3.txt
echo "PASS"
