"""Golden data for tests/test_pool.c: max/avg/adaptive-avg pooling forward and
backward (gradient of y for a given dy) from PyTorch."""
import torch
import torch.nn.functional as F

from golden import GoldenWriter

torch.manual_seed(1)


def case(g, name, fn, x):
    x = x.clone().requires_grad_()
    y = fn(x)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    g.case(name, x=x, y=y, dy=dy, dx=x.grad)


with GoldenWriter("pool.txt") as g:
    case(g, "max_basic", lambda x: F.max_pool2d(x, 2), torch.randn(1, 2, 5, 5))
    case(g, "max_pad_dil_ceil",
         lambda x: F.max_pool2d(x, (3, 2), stride=2, padding=1, dilation=(2, 1), ceil_mode=True),
         torch.randn(1, 2, 7, 6))
    case(g, "max_overlap", lambda x: F.max_pool2d(x, 3, stride=1, padding=1),
         torch.randn(1, 1, 4, 4))
    case(g, "avg_basic", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1),
         torch.randn(2, 2, 5, 5))
    case(g, "avg_ceil_nopadcount",
         lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                count_include_pad=False),
         torch.randn(1, 2, 6, 7))
    case(g, "avg_ceil_padcount",
         lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                count_include_pad=True),
         torch.randn(1, 2, 6, 7))
    case(g, "adaptive_3x2", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), torch.randn(2, 2, 7, 5))
    case(g, "adaptive_up", lambda x: F.adaptive_avg_pool2d(x, (4, 5)), torch.randn(1, 2, 3, 3))
