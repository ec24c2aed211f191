"""Golden data for tests/test_index.c: gather, scatter_add, index_select,
embedding and one_hot from PyTorch (gradients of y for a given dy)."""
import torch
import torch.nn.functional as F

from golden import GoldenWriter

torch.manual_seed(2)


def I(*v):
    return torch.tensor(v, dtype=torch.int64)


with GoldenWriter("index.txt") as g:
    x = torch.randn(3, 5, requires_grad=True)
    idx = torch.tensor([[4, 0, 0, 2], [1, 1, 3, 4]])
    y = torch.gather(x, 1, idx)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    g.case("gather_dim1", x=x, index=idx, y=y, dy=dy, dx=x.grad)

    x = torch.randn(4, 3, 2, requires_grad=True)
    idx = torch.randint(0, 4, (2, 3, 2))
    y = torch.gather(x, 0, idx)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    g.case("gather_dim0_3d", x=x, index=idx, y=y, dy=dy, dx=x.grad)

    x = torch.randn(4, 3, requires_grad=True)
    src = torch.randn(2, 3, requires_grad=True)
    idx = torch.tensor([[0, 3, 3], [3, 1, 0]])
    y = torch.scatter_add(x, 0, idx, src)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    g.case("scatter_add_dim0", x=x, index=idx, src=src, y=y, dy=dy, dx=x.grad, dsrc=src.grad)

    x = torch.randn(2, 6, requires_grad=True)
    src = torch.randn(2, 4, requires_grad=True)
    idx = torch.tensor([[5, 5, 1, 0], [2, 2, 2, 3]])
    y = torch.scatter_add(x, 1, idx, src)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    g.case("scatter_add_dim1", x=x, index=idx, src=src, y=y, dy=dy, dx=x.grad, dsrc=src.grad)

    x = torch.randn(3, 5, requires_grad=True)
    idx = torch.tensor([4, 0, 4, 2])
    y = torch.index_select(x, 1, idx)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    g.case("index_select_dim1", x=x, index=idx, y=y, dy=dy, dx=x.grad)

    x = torch.randn(4, 2, 3, requires_grad=True)
    idx = torch.tensor([3, 3, 0])
    y = torch.index_select(x, 0, idx)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    g.case("index_select_dim0", x=x, index=idx, y=y, dy=dy, dx=x.grad)

    w = torch.randn(6, 3, requires_grad=True)
    idx = torch.tensor([[1, 5, 1], [0, 2, 1]])
    y = F.embedding(idx, w)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    g.case("embedding", weight=w, index=idx, y=y, dy=dy, dw=w.grad)

    labels = torch.tensor([[0, 4, 2], [1, 1, 3]])
    g.case("one_hot", labels=labels, y=F.one_hot(labels, 5))
