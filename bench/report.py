#!/usr/bin/env python3
"""Joins anygrad-bench's JSON with the references (its in-process OpenBLAS/CLBlast
rows, and PyTorch's JSON from torch_reference.py), prints the ratio table, and
writes report.csv and chart.svg into --out. With --results NAME it also writes the
record bench/results/<date>-NAME.{md,json,svg} (see record.py) and points the
README's latest results at it (latest_results.py). Ratio = reference
time / anygrad time, so above 1 anygrad is faster (pairs: see summary.py).
Python standard library only.

    python3 bench/report.py anygrad.json [torch_cpu.json] [torch_cuda.json]
                            [--env environment.json] [--out DIR] [--results NAME]
"""
import argparse
import csv
import json
import os

import chart_svg
import latest_results
import record
import summary


def load(path):
    with open(path) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("anygrad")
    ap.add_argument("torch", nargs="*")
    ap.add_argument("--env", help="environment.json from bench/environment.py")
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--results", metavar="NAME", help="also write bench/results/<date>-NAME.*")
    ap.add_argument("--results-dir", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ag = load(args.anygrad)
    torch_runs = [load(p) for p in args.torch]
    env = load(args.env) if args.env else None
    table = summary.ratios(ag, torch_runs)
    meta = summary.describe(ag, torch_runs, env)

    print(f"\n{meta['title']}\n{meta['machine']}; {meta['load']}\nreferences: {meta['references']}\n")
    print(record.ratio_table(table))
    with open(os.path.join(args.out, "report.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0].keys()) if table else ["case"])
        w.writeheader()
        w.writerows(table)
    svg = chart_svg.render(table, meta)
    if svg:
        with open(os.path.join(args.out, "chart.svg"), "w") as f:
            f.write(svg)
    print(f"\nwrote {args.out}/report.csv" + (f" and {args.out}/chart.svg" if svg else " (no ratios: no chart)"))
    if args.results:
        sources = {"environment": env, "anygrad": ag, "torch": torch_runs}
        md = record.write(args.results_dir, args.results, table, meta, svg, sources)
        print(f"wrote {md} (with its .json and .svg)")
        readme = os.path.join(args.results_dir, "..", "..", "README.md")
        if latest_results.update(readme, args.results_dir):
            print(f"updated the latest results in {os.path.normpath(readme)}")


if __name__ == "__main__":
    main()
