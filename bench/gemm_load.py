#!/usr/bin/env python3
"""How CPU GEMM compares with OpenBLAS when the machine is busy.

Runs `anygrad-bench --devices cpu --filter gemm` several times at each load level
(0, 1, 2 ... busy-looping processes started beside it), and prints, per shape, the
min and median over the runs of anygrad's and OpenBLAS's times and of their ratio
(OpenBLAS time / anygrad time, paired within each run), with the load average seen.
Python standard library only.

    python3 bench/gemm_load.py [--runs 7] [--spin 0,1,2] [--reps 5] [--quick]
                               [--bench build/bench/anygrad-bench] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def spinner():
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def one_run(args, path):
    cmd = [args.bench, "--devices", "cpu", "--filter", "gemm", "--reps", str(args.reps),
           "--warmup", "1", "--json", path, "--csv", os.devnull]
    if args.quick:
        cmd.insert(1, "--quick")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        rows = json.load(f)["results"]
    times = {}
    for r in rows:
        if r["ok"]:
            times.setdefault(r["case"], {})[r["device"]] = r["median_ms"]
    return {case: t for case, t in times.items() if "cpu" in t and "openblas" in t}


def summary(values):
    return min(values), statistics.median(values)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--spin", default="0,1,2", help="busy processes beside the benchmark, per level")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--bench", default="build/bench/anygrad-bench")
    ap.add_argument("--json", help="write every run's times here")
    args = ap.parse_args()
    levels = [int(s) for s in args.spin.split(",")]
    record = {"cores": os.cpu_count(), "runs": args.runs, "reps": args.reps, "levels": []}
    print(f"{'spin':>4s} {'load':>9s} {'case':24s} {'anygrad ms min/med':>20s} "
          f"{'OpenBLAS ms min/med':>20s} {'ratio min/med':>14s}")
    with tempfile.TemporaryDirectory() as tmp:
        for spin in levels:
            procs = [spinner() for _ in range(spin)]
            try:
                runs, loads = [], []
                for i in range(args.runs):
                    loads.append(loadavg())
                    runs.append(one_run(args, os.path.join(tmp, f"run{i}.json")))
            finally:
                for p in procs:
                    p.kill()
                    p.wait()
            level = {"spin": spin, "load": loads, "runs": runs}
            record["levels"].append(level)
            load = f"{min(loads):.1f}-{max(loads):.1f}"
            for case in runs[0]:
                ag = [r[case]["cpu"] for r in runs if case in r]
                ob = [r[case]["openblas"] for r in runs if case in r]
                ratio = [o / a for o, a in zip(ob, ag)]
                print(f"{spin:4d} {load:>9s} {case:24s} {'%8.3f / %8.3f' % summary(ag):>20s} "
                      f"{'%8.3f / %8.3f' % summary(ob):>20s} {'%5.2f / %5.2f' % summary(ratio):>14s}",
                      flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
