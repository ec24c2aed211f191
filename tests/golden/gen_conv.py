"""Golden data for tests/test_conv.c: conv2d and conv_transpose2d forward and
backward (gradients of y for a given dy) from PyTorch."""
import torch
import torch.nn.functional as F

from golden import GoldenWriter

torch.manual_seed(0)


def r(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def conv_case(g, name, x, w, b, transposed=False, **opts):
    x = x.clone().requires_grad_()
    w = w.clone().requires_grad_()
    if b is not None:
        b = b.clone().requires_grad_()
    fn = F.conv_transpose2d if transposed else F.conv2d
    y = fn(x, w, b, **opts)
    dy = r(*y.shape)
    y.backward(dy)
    out = dict(x=x, w=w)
    if b is not None:
        out["b"] = b
    out.update(y=y, dy=dy, dx=x.grad, dw=w.grad)
    if b is not None:
        out["db"] = b.grad
    g.case(name, **out)


with GoldenWriter("conv.txt") as g:
    conv_case(g, "conv_basic", r(2, 2, 4, 4), r(3, 2, 3, 3), r(3))
    conv_case(g, "conv_stride_pad_dil", r(1, 2, 7, 6), r(3, 2, 3, 2), r(3),
              stride=(2, 1), padding=(1, 2), dilation=(2, 1))
    conv_case(g, "conv_groups", r(2, 4, 4, 4), r(6, 2, 2, 2), None,
              stride=2, padding=1, groups=2)
    conv_case(g, "conv_1x1", r(3, 4, 2, 3), r(2, 4, 1, 1), r(2))
    conv_case(g, "convt_basic", r(2, 2, 3, 3), r(2, 2, 3, 3), r(2), transposed=True,
              stride=2, padding=1, output_padding=1)
    conv_case(g, "convt_groups_dil", r(1, 4, 3, 3), r(4, 3, 2, 2), None, transposed=True,
              dilation=2, groups=2)
