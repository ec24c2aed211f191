#!/usr/bin/env python3
"""Where a benchmark ran: the machine (CPU model, cores, memory, OS, load average)
and the PyTorch used for the reference (interpreter, torch version, CUDA device),
written as JSON for bench/report.py. Python standard library only; torch is asked
through the interpreter that has it.

    python3 bench/environment.py --out env.json [--torch-python PY] [--tried "PY1 PY2"]
                                 [--command "bash bench/run.sh ..."]
    python3 bench/environment.py --finish env.json     (adds the load average at the end)
"""
import argparse
import datetime
import json
import os
import platform
import subprocess

TORCH_QUERY = """
import json, sys, torch
cuda = torch.cuda.is_available()
print(json.dumps({"version": torch.__version__,
                  "cuda": torch.version.cuda if cuda else None,
                  "cuda_device": torch.cuda.get_device_name() if cuda else None,
                  "python": sys.version.split()[0]}))
"""


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def loadavg():
    fields = read("/proc/loadavg").split()
    return [float(x) for x in fields[:3]] if len(fields) >= 3 else None


def cpu_model():
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name") and ":" in line:
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_gib():
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def os_name():
    for line in read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def torch_info(python):
    try:
        out = subprocess.run([python, "-c", TORCH_QUERY], capture_output=True, text=True,
                             timeout=300, check=True).stdout
        info = json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    info["interpreter"] = python
    return info


def collect(args):
    return {
        "date": datetime.date.today().isoformat(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "memory_gib": memory_gib(),
                    "os": os_name(), "kernel": platform.release()},
        "load_start": loadavg(),
        "command": args.command,
        "torch": torch_info(args.torch_python) if args.torch_python else None,
        "torch_tried": args.tried.split() if args.tried else [],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out")
    ap.add_argument("--torch-python")
    ap.add_argument("--tried", default="")
    ap.add_argument("--command", default="")
    ap.add_argument("--finish", metavar="ENV_JSON")
    args = ap.parse_args()
    if args.finish:
        with open(args.finish) as f:
            env = json.load(f)
        env["load_end"] = loadavg()
        path = args.finish
    elif args.out:
        env = collect(args)
        path = args.out
    else:
        ap.error("--out or --finish is required")
    with open(path, "w") as f:
        json.dump(env, f, indent=1)
    if not args.finish and env["torch"]:
        t = env["torch"]
        where = f", CUDA {t['cuda']} on {t['cuda_device']}" if t["cuda"] else ", no CUDA device"
        print(f"PyTorch reference: {t['interpreter']} (Python {t['python']}, torch {t['version']}{where})")


if __name__ == "__main__":
    main()
