"""The benchmark's ratios and the words that say where they were measured.

ratios(): pairs every anygrad row with its references (reference time / anygrad
time, so > 1 means anygrad is faster), on medians and on minima:
  GEMM on the CPU backend      vs OpenBLAS cblas_sgemm (same process)
  GEMM on an OpenCL device     vs CLBlast called directly on that device
  Vulkan GEMM                  vs CLBlast on an OpenCL device of the same type (GPU or CPU)
  everything                   vs PyTorch: CPU for CPU-type devices, CUDA for GPUs
describe(): the provenance of a run as short lines for a title or a record.
Python standard library only.
"""
import re

GPU_TYPES = ("discrete-gpu", "integrated-gpu")
CPU_NAME_HINTS = ("llvmpipe", "lavapipe", "pthread", "cpu", "epyc", "xeon", "ryzen", "core(tm)",
                  "pocl")


def device_types(ag):
    """spec -> "cpu" / "discrete-gpu" / ...; guessed from names for older JSON."""
    types = {d["spec"]: d["type"] for d in ag.get("devices", [])}
    for r in ag["results"]:
        if r["device"] not in types and not r["device"].startswith(("openblas", "clblast:")):
            low = r["device_name"].lower()
            types[r["device"]] = "cpu" if any(k in low for k in CPU_NAME_HINTS) else "discrete-gpu"
    return types


def is_gpu(types, spec):
    return types.get(spec) in GPU_TYPES


def ratios(ag, torch_runs):
    """Rows of the ratio table, in the order anygrad-bench ran them."""
    rows = [r for r in ag["results"] if r["ok"]]
    refs = {(r["case"], r["device"]): r for r in rows}
    for run in torch_runs:
        for r in run["results"]:
            if r["ok"]:
                refs[(r["case"], r["device"])] = r
    types = device_types(ag)
    table = []
    for r in rows:
        dev = r["device"]
        if dev == "openblas" or dev.startswith("clblast:"):
            continue
        gpu = is_gpu(types, dev)
        cands = []
        if r["case"].startswith(("gemm", "gemv")):
            if dev == "cpu":
                cands.append("openblas")
            elif dev.startswith("opencl"):
                cands.append("clblast:" + dev)
            elif dev.startswith("vulkan"):
                cands += sorted(k[1] for k in refs if k[0] == r["case"] and k[1].startswith("clblast:")
                                and is_gpu(types, k[1][len("clblast:"):]) == gpu)
        cands.append("torch:cuda" if gpu else "torch:cpu")
        for ref_dev in cands:
            ref = refs.get((r["case"], ref_dev))
            if not ref or r["median_ms"] <= 0 or r["min_ms"] <= 0:
                continue
            table.append({"case": r["case"], "device": dev, "device_name": r["device_name"],
                          "anygrad_ms": r["median_ms"], "anygrad_min_ms": r["min_ms"],
                          "throughput": r["throughput"], "unit": r["unit"], "reference": ref_dev,
                          "reference_ms": ref["median_ms"], "reference_min_ms": ref["min_ms"],
                          "ratio": ref["median_ms"] / r["median_ms"],
                          "ratio_min": ref["min_ms"] / r["min_ms"]})
    return table


def reference_label(ref):
    if ref == "openblas":
        return "OpenBLAS"
    if ref.startswith("clblast:"):
        return "CLBlast"
    return {"torch:cpu": "PyTorch CPU", "torch:cuda": "PyTorch CUDA"}.get(ref, ref)


def _short_openblas(config):
    # "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... SkylakeX MAX_THREADS=64 (2 threads)"
    words = config.split()
    threads = config[config.rfind("("):] if config.endswith("threads)") else ""
    return " ".join(words[:2] + ([threads] if threads else []))


def _load(values):
    return f"{values[0]:.1f}" if values else "?"


def describe(ag, torch_runs, env):
    """Provenance of one run as a dict of short strings (and a device list)."""
    env = env or {}
    m = env.get("machine", {})
    machine = ", ".join(x for x in [m.get("cpu", "unknown CPU"),
                                    f"{m['cores']} cores" if m.get("cores") else "",
                                    f"{m['memory_gib']:g} GiB" if m.get("memory_gib") else "",
                                    m.get("os", "")] if x)
    load = "load not recorded"
    if env.get("load_start"):
        load = f"load average {_load(env['load_start'])} at start"
        if env.get("load_end"):
            load += f", {_load(env['load_end'])} at end"
    devices = [f"{d['spec']}: {d['name']} ({d['driver']})" for d in ag.get("devices", [])]
    if not devices:
        seen = {}
        for r in ag["results"]:
            if not r["device"].startswith(("openblas", "clblast:")):
                seen.setdefault(r["device"], r["device_name"])
        devices = [f"{spec}: {name}" for spec, name in seen.items()]
    refs = []
    lib = ag.get("references", {})
    if lib.get("openblas"):
        refs.append(_short_openblas(lib["openblas"]))
    if lib.get("clblast"):
        refs.append(lib["clblast"])
    t = env.get("torch")
    threads = [run.get("threads") or re.sub(r"\D", "", run["results"][0]["device_name"])
               for run in torch_runs if run["results"] and run["results"][0]["device"] == "torch:cpu"]
    if t:
        cpu = f"CPU {threads[0]} threads" if threads else "CPU"
        cuda = f", CUDA {t['cuda']} on {t['cuda_device']}" if t.get("cuda") else ""
        refs.append(f"PyTorch {t['version']} ({cpu}{cuda}; {t['interpreter']})")
    elif torch_runs:
        refs.append("PyTorch " + ", ".join(sorted({run.get("torch", "?") for run in torch_runs})))
    elif env:
        tried = ", ".join(env.get("torch_tried", [])) or "no interpreter"
        refs.append(f"no PyTorch (none importable; tried {tried})")
    date = env.get("date") or ag.get("date", "")[:10]
    mode = ag.get("mode", "")
    runs = f", {ag['warmup']} warm-up + {ag['reps']} runs, median" if "reps" in ag else ""
    return {"date": date, "mode": mode,
            "title": f"anygrad {ag.get('version', '')} vs references, {date}, {mode} mode{runs}",
            "machine": machine, "load": load, "devices": devices,
            "references": "; ".join(refs) if refs else "none",
            "command": env.get("command") or ag.get("command", "")}
