#!/usr/bin/env python3
"""Rewrites the README's latest-results block from bench/results/: the newest record
of a machine without a GPU and the newest record with one, each as a link and its
chart. bench/report.py --results calls it; run it by hand after copying in a record
made elsewhere. Python standard library only.

    python3 bench/latest_results.py [--readme README.md] [--results-dir bench/results]
"""
import argparse
import glob
import json
import os

import summary

BEGIN = "<!-- latest-bench-results: written by bench/latest_results.py -->"
END = "<!-- latest-bench-results end -->"


def has_gpu(record):
    types = summary.device_types(record["anygrad"]).values()
    cuda = any(r["results"] and r["results"][0]["device"] == "torch:cuda" for r in record["torch"])
    return cuda or any(t in summary.GPU_TYPES for t in types)


def newest(results_dir):
    """{"cpu": (stem, record), "gpu": (stem, record)} for the newest record of each kind."""
    found = {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        try:
            with open(path) as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or "anygrad" not in record:
            continue
        stem = os.path.basename(path)[:-len(".json")]
        found["gpu" if has_gpu(record) else "cpu"] = (stem, record)  # sorted: newest last
    return found


def entry(kind, item, rel):
    title = {"cpu": "Without a GPU", "gpu": "With a GPU"}[kind]
    if not item:
        return [f"**{title}**: no record yet (`bash bench/run.sh --results NAME` on such a "
                "machine writes one into bench/results/).", ""]
    stem, record = item
    meta = summary.describe(record["anygrad"], record["torch"], record.get("environment"))
    devices = ", ".join(d.split(" (")[0] for d in meta["devices"])
    return [f"**{title}**: [{stem}]({rel}/{stem}.md) — {meta['machine']}; {devices}", "",
            f"![anygrad vs references, {stem}]({rel}/{stem}.svg)", ""]


def update(readme, results_dir):
    """Rewrites the block in `readme`; returns False when the file or block is absent."""
    try:
        with open(readme) as f:
            text = f.read()
    except OSError:
        return False
    if BEGIN not in text or END not in text:
        return False
    rel = os.path.relpath(results_dir, os.path.dirname(os.path.abspath(readme)))
    found = newest(results_dir)
    block = [BEGIN, ""] + entry("cpu", found.get("cpu"), rel) + entry("gpu", found.get("gpu"), rel)
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(readme, "w") as f:
        f.write(head + "\n".join(block) + END + tail)
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readme", default=os.path.join(here, "..", "README.md"))
    ap.add_argument("--results-dir", default=os.path.join(here, "results"))
    args = ap.parse_args()
    if not update(args.readme, args.results_dir):
        raise SystemExit(f"{args.readme}: no latest-results block to rewrite")
    print(f"updated {os.path.normpath(args.readme)}")


if __name__ == "__main__":
    main()
