"""Golden data for tests/test_elementwise.c: unary, binary, scalar-form,
comparison and where ops with their gradients, computed by PyTorch.

For a differentiable op each case holds the inputs, the output y, an upstream
gradient `go` (y's shape) and the input gradients d(sum(y * go))/d input.
Run: python3 tests/golden/gen_elementwise.py  (writes elementwise.txt)."""
import torch
import torch.nn.functional as F

from golden import GoldenWriter

torch.manual_seed(0)


def rnd(*shape, lo=-2.0, hi=2.0):
    return (torch.rand(*shape) * (hi - lo) + lo).float()


def grads(fn, *inputs):
    xs = [t.clone().requires_grad_(True) for t in inputs]
    y = fn(*xs)
    go = torch.randn(y.shape)
    y.backward(go)
    return y.detach(), go, [x.grad for x in xs]


UNARY = {
    # name: (function, low, high) — ranges keep away from poles and kinks
    "neg": (torch.neg, -2, 2),
    "abs": (torch.abs, -2, 2),
    "exp": (torch.exp, -2, 2),
    "log": (torch.log, 0.2, 3),
    "sqrt": (torch.sqrt, 0.2, 3),
    "rsqrt": (torch.rsqrt, 0.2, 3),
    "square": (torch.square, -2, 2),
    "reciprocal": (torch.reciprocal, 0.3, 3),
    "sin": (torch.sin, -3, 3),
    "cos": (torch.cos, -3, 3),
    "tanh": (torch.tanh, -2, 2),
    "sigmoid": (torch.sigmoid, -3, 3),
    "relu": (torch.relu, -2, 2),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), -2, 2),
    "gelu": (F.gelu, -3, 3),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), -3, 3),
    "silu": (F.silu, -3, 3),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=3.0), -3, 3),
    "clamp": (lambda x: torch.clamp(x, -0.5, 1.0), -2, 2),
    "pow_scalar": (lambda x: torch.pow(x, 2.5), 0.2, 3),
}

BINARY = {
    "add": (torch.add, (-2, 2), (-2, 2)),
    "sub": (torch.sub, (-2, 2), (-2, 2)),
    "mul": (torch.mul, (-2, 2), (-2, 2)),
    "div": (torch.div, (-2, 2), (0.5, 2)),
    "pow": (torch.pow, (0.5, 2), (-1.5, 1.5)),
    "maximum": (torch.maximum, (-2, 2), (-2, 2)),
    "minimum": (torch.minimum, (-2, 2), (-2, 2)),
}

SCALAR = {
    # name: (function, scalar) — the C test uses the same scalars
    "add_scalar": (lambda x: x + 1.5, 1.5),
    "sub_scalar": (lambda x: x - 1.5, 1.5),
    "rsub_scalar": (lambda x: 1.5 - x, 1.5),
    "mul_scalar": (lambda x: x * -2.5, -2.5),
    "div_scalar": (lambda x: x / 4.0, 4.0),
    "rdiv_scalar": (lambda x: 3.0 / x, 3.0),
    "maximum_scalar": (lambda x: torch.maximum(x, torch.tensor(0.25)), 0.25),
    "minimum_scalar": (lambda x: torch.minimum(x, torch.tensor(0.25)), 0.25),
}

with GoldenWriter("elementwise.txt") as g:
    for name, (fn, lo, hi) in UNARY.items():
        x = rnd(3, 4, lo=lo, hi=hi)
        y, go, (gx,) = grads(fn, x)
        g.case(name, x=x, y=y, go=go, gx=gx)

    # broadcasting: a [3, 4] with b [4] and a [2, 1, 3] with b [4, 1]
    for name, (fn, (alo, ahi), (blo, bhi)) in BINARY.items():
        a, b = rnd(3, 4, lo=alo, hi=ahi), rnd(4, lo=blo, hi=bhi)
        if name in ("maximum", "minimum"):
            a[0, :2] = b[:2]  # ties: PyTorch splits the gradient 0.5 / 0.5
        y, go, (ga, gb) = grads(fn, a, b)
        g.case(name, a=a, b=b, y=y, go=go, ga=ga, gb=gb)
        a, b = rnd(2, 1, 3, lo=alo, hi=ahi), rnd(4, 1, lo=blo, hi=bhi)
        y, go, (ga, gb) = grads(fn, a, b)
        g.case(name + "_bcast", a=a, b=b, y=y, go=go, ga=ga, gb=gb)

    for name, (fn, s) in SCALAR.items():
        x = rnd(3, 4, lo=0.3, hi=2) if name == "rdiv_scalar" else rnd(3, 4)
        if name.endswith("imum_scalar"):
            x[0, 0] = s  # a tie with the scalar
        y, go, (gx,) = grads(fn, x)
        g.case(name, x=x, y=y, go=go, gx=gx)

    # integer promotion: i32 stays i32 for add/sub/mul/max/min, div gives f32
    ai = torch.tensor([[-3, 0, 7], [2, -5, 4]], dtype=torch.int32)
    bi = torch.tensor([2, 0, -3], dtype=torch.int32)
    g.case("int_ops", a=ai, b=bi, add=ai + bi, sub=ai - bi, mul=ai * bi,
           maximum=torch.maximum(ai, bi), minimum=torch.minimum(ai, bi),
           div=torch.div(ai, torch.tensor([2, 4, -3], dtype=torch.int32)),
           mixed=ai + torch.tensor([0.5, 1.5, -0.25]))

    # comparisons with ties, broadcast [3, 4] vs [4]
    a = torch.round(rnd(3, 4) * 2) / 2
    b = torch.round(rnd(4) * 2) / 2
    b[:2] = a[0, :2]
    g.case("compare", a=a, b=b, eq=a == b, ne=a != b, lt=a < b, le=a <= b, gt=a > b, ge=a >= b,
           eq_s=a == 0.5, lt_s=a < 0.5, ge_s=a >= 0.5)

    # where: cond [3, 1] u8, a [3, 4], b [4]
    cond = torch.tensor([[1], [0], [1]], dtype=torch.uint8)
    a, b = rnd(3, 4), rnd(4)
    y, go, (ga, gb) = grads(lambda a, b: torch.where(cond.bool(), a, b), a, b)
    g.case("where", cond=cond, a=a, b=b, y=y, go=go, ga=ga, gb=gb)
