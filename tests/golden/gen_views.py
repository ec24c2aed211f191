"""Golden data for tests/test_views.c: views (reshape, permute, transpose,
expand, slice, narrow, select, squeeze, unsqueeze, flatten) and joining
(cat, stack, split, chunk) with gradients, computed by PyTorch.

Each case holds the inputs, the output(s), an upstream gradient per output
(`go`, `go0`, ...) and the gradient of sum(out * go) for each input.
Run: python3 tests/golden/gen_views.py  (writes views.txt)."""
import torch

from golden import GoldenWriter

torch.manual_seed(1)


def case1(g, name, x, fn):
    """One input, one output."""
    xr = x.clone().requires_grad_(True)
    y = fn(xr)
    go = torch.randn(y.shape)
    y.backward(go)
    g.case(name, x=x, y=y.detach(), go=go, gx=xr.grad)


def case_multi_in(g, name, xs, fn):
    """Several inputs x0.., one output."""
    xr = [x.clone().requires_grad_(True) for x in xs]
    y = fn(xr)
    go = torch.randn(y.shape)
    y.backward(go)
    t = {f"x{k}": x for k, x in enumerate(xs)}
    t.update(y=y.detach(), go=go)
    t.update({f"g{k}": x.grad for k, x in enumerate(xr)})
    g.case(name, **t)


def case_multi_out(g, name, x, fn):
    """One input, several outputs y0.. with upstream gradients go0.."""
    xr = x.clone().requires_grad_(True)
    ys = fn(xr)
    gos = [torch.randn(y.shape) for y in ys]
    torch.autograd.backward(ys, gos)
    t = {"x": x}
    t.update({f"y{k}": y.detach() for k, y in enumerate(ys)})
    t.update({f"go{k}": go for k, go in enumerate(gos)})
    t.update(gx=xr.grad)
    g.case(name, **t)


with GoldenWriter("views.txt") as g:
    x = torch.randn(2, 3, 4)
    case1(g, "reshape", x, lambda x: x.reshape(4, -1))
    case1(g, "reshape_copy", x, lambda x: x.transpose(0, 2).reshape(-1, 6))
    case1(g, "permute", x, lambda x: x.permute(2, 0, 1))
    case1(g, "transpose", x, lambda x: x.transpose(0, 2))
    case1(g, "t", torch.randn(3, 4), lambda x: x.t())
    case1(g, "expand", torch.randn(3, 1), lambda x: x.expand(2, 3, 4))
    case1(g, "slice", x, lambda x: x[:, -2:, 1::2])
    case1(g, "slice_step3", x, lambda x: x[:, :, ::3])
    case1(g, "narrow", x, lambda x: x.narrow(2, 1, 2))
    case1(g, "select", x, lambda x: x.select(1, -1))
    case1(g, "squeeze", torch.randn(2, 1, 3), lambda x: x.squeeze(1))
    case1(g, "squeeze_all", torch.randn(1, 2, 1, 3), lambda x: x.squeeze())
    case1(g, "unsqueeze", x, lambda x: x.unsqueeze(-1))
    case1(g, "flatten", x, lambda x: x.flatten(1, 2))
    case_multi_in(g, "cat", [torch.randn(2, 3, 4), torch.randn(2, 1, 4), torch.randn(2, 2, 4)],
                  lambda xs: torch.cat(xs, dim=1))
    case_multi_in(g, "cat6", [torch.randn(1, 3) * (k + 1) for k in range(6)],
                  lambda xs: torch.cat(xs, dim=0))
    case_multi_in(g, "stack", [torch.randn(3, 4), torch.randn(3, 4)],
                  lambda xs: torch.stack(xs, dim=1))
    case_multi_out(g, "split", x, lambda x: x.split(3, dim=2))
    case_multi_out(g, "chunk", x, lambda x: x.chunk(3, dim=1))
