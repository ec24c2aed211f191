"""Golden data for tests/test_matmul.c: torch.matmul in all its shape forms
and F.linear, with gradients, computed by PyTorch.

Each case holds the inputs (a, b or x, w, bias), the output y, an upstream
gradient `go` (y's shape) and the input gradients of sum(y * go).
Run: python3 tests/golden/gen_matmul.py  (writes matmul.txt)."""
import torch
import torch.nn.functional as F

from golden import GoldenWriter

torch.manual_seed(0)

MATMUL = {
    "mm": ((3, 4), (4, 5)),
    "dot": ((4,), (4,)),
    "mv": ((3, 4), (4,)),
    "vm": ((4,), (4, 5)),
    "bmm": ((2, 3, 4), (2, 4, 5)),
    "bcast": ((2, 1, 3, 4), (3, 4, 2)),
    "batch_2d": ((2, 3, 4), (4, 5)),
    "2d_batch": ((3, 4), (2, 4, 5)),
    "vec_batch": ((4,), (2, 4, 3)),
    "batch_vec": ((2, 3, 4), (4,)),
}

with GoldenWriter("matmul.txt") as g:
    for name, (sa, sb) in MATMUL.items():
        a = torch.randn(*sa, requires_grad=True)
        b = torch.randn(*sb, requires_grad=True)
        y = torch.matmul(a, b)
        go = torch.randn(y.shape)
        y.backward(go)
        g.case(name, a=a.detach(), b=b.detach(), y=y.detach(), go=go, ga=a.grad, gb=b.grad)
    for name, sx, bias in (("linear_3d", (2, 3, 4), True), ("linear_2d_nobias", (3, 4), False),
                           ("linear_1d", (4,), True)):
        x = torch.randn(*sx, requires_grad=True)
        w = torch.randn(5, 4, requires_grad=True)
        b = torch.randn(5, requires_grad=True) if bias else None
        y = F.linear(x, w, b)
        go = torch.randn(y.shape)
        y.backward(go)
        t = dict(x=x.detach(), w=w.detach())
        if bias:
            t["bias"] = b.detach()
        t.update(y=y.detach(), go=go, gx=x.grad, gw=w.grad)
        if bias:
            t["gbias"] = b.grad
        g.case(name, **t)
