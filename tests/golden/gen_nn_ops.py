"""Golden data for normalisation, losses and attention (tests/test_norm.c,
tests/test_loss.c, tests/test_attention.c): writes nn_ops.txt.

Each case stores the inputs, the forward output, a grad_output `gy` and the
gradients PyTorch computes for backward(gy)."""
import torch
import torch.nn.functional as F

from golden import GoldenWriter

torch.manual_seed(1234)


def leaf(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).requires_grad_(True)


def grads(y, *inputs):
    gy = torch.randn_like(y)
    gs = torch.autograd.grad(y, inputs, gy)
    return gy, gs


with GoldenWriter("nn_ops.txt") as g:
    # ---- layer norm -----------------------------------------------------------
    x, w, b = leaf(2, 3, 4), leaf(4), leaf(4)
    y = F.layer_norm(x, (4,), w, b, eps=1e-5)
    gy, (dx, dw, db) = grads(y, x, w, b)
    g.case("layer_norm_affine", x=x, w=w, b=b, y=y, gy=gy, dx=dx, dw=dw, db=db)

    x = leaf(2, 3, 4, scale=2.0, shift=1.0)
    y = F.layer_norm(x, (3, 4), eps=1e-5)
    gy, (dx,) = grads(y, x)
    g.case("layer_norm_2d", x=x, y=y, gy=gy, dx=dx)

    # ---- RMS norm -------------------------------------------------------------
    x, w = leaf(2, 3, 4), leaf(4)
    y = F.rms_norm(x, (4,), w, eps=1e-6)
    gy, (dx, dw) = grads(y, x, w)
    g.case("rms_norm", x=x, w=w, y=y, gy=gy, dx=dx, dw=dw)

    # ---- batch norm -----------------------------------------------------------
    x, w, b = leaf(4, 3, 2, 2, shift=0.5), leaf(3), leaf(3)
    rm0 = torch.tensor([0.1, -0.2, 0.3])
    rv0 = torch.tensor([0.9, 1.1, 1.3])
    rm, rv = rm0.clone(), rv0.clone()
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
    gy, (dx, dw, db) = grads(y, x, w, b)
    g.case("batch_norm_train", x=x, w=w, b=b, rm0=rm0, rv0=rv0, y=y, rm=rm, rv=rv, gy=gy,
           dx=dx, dw=dw, db=db)

    x = leaf(5, 3, shift=-0.5)
    y = F.batch_norm(x, None, None, None, None, training=True, eps=1e-5)
    gy, (dx,) = grads(y, x)
    g.case("batch_norm_2d", x=x, y=y, gy=gy, dx=dx)

    x, w, b = leaf(2, 3, 4), leaf(3), leaf(3)
    y = F.batch_norm(x, rm0, rv0, w, b, training=False, eps=1e-5)
    gy, (dx, dw, db) = grads(y, x, w, b)
    g.case("batch_norm_eval", x=x, w=w, b=b, rm=rm0, rv=rv0, y=y, gy=gy, dx=dx, dw=dw, db=db)

    # ---- cross entropy / NLL --------------------------------------------------
    x = leaf(4, 5)
    t = torch.tensor([1, 0, 4, 2], dtype=torch.int32)
    for red in ("mean", "sum", "none"):
        y = F.cross_entropy(x, t.long(), reduction=red)
        gy, (dx,) = grads(y, x)
        g.case(f"ce_{red}", x=x, t=t, y=y, gy=gy, dx=dx)

    ti = torch.tensor([1, -100, 4, 2], dtype=torch.int32)
    y = F.cross_entropy(x, ti.long(), ignore_index=-100, label_smoothing=0.1)
    gy, (dx,) = grads(y, x)
    g.case("ce_ignore_smooth", x=x, t=ti, y=y, gy=gy, dx=dx)

    tj = torch.tensor([1, 3, 3, 2], dtype=torch.int32)
    y = F.cross_entropy(x, tj.long(), ignore_index=3, reduction="none", label_smoothing=0.2)
    gy, (dx,) = grads(y, x)
    g.case("ce_ignore3_none", x=x, t=tj, y=y, gy=gy, dx=dx)

    x = leaf(2, 3, 4)
    t = torch.tensor([[0, 2, 1, 1], [2, 2, 0, 1]], dtype=torch.int32)
    y = F.cross_entropy(x, t.long())
    gy, (dx,) = grads(y, x)
    g.case("ce_spatial", x=x, t=t, y=y, gy=gy, dx=dx)

    x = leaf(3, 4)
    lp = F.log_softmax(x, 1).detach().requires_grad_(True)
    t = torch.tensor([3, -100, 0], dtype=torch.int32)
    y = F.nll_loss(lp, t.long())
    gy, (dx,) = grads(y, lp)
    g.case("nll_mean", x=lp, t=t, y=y, gy=gy, dx=dx)

    # ---- regression losses ----------------------------------------------------
    a, c = leaf(3, 4), leaf(3, 4)
    for red in ("mean", "sum", "none"):
        y = F.mse_loss(a, c, reduction=red)
        gy, (da, dc) = grads(y, a, c)
        g.case(f"mse_{red}", a=a, c=c, y=y, gy=gy, da=da, dc=dc)
        y = F.l1_loss(a, c, reduction=red)
        gy, (da, dc) = grads(y, a, c)
        g.case(f"l1_{red}", a=a, c=c, y=y, gy=gy, da=da, dc=dc)
        y = F.smooth_l1_loss(a, c, reduction=red, beta=0.7)
        gy, (da, dc) = grads(y, a, c)
        g.case(f"smooth_l1_{red}", a=a, c=c, y=y, gy=gy, da=da, dc=dc)

    x = leaf(3, 4, scale=3.0)
    t = torch.rand(3, 4).requires_grad_(True)
    pw = torch.tensor([0.5, 1.0, 2.0, 3.0])
    for red in ("mean", "sum", "none"):
        y = F.binary_cross_entropy_with_logits(x, t, reduction=red)
        gy, (dx, dt) = grads(y, x, t)
        g.case(f"bce_{red}", x=x, t=t, y=y, gy=gy, dx=dx, dt=dt)
    y = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw)
    gy, (dx, dt) = grads(y, x, t)
    g.case("bce_pos_weight", x=x, t=t, pw=pw, y=y, gy=gy, dx=dx, dt=dt)

    # ---- scaled dot-product attention ------------------------------------------
    q, k, v = leaf(2, 3, 4), leaf(2, 5, 4), leaf(2, 5, 3)
    y = F.scaled_dot_product_attention(q, k, v)
    gy, (dq, dk, dv) = grads(y, q, k, v)
    g.case("sdpa_plain", q=q, k=k, v=v, y=y, gy=gy, dq=dq, dk=dk, dv=dv)

    keep = torch.tensor([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 1]], dtype=torch.bool)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    gy, (dq, dk, dv) = grads(y, q, k, v)
    g.case("sdpa_keep", q=q, k=k, v=v, mask=keep.to(torch.uint8), y=y, gy=gy, dq=dq, dk=dk,
           dv=dv)

    add = torch.randn(2, 3, 5)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=add, scale=0.3)
    gy, (dq, dk, dv) = grads(y, q, k, v)
    g.case("sdpa_additive", q=q, k=k, v=v, mask=add, y=y, gy=gy, dq=dq, dk=dk, dv=dv)

    q4, k4, v4 = leaf(2, 2, 4, 3), leaf(2, 2, 4, 3), leaf(2, 2, 4, 2)
    y = F.scaled_dot_product_attention(q4, k4, v4, is_causal=True)
    gy, (dq, dk, dv) = grads(y, q4, k4, v4)
    g.case("sdpa_causal", q=q4, k=k4, v=v4, y=y, gy=gy, dq=dq, dk=dk, dv=dv)

    # rows with every key masked give 0 (PyTorch's safe softmax), zero gradients
    dead = keep.clone()
    dead[1] = False
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=dead)
    gy, (dq, dk, dv) = grads(y, q, k, v)
    g.case("sdpa_keep_dead", q=q, k=k, v=v, mask=dead.to(torch.uint8), y=y, gy=gy, dq=dq, dk=dk,
           dv=dv)

    addd = add.clone()
    addd[0, 2] = float("-inf")
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=addd)
    gy, (dq, dk, dv) = grads(y, q, k, v)
    g.case("sdpa_additive_dead", q=q, k=k, v=v, mask=addd, y=y, gy=gy, dq=dq, dk=dk, dv=dv)

    # ---- cross entropy with class probabilities ---------------------------------
    x = leaf(3, 4)
    p = torch.softmax(torch.randn(3, 4), 1).requires_grad_(True)
    y = F.cross_entropy(x, p, label_smoothing=0.1)
    gy, (dx, dp) = grads(y, x, p)
    g.case("ce_probs", x=x, t=p, y=y, gy=gy, dx=dx, dt=dp)
    x = leaf(2, 3, 2)
    p = torch.softmax(torch.randn(2, 3, 2), 1).requires_grad_(True)
    y = F.cross_entropy(x, p, reduction="none")
    gy, (dx, dp) = grads(y, x, p)
    g.case("ce_probs_spatial_none", x=x, t=p, y=y, gy=gy, dx=dx, dt=dp)
