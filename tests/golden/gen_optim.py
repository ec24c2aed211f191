"""Golden data for tests/test_optim.c: optimizer trajectories, LR schedules and
gradient clipping, computed with torch.optim / torch.nn.utils."""
import math

import torch

from golden import GoldenWriter

STEPS = 10
SKIP_STEP = 4  # parameter 1 gets no gradient at this step (grad = None)


def trajectory(g, name, make_opt, lr_change=None):
    torch.manual_seed(7)
    p0 = torch.randn(2, 3)
    p1 = torch.randn(4)
    grads0 = torch.randn(STEPS, 2, 3)
    grads1 = torch.randn(STEPS, 4)
    w0 = p0.clone().requires_grad_(True)
    w1 = p1.clone().requires_grad_(True)
    opt = make_opt([w0, w1])
    traj0, traj1 = [], []
    for s in range(STEPS):
        if lr_change is not None and s == lr_change[0]:
            for group in opt.param_groups:
                group["lr"] = lr_change[1]
        w0.grad = grads0[s].clone()
        w1.grad = None if s == SKIP_STEP else grads1[s].clone()
        opt.step()
        traj0.append(w0.detach().clone())
        traj1.append(w1.detach().clone())
    g.case(name, p0=p0, p1=p1, g0=grads0, g1=grads1, traj0=torch.stack(traj0),
           traj1=torch.stack(traj1))


def schedules(g):
    def run(sched_fn, n):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.1)
        sched = sched_fn(opt)
        lrs = []
        for _ in range(n):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return torch.tensor(lrs, dtype=torch.float32)

    g.case("lr_step", lr=run(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 12))
    g.case("lr_linear", lr=run(lambda o: torch.optim.lr_scheduler.LinearLR(
        o, start_factor=0.25, end_factor=1.0, total_iters=5), 10))
    g.case("lr_cosine", lr=run(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
        o, T_max=10, eta_min=0.001), 11))
    warm, total = 3, 10

    def warmup_cosine(step):
        if step < warm:
            return step / warm
        if step >= total:
            return 0.0
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))

    g.case("lr_warmup_cosine", lr=run(lambda o: torch.optim.lr_scheduler.LambdaLR(o, warmup_cosine), 12))


def clipping(g):
    torch.manual_seed(11)
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(5, requires_grad=True)
    ga = torch.randn(3, 4)
    gb = torch.randn(5)
    for name, max_norm in (("clip_small", 1.0), ("clip_large", 100.0)):
        a.grad = ga.clone()
        b.grad = gb.clone()
        norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
        g.case(name, ga=ga, gb=gb, norm=norm.reshape(1), ca=a.grad, cb=b.grad)


with GoldenWriter("optim.txt") as g:
    O = torch.optim
    trajectory(g, "sgd_plain", lambda ps: O.SGD(ps, lr=0.1))
    trajectory(g, "sgd_momentum", lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1,
                                                   weight_decay=0.01))
    trajectory(g, "sgd_nesterov", lambda ps: O.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                                   weight_decay=0.001))
    trajectory(g, "adam", lambda ps: O.Adam(ps, lr=0.01))
    trajectory(g, "adam_wd", lambda ps: O.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6,
                                               weight_decay=0.1))
    trajectory(g, "adamw", lambda ps: O.AdamW(ps, lr=0.01, weight_decay=0.1))
    trajectory(g, "adamw_lrchange", lambda ps: O.AdamW(ps, lr=0.02, weight_decay=0.05),
               lr_change=(5, 0.005))
    trajectory(g, "rmsprop", lambda ps: O.RMSprop(ps, lr=0.01))
    trajectory(g, "rmsprop_mom", lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6,
                                                      weight_decay=0.01, momentum=0.5))
    schedules(g)
    clipping(g)
