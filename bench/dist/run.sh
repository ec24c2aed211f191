#!/usr/bin/env bash
# bench/dist/run.sh [BUILD_DIR] — data-parallel scaling of the CNN step on the
# CPU backend, one thread per process (AG_NUM_THREADS=1):
#   1 process without DDP (plain), 2 processes with overlap, 2 without,
# each repeated REPS times in turn (default 5). Each run reports its median
# step; the summary takes, per configuration, the fastest run's (other load on
# a shared machine only ever slows a run down), and the median run's too.
#   scaling efficiency = t(1 process) / t(2 processes, overlap)
#       (same per-process batch: the work per process is the same)
#   all-reduce hidden  = (t(no overlap) - t(overlap)) / wait(no overlap)
#       wait(no overlap): the time a step spends after backward staging,
#       all-reducing and writing back the gradients, all exposed.
# Prints the runs' JSON lines and a summary.
set -euo pipefail
build=${1:-build}
reps=${REPS:-5}
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
  "${mpi[@]}" -np 2 "$bin" --batch "$batch" --steps "$steps" --bucket-mb "$bucket" --no-overlap | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def pick(agg, mode, ranks):
    sel = [r for r in runs if r["mode"] == mode and r["ranks"] == ranks]
    if agg == "fastest":
        return min(sel, key=lambda r: r["step_ms"])
    sel.sort(key=lambda r: r["step_ms"])
    return sel[(len(sel) - 1) // 2]
for agg in ("fastest", "median"):
    p, ov, no = pick(agg, "plain", 1), pick(agg, "overlap", 2), pick(agg, "no_overlap", 2)
    t1, tov, tno = p["step_ms"], ov["step_ms"], no["step_ms"]
    wno, wov = no["wait_ms"], ov["wait_ms"]
    print(f"[{agg} run of {len(runs) // 3}] 1 process: {t1:.2f} ms/step; 2 processes: "
          f"{tov:.2f} ms/step with overlap, {tno:.2f} without")
    print(f"  scaling efficiency (2 vs 1, same per-process batch): {100 * t1 / tov:.1f} %")
    print(f"  all-reduce after backward without overlap: {wno:.2f} ms; exposed with overlap: {wov:.2f} ms")
    print(f"  all-reduce hidden by overlap, from step times: {100 * (tno - tov) / wno:.1f} %")
    print(f"  exposed all-reduce time removed: {100 * (1 - wov / wno):.1f} %")
PY
