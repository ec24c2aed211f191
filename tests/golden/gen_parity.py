"""Golden data for the PyTorch-parity cases of tests/test_parity.c: clamp at
its bounds, GELU (tanh) saturation, class-weighted cross entropy and NLL,
embedding padding_idx, batch norm with momentum=None, and average pooling
with PyTorch's default count_include_pad.
Run: python3 tests/golden/gen_parity.py  (writes parity.txt)."""
import torch
import torch.nn.functional as F

from golden import GoldenWriter

torch.manual_seed(0)


def grad_of(fn, x, go=None):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    (y * (torch.ones_like(y) if go is None else go)).sum().backward()
    return y.detach(), x.grad


with GoldenWriter("parity.txt") as g:
    # clamp exactly at its bounds (and min > max)
    x = torch.tensor([-1.0, 0.0, 2.0, 0.5, -3.0])
    for name, lo, hi in (("clamp_bounds", -1.0, 0.0), ("clamp_upper", -2.0, 2.0),
                         ("clamp_inverted", 3.0, 1.0)):
        y, gx = grad_of(lambda t: torch.clamp(t, lo, hi), x)
        g.case(name, x=x, lo=torch.tensor([lo]), hi=torch.tensor([hi]), y=y, gx=gx)

    # GELU with the tanh approximation far into saturation
    x = torch.tensor([-1000.0, -20.0, -5.0, -0.5, 0.5, 3.0, 20.0, 1000.0])
    y, gx = grad_of(lambda t: F.gelu(t, approximate="tanh"), x)
    g.case("gelu_tanh_saturation", x=x, y=y, gx=gx)

    # class-weighted cross entropy / NLL with ignore_index -7 and smoothing
    x = torch.randn(5, 4)
    w = torch.tensor([1.0, 2.5, 0.5, 0.0])
    t = torch.tensor([2, 0, -7, 1, 3], dtype=torch.int32)
    go = torch.randn(5)
    for red in ("mean", "sum", "none"):
        for eps in (0.0, 0.2):
            fn = lambda v: F.cross_entropy(v, t.long(), weight=w, ignore_index=-7,
                                           label_smoothing=eps, reduction=red)
            y, gx = grad_of(fn, x, go if red == "none" else None)
            g.case(f"ce_weight_{red}_{int(eps * 10)}", x=x, w=w, t=t, go=go, y=y, gx=gx)
        lp = torch.log_softmax(x, 1)
        fn = lambda v: F.nll_loss(v, t.long(), weight=w, ignore_index=-7, reduction=red)
        y, gx = grad_of(fn, lp, go if red == "none" else None)
        g.case(f"nll_weight_{red}", x=lp, w=w, t=t, go=go, y=y, gx=gx)

    # embedding with padding_idx: no gradient for the padding row
    wt = torch.randn(6, 3)
    idx = torch.tensor([[5, 0, 2], [2, 5, 1]], dtype=torch.int32)
    go = torch.randn(2, 3, 3)
    for pad in (2, -1):
        y, gw = grad_of(lambda v: F.embedding(idx.long(), v, padding_idx=pad), wt, go)
        g.case(f"embedding_padding_{'neg' if pad < 0 else pad}", w=wt, idx=idx, go=go, y=y,
               gw=gw)

    # BatchNorm1d(3, momentum=None): cumulative average over three batches
    bn = torch.nn.BatchNorm1d(3, momentum=None)
    xs = [torch.randn(4, 3) * (i + 1) + i for i in range(3)]
    outs = [bn(v).detach() for v in xs]
    g.case("bn_cumulative", x0=xs[0], x1=xs[1], x2=xs[2], y2=outs[2],
           running_mean=bn.running_mean, running_var=bn.running_var,
           batches=torch.tensor([int(bn.num_batches_tracked)], dtype=torch.int32))

    # avg_pool2d with padding and PyTorch's default count_include_pad=True
    x = torch.randn(1, 2, 5, 5)
    y, gx = grad_of(lambda v: F.avg_pool2d(v, 3, stride=2, padding=1), x)
    g.case("avg_pool_default_pad", x=x, y=y, gx=gx)
    y, gx = grad_of(lambda v: F.avg_pool2d(v, 3, stride=2, padding=1, count_include_pad=False), x)
    g.case("avg_pool_exclude_pad", x=x, y=y, gx=gx)
