#!/usr/bin/env python3
"""Golden data for tests/test_nn.c: each nn module's parameters, input, output,
and gradients of sum(output * r) with respect to the input and every parameter.
Parameters are written under their state-dict names; gradients as "grad.<name>"."""
import torch
import torch.nn as nn

from golden import GoldenWriter

torch.manual_seed(0)


def emit(g, name, module, x, train=True, int_input=False):
    module.train(train)
    if not int_input:
        x = x.clone().requires_grad_(True)
    sd = {k: v.clone() for k, v in module.state_dict().items()}
    if isinstance(module, nn.MultiheadAttention):
        y = module(x, x, x, need_weights=False)[0]
    else:
        y = module(x)
    r = torch.randn(y.shape)
    (y * r).sum().backward()
    tensors = {"x": x.detach(), "y": y.detach(), "r": r}
    if not int_input:
        tensors["grad.x"] = x.grad
    for k, v in sd.items():
        tensors["p." + k] = v
    for k, p in module.named_parameters():
        tensors["grad." + k] = p.grad if p.grad is not None else torch.zeros_like(p)
    for k, v in module.state_dict().items():  # running statistics after the step
        if "running" in k or "num_batches" in k:
            tensors["after." + k] = v
    g.case(name, **tensors)


with GoldenWriter("nn.txt") as g:
    emit(g, "linear", nn.Linear(5, 3), torch.randn(4, 5))
    emit(g, "linear_3d", nn.Linear(5, 3), torch.randn(2, 3, 5))
    emit(g, "conv2d", nn.Conv2d(2, 3, 3, stride=2, padding=1), torch.randn(2, 2, 5, 5))
    emit(g, "conv_transpose2d", nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
         torch.randn(1, 2, 3, 3))
    emit(g, "batch_norm1d", nn.BatchNorm1d(4), torch.randn(6, 4))
    emit(g, "batch_norm2d", nn.BatchNorm2d(3), torch.randn(2, 3, 4, 4))
    bn = nn.BatchNorm2d(3)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    emit(g, "batch_norm2d_eval", bn, torch.randn(2, 3, 4, 4), train=False)
    emit(g, "layer_norm", nn.LayerNorm(6), torch.randn(3, 6))
    emit(g, "rms_norm", nn.RMSNorm(6, eps=1e-5), torch.randn(3, 6))
    emit(g, "embedding", nn.Embedding(10, 4), torch.tensor([[1, 3, 3], [9, 0, 2]], dtype=torch.int32),
         int_input=True)
    emit(g, "max_pool2d", nn.MaxPool2d(2), torch.randn(1, 2, 4, 4))
    emit(g, "avg_pool2d", nn.AvgPool2d(3, stride=2, padding=1), torch.randn(1, 2, 5, 5))
    emit(g, "adaptive_avg_pool2d", nn.AdaptiveAvgPool2d((2, 3)), torch.randn(1, 2, 5, 7))
    emit(g, "flatten", nn.Flatten(), torch.randn(2, 3, 2))
    for act_name, act in [("relu", nn.ReLU()), ("leaky_relu", nn.LeakyReLU(0.1)),
                          ("gelu", nn.GELU()), ("gelu_tanh", nn.GELU(approximate="tanh")),
                          ("silu", nn.SiLU()), ("sigmoid", nn.Sigmoid()), ("tanh", nn.Tanh()),
                          ("softplus", nn.Softplus(2.0, 5.0))]:
        emit(g, act_name, act, torch.randn(3, 4))
    emit(g, "sequential", nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), torch.randn(5, 4))
    emit(g, "multihead_attention",
         nn.MultiheadAttention(8, 2, batch_first=True), torch.randn(2, 3, 8))
    emit(g, "transformer_encoder_layer",
         nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True),
         torch.randn(2, 3, 8))
