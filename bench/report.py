#!/usr/bin/env python3
"""Joins anygrad-bench's JSON with the references (in-process OpenBLAS/CLBlast rows,
and PyTorch's JSON from torch_reference.py), prints the table of ratios, writes a
merged CSV and a PNG chart.

Ratio = reference time / anygrad time (so > 1 means anygrad is faster):
  GEMM on the CPU backend      vs OpenBLAS cblas_sgemm
  GEMM on an OpenCL device     vs CLBlast called directly on that device
  Vulkan GEMM                  vs CLBlast on the OpenCL device (when present)
  everything                   vs PyTorch (CPU for CPU-type devices, CUDA for GPUs when given)

    python3 bench/report.py anygrad.json [torch_cpu.json] [torch_cuda.json] --out DIR
"""
import argparse
import csv
import json
import os


def load(path):
    with open(path) as f:
        return json.load(f)


def is_gpu_name(name):
    low = name.lower()
    return not any(k in low for k in ("llvmpipe", "lavapipe", "pthread", "cpu", "epyc", "xeon",
                                      "ryzen", "core(tm)", "pocl"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("anygrad")
    ap.add_argument("torch", nargs="*")
    ap.add_argument("--out", default="bench/out")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ag = load(args.anygrad)
    rows = [r for r in ag["results"] if r["ok"]]
    refs = {}
    for r in rows:
        refs[(r["case"], r["device"])] = r
    for path in args.torch:
        for r in load(path)["results"]:
            refs[(r["case"], r["device"])] = r

    def ms(r):
        return r["median_ms"]

    table = []
    for r in rows:
        dev = r["device"]
        if dev == "openblas" or dev.startswith("clblast:"):
            continue
        gpu = is_gpu_name(r["device_name"])
        cands = []
        if r["case"].startswith(("gemm", "gemv")):
            if dev == "cpu":
                cands.append("openblas")
            if dev.startswith("opencl"):
                cands.append("clblast:" + dev)
            if dev.startswith("vulkan"):
                cands += [k[1] for k in refs if k[0] == r["case"] and k[1].startswith("clblast:")]
        cands.append("torch:cuda" if gpu else "torch:cpu")
        for ref_dev in cands:
            ref = refs.get((r["case"], ref_dev))
            if not ref:
                continue
            ratio = ms(ref) / ms(r) if ms(r) > 0 else 0.0
            table.append({"case": r["case"], "device": dev, "device_name": r["device_name"],
                          "anygrad_ms": ms(r), "throughput": r["throughput"], "unit": r["unit"],
                          "reference": ref_dev, "reference_ms": ms(ref), "ratio": ratio})
    print(f"{'case':32s} {'device':12s} {'anygrad':>12s} {'reference':>22s} {'ref':>12s} {'ratio':>7s}")
    for t in table:
        print(f"{t['case']:32s} {t['device']:12s} {t['anygrad_ms']:10.3f}ms "
              f"{t['reference']:>22s} {t['reference_ms']:10.3f}ms {t['ratio']:7.2f}")
    with open(os.path.join(args.out, "report.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0].keys()) if table else ["case"])
        w.writeheader()
        w.writerows(table)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no chart (pip install matplotlib)")
        return
    labels = [f"{t['case']}\n{t['device']} vs {t['reference']}" for t in table]
    fig, ax = plt.subplots(figsize=(10, max(4, 0.32 * len(table))))
    colors = ["tab:green" if t["ratio"] >= 1 else "tab:orange" for t in table]
    ax.barh(range(len(table)), [t["ratio"] for t in table], color=colors)
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels(labels, fontsize=6)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("reference time / anygrad time (> 1: anygrad faster)")
    ax.set_title(f"anygrad-bench {ag.get('date', '')} ({ag.get('mode', '')} mode)")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "chart.png"), dpi=110)
    print(f"wrote {args.out}/report.csv and {args.out}/chart.png")


if __name__ == "__main__":
    main()
