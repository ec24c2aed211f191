"""Golden data for tests/test_reduce.c: sum, mean, amax/amin (the semantics of
ag_max/ag_min), argmax/argmin, var, std, logsumexp, softmax and log_softmax,
with gradients, computed by PyTorch.

Each differentiable case holds the input x, the output y, an upstream
gradient `go` (y's shape) and gx = d(sum(y * go))/dx. The test picks the op,
dims and keepdim from the case name (see the table in test_reduce.c).
Run: python3 tests/golden/gen_reduce.py  (writes reduce.txt)."""
import torch

from golden import GoldenWriter

torch.manual_seed(0)


def case(g, name, fn, x):
    xr = x.clone().requires_grad_(True)
    y = fn(xr)
    go = torch.randn(y.shape)
    y.backward(go)
    g.case(name, x=x, y=y.detach(), go=go, gx=xr.grad)


x3 = torch.randn(2, 3, 4)
ties = torch.randint(0, 3, (4, 5)).float()  # many equal maxima and minima

with GoldenWriter("reduce.txt") as g:
    # sum / mean over several dim sets
    case(g, "sum_all", lambda x: x.sum(), x3)
    case(g, "sum_d02", lambda x: x.sum(dim=(0, 2)), x3)
    case(g, "sum_d1_keep", lambda x: x.sum(dim=1, keepdim=True), x3)
    case(g, "sum_dm1", lambda x: x.sum(dim=-1), x3)
    case(g, "mean_all", lambda x: x.mean(), x3)
    case(g, "mean_d12_keep", lambda x: x.mean(dim=(1, 2), keepdim=True), x3)
    case(g, "mean_d0", lambda x: x.mean(dim=0), x3)
    # amax / amin (gradient shared evenly among ties)
    case(g, "max_all", lambda x: x.amax(), x3)
    case(g, "max_d1", lambda x: x.amax(dim=1), x3)
    case(g, "max_d02_keep", lambda x: x.amax(dim=(0, 2), keepdim=True), x3)
    case(g, "min_dm1", lambda x: x.amin(dim=-1), x3)
    case(g, "min_all", lambda x: x.amin(), x3)
    case(g, "max_ties_all", lambda x: x.amax(), ties)
    case(g, "max_ties_d1", lambda x: x.amax(dim=1), ties)
    case(g, "min_ties_d0_keep", lambda x: x.amin(dim=0, keepdim=True), ties)
    # var / std with corrections
    case(g, "var_all", lambda x: x.var(), x3)
    case(g, "var_d1_c0", lambda x: x.var(dim=1, correction=0), x3)
    case(g, "var_d02_keep", lambda x: x.var(dim=(0, 2), keepdim=True), x3)
    case(g, "std_all", lambda x: x.std(), x3)
    case(g, "std_dm1", lambda x: x.std(dim=-1), x3)
    case(g, "std_d0_c0_keep", lambda x: x.std(dim=0, correction=0, keepdim=True), x3)
    # logsumexp, including rows of -inf and large values
    case(g, "lse_all", lambda x: x.logsumexp(dim=(0, 1, 2)), x3)
    case(g, "lse_d1", lambda x: x.logsumexp(dim=1), x3)
    case(g, "lse_d02_keep", lambda x: x.logsumexp(dim=(0, 2), keepdim=True), x3)
    big = torch.randn(2, 4) * 30 + 500
    case(g, "lse_big_dm1", lambda x: x.logsumexp(dim=-1), big)
    inf = torch.randn(3, 4)
    inf[0, :] = -float("inf")
    inf[1, 2] = -float("inf")
    y = inf.logsumexp(dim=1)
    g.case("lse_ninf_fwd", x=inf, y=y)
    # softmax / log_softmax along every dim
    for d in (0, 1, 2, -1):
        tag = "m1" if d < 0 else str(d)
        case(g, f"softmax_d{tag}", lambda x, d=d: torch.softmax(x, dim=d), x3)
        case(g, f"log_softmax_d{tag}", lambda x, d=d: torch.log_softmax(x, dim=d), x3)
    big2 = torch.randn(2, 5) * 50
    case(g, "softmax_big_d1", lambda x: torch.softmax(x, dim=1), big2)
    case(g, "log_softmax_big_d1", lambda x: torch.log_softmax(x, dim=1), big2)
    # argmax / argmin (first occurrence on ties)
    g.case("argmax_d1", x=ties, y=ties.argmax(dim=1))
    g.case("argmax_d0_keep", x=ties, y=ties.argmax(dim=0, keepdim=True))
    g.case("argmin_dm1", x=ties, y=ties.argmin(dim=-1))
    g.case("argmax_3d_d1", x=x3, y=x3.argmax(dim=1))
    g.case("argmin_3d_d2", x=x3, y=x3.argmin(dim=2))
    # integer sums and means become f32
    xi = torch.randint(-5, 6, (3, 4), dtype=torch.int32)
    g.case("int_sum_d0", x=xi, y=xi.sum(dim=0).float())
    g.case("int_mean_all", x=xi, y=xi.float().mean())
