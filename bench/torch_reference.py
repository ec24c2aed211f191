#!/usr/bin/env python3
"""PyTorch side of the benchmark: the same cases as anygrad-bench, timed the same
way (warm-up, then the median of N synchronised runs), written as JSON in the
same schema so bench/report.py can put ratios side by side.

    python3 bench/torch_reference.py [--quick] [--device cpu|cuda] [--threads N] --json FILE
"""
import argparse
import datetime
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

GEMM = [("gemm_256", 256, 256, 256, False, False), ("gemm_1024", 1024, 1024, 1024, False, False),
        ("gemm_2048", 2048, 2048, 2048, False, False), ("gemm_4096", 4096, 4096, 4096, False, True),
        ("gemm_1760x128x1760", 1760, 128, 1760, False, False),
        ("gemm_2560x64x2560", 2560, 64, 2560, False, False),
        ("gemm_3072x128x1024_tA", 3072, 128, 1024, True, False),
        ("gemv_3072x1x1024", 3072, 1, 1024, False, False),
        ("gemm_1024_f16", 1024, 1024, 1024, False, False), ("gemm_1024_bf16", 1024, 1024, 1024, False, False),
        ("gemm_4096_f16", 4096, 4096, 4096, False, True), ("gemm_4096_bf16", 4096, 4096, 4096, False, True)]


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                         nn.ReLU(), nn.Linear(256, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    # 16-bit GEMMs accumulate in f32 throughout, as anygrad's do
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    dev = torch.device(args.device)
    gpu = dev.type == "cuda"
    warmup, reps = (1, 5) if args.quick else (2, 10)
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    results = []
    name = torch.cuda.get_device_name() if gpu else f"PyTorch CPU ({torch.get_num_threads()} threads)"

    def bench(case, fn, unit, work):
        for _ in range(warmup):
            fn()
        sync()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            sync()
            times.append((time.perf_counter() - t0) * 1e3)
        med = statistics.median(times)
        thr = {"GFLOP/s": work / (med * 1e6), "GB/s": work / (med * 1e6),
               "us/op": med * 1e3 / work, "ms/step": med / work}[unit]
        r = {"case": case, "device": f"torch:{dev.type}", "device_name": name, "ok": True,
             "median_ms": med, "min_ms": min(times), "max_ms": max(times), "runs": reps,
             "throughput": thr, "unit": unit, "error": ""}
        results.append(r)
        print(f"  {case:32s} {r['device']:12s} {med:10.3f} ms  {thr:10.2f} {unit}", flush=True)

    g = torch.Generator().manual_seed(0)
    for case, m, n, k, ta, gpu_only in GEMM:
        if (gpu_only and not gpu) or (args.quick and m > 1024 and n > 1024):
            continue
        a = (torch.randn(k, m, generator=g).to(dev).t() if ta else torch.randn(m, k, generator=g).to(dev))
        b = torch.randn(k, n, generator=g).to(dev)
        for suffix, dt in (("_f16", torch.float16), ("_bf16", torch.bfloat16)):
            if case.endswith(suffix):  # 16-bit operands and result, as anygrad's cases
                a, b = a.to(dt), b.to(dt)
        bench(case, lambda: a @ b, "GFLOP/s", 2.0 * m * n * k)

    def conv_case(case, n, cin, cout, hw):
        x = torch.randn(n, cin, hw, hw, device=dev, requires_grad=True)
        w = torch.randn(cout, cin, 3, 3, device=dev, requires_grad=True)
        b = torch.randn(cout, device=dev, requires_grad=True)

        def step():
            x.grad = w.grad = b.grad = None
            F.conv2d(x, w, b, padding=1).sum().backward()
        bench(case, step, "GFLOP/s", 3.0 * 2.0 * n * cout * hw * hw * cin * 9)

    conv_case("conv2d_fwd_bwd_n8_64x64_56", 2 if args.quick else 8, 64, 64, 56)
    if gpu:
        conv_case("conv2d_fwd_bwd_n16_3x64_224", 16, 3, 64, 224)

    big = 1024 if args.quick else 4096
    x = torch.randn(big, big, device=dev)
    y = torch.randn(big, big, device=dev)
    el = big * big
    with torch.no_grad():
        bench(f"add_{big}x{big}", lambda: x + y, "GB/s", 3 * 4 * el)
        bench(f"relu_{big}x{big}", lambda: torch.relu(x), "GB/s", 2 * 4 * el)
        bench(f"rowsum_{big}x{big}", lambda: x.sum(-1), "GB/s", 4 * el)
        bench(f"softmax_{big}x{big}", lambda: torch.softmax(x, -1), "GB/s", 2 * 4 * el)
        ln_x = torch.randn(4096, 768, device=dev)
        ln_w = torch.ones(768, device=dev)
        ln_b = torch.zeros(768, device=dev)
        bench("layer_norm_4096x768", lambda: F.layer_norm(ln_x, (768,), ln_w, ln_b), "GB/s",
              2 * 4 * 4096 * 768)
        s1 = torch.randn(16, device=dev)
        s2 = torch.randn(16, device=dev)

        def chain():
            h = s1
            for _ in range(1000):
                h = h + s2
        bench("dispatch_1000_chained_adds", chain, "us/op", 1000)

    def train_case(case, model, xb, yb, regression=False):
        model = model.to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(amp):
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                out = model(xb)
                loss = F.mse_loss(out, yb) if regression else F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
        bench(case, lambda: step(False), "ms/step", 1.0)
        # bf16 autocast, f32 master weights (anygrad: ag_autocast_begin(AG_BF16))
        bench(case + "_amp_bf16", lambda: step(True), "ms/step", 1.0)

    xb = torch.randn(128, 1, 28, 28, device=dev)
    yb = torch.randint(0, 10, (128,), device=dev)
    train_case("train_mlp_fmnist_b128", mlp(), xb, yb)
    train_case("train_cnn_fmnist_b128", cnn(), xb, yb)
    layer = nn.TransformerEncoderLayer(128, 4, 512, 0.0, batch_first=True, norm_first=True)
    train_case("train_transformer_b16_l64_d128", layer, torch.randn(16, 64, 128, device=dev),
               torch.randn(16, 64, 128, device=dev), regression=True)

    with open(args.json, "w") as f:
        json.dump({"tool": "torch_reference", "torch": torch.__version__,
                   "interpreter": sys.executable, "threads": torch.get_num_threads(),
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                   "mode": "quick" if args.quick else "full", "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
