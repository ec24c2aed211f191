"""Writes one committed benchmark record: bench/results/<date>-<name>.md with the
provenance and the ratio table, the merged JSON (<date>-<name>.json: environment,
anygrad-bench's output, PyTorch's outputs) and the chart (<date>-<name>.svg).
Python standard library only.
"""
import json
import os


def ratio_table(table):
    lines = [f"{'case':32s} {'device':12s} {'anygrad':>11s} {'reference':>20s} {'ref':>11s} "
             f"{'ratio':>6s} {'(min)':>6s}"]
    for t in table:
        lines.append(f"{t['case']:32s} {t['device']:12s} {t['anygrad_ms']:9.3f}ms "
                     f"{t['reference']:>20s} {t['reference_ms']:9.3f}ms {t['ratio']:6.2f} "
                     f"{t['ratio_min']:6.2f}")
    return "\n".join(lines)


def counters_table(results):
    """Per-step device counters of the training cases (anygrad-bench's per_step)."""
    rows = [r for r in results if r.get("ok") and r.get("per_step")]
    if not rows:
        return []
    out = ["## Device counters per training step (steady state)", "",
           "| case | device | dispatches | driver allocations | bytes allocated | host waits (incl. the sync) |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        c = r["per_step"]
        out.append(f"| {r['case']} | {r['device']} | {c['dispatches']:g} | {c['driver_allocs']:g} | "
                   f"{c['driver_alloc_bytes']:g} | {c['host_waits']:g} |")
    return out + [""]


def markdown(name, table, meta, chart_file, json_file, results=()):
    devices = "\n".join(f"  - {d}" for d in meta["devices"]) or "  - (none recorded)"
    parts = [f"# anygrad-bench — {meta['date']}, {name}", "",
             f"- Machine: {meta['machine']}",
             f"- Load: {meta['load']}",
             f"- Devices:\n{devices}",
             f"- References: {meta['references']}",
             f"- Mode: {meta['title'].split(', ', 2)[-1]}",
             f"- Command: `{meta['command']}`" if meta["command"] else "- Command: not recorded",
             f"- Files: `{json_file}` (environment, anygrad-bench and PyTorch results), "
             f"`{chart_file}` (the chart)", ""]
    if chart_file:
        parts += [f"![anygrad vs references]({chart_file})", ""]
    parts += ["## Ratio table (reference time / anygrad time; > 1: anygrad faster)", "",
              "`ratio` compares medians, `(min)` the fastest runs.", "",
              "```", ratio_table(table), "```", ""]
    parts += counters_table(results)
    return "\n".join(parts)


def write(results_dir, name, table, meta, svg, sources):
    """Writes the record; `sources` is the dict stored as the JSON. Returns the .md path."""
    os.makedirs(results_dir, exist_ok=True)
    stem = f"{meta['date']}-{name}"
    chart_file = f"{stem}.svg" if svg else ""
    if svg:
        with open(os.path.join(results_dir, chart_file), "w") as f:
            f.write(svg)
    with open(os.path.join(results_dir, f"{stem}.json"), "w") as f:
        json.dump(sources, f, indent=1)
    md = os.path.join(results_dir, f"{stem}.md")
    with open(md, "w") as f:
        f.write(markdown(name, table, meta, chart_file, f"{stem}.json",
                         sources.get("anygrad", {}).get("results", [])))
    return md
