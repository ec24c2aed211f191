#!/usr/bin/env bash
# bench/dist/run.sh [BUILD_DIR] — data-parallel scaling of the Fashion-MNIST
# CNN step (bench/dist/dist_bench.c) on the CPU backend, one thread per
# process (AG_NUM_THREADS=1). Each of REPS rounds (default 6) runs:
#   1 process, plain step (no wrapper)                     -> t1
#   2 processes, DDP with overlap                          -> t2
#   2 processes, --ab: steps alternating with and without overlap in one run
# and the summary reports
#   scaling efficiency = t1 / t2 (same per-process batch, so the same work
#       per process; ideal 100 %), from the fastest round and the median one
#       (other load on a shared machine only ever slows a run down);
#   all-reduce hidden  = (t(no overlap) - t(overlap)) / wait(no overlap), per
#       --ab run (both halves under the same load), median over the rounds;
#       wait(no overlap) is what a step spends after backward staging,
#       all-reducing and writing back the gradients, all of it exposed.
set -euo pipefail
build=${1:-build}
reps=${REPS:-6}
batch=${BATCH:-64}
steps=${STEPS:-30}
bucket=${BUCKET_MB:-1}
bin="$build/bench/dist_bench"
mpi=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
export AG_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$reps"); do
  "${mpi[@]}" -np 1 "$bin" --plain --batch "$batch" --steps "$steps" | tee -a "$out"
  "${mpi[@]}" -np 2 "$bin" --batch "$batch" --steps "$steps" --bucket-mb "$bucket" | tee -a "$out"
  "${mpi[@]}" -np 2 "$bin" --batch "$batch" --steps "$steps" --bucket-mb "$bucket" --ab | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
plain = sorted((r for r in runs if r["mode"] == "plain"), key=lambda r: r["step_ms"])
ddp = sorted((r for r in runs if r["mode"] == "overlap"), key=lambda r: r["step_ms"])
ab = [r for r in runs if r["mode"] == "ab"]
mid = lambda v: v[(len(v) - 1) // 2]
for name, p, d in (("fastest", plain[0], ddp[0]), ("median", mid(plain), mid(ddp))):
    print(f"[{name} of {len(plain)} rounds] 1 process {p['step_ms']:.2f} ms/step, "
          f"2 processes {d['step_ms']:.2f} ms/step: scaling efficiency "
          f"{100 * p['step_ms'] / d['step_ms']:.1f} %")
# A run during which another process took one of the two cores runs about
# twice as slow: only runs within 25 % of the fastest plain step count.
quiet = [r for r in ab if max(r["step_ms_overlap"], r["step_ms_no_overlap"]) < 1.25 * plain[0]["step_ms"]]
print(f"[--ab] {len(quiet)} of {len(ab)} runs on a quiet machine (step < 1.25 x the fastest 1-process step)")
ab = quiet or ab
hid = [(r["step_ms_no_overlap"] - r["step_ms_overlap"]) / r["wait_ms_no_overlap"] for r in ab]
exp = [1 - r["wait_ms_overlap"] / r["wait_ms_no_overlap"] for r in ab]
print(f"[--ab, {len(ab)} runs] step with overlap {statistics.median(r['step_ms_overlap'] for r in ab):.2f} ms, "
      f"without {statistics.median(r['step_ms_no_overlap'] for r in ab):.2f} ms; all-reduce after "
      f"backward without overlap {statistics.median(r['wait_ms_no_overlap'] for r in ab):.2f} ms, "
      f"with {statistics.median(r['wait_ms_overlap'] for r in ab):.2f} ms")
print(f"  all-reduce hidden (from step times): median {100 * statistics.median(hid):.1f} % "
      f"(runs: {', '.join(f'{100 * h:.0f}' for h in hid)})")
print(f"  exposed all-reduce time removed: median {100 * statistics.median(exp):.1f} %")
PY
