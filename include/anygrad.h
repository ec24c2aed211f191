/*
 * anygrad — a deep-learning library in C11 that runs on any GPU vendor
 * (Vulkan, OpenCL) and on the CPU, with PyTorch-like tensors and autograd.
 *
 * This umbrella header is the entry point of the reference manual; each area
 * lives in its own header under anygrad/:
 *
 *   anygrad/core.h      version, status codes, errors, dtypes, devices, scopes
 *   anygrad/tensor.h    creating tensors, views, reading and writing data
 *   anygrad/ops.h       math: elementwise, reductions, matmul, conv, losses, ...
 *   anygrad/autograd.h  backward, gradients, no-grad blocks
 *   anygrad/optim.h     optimizers, learning-rate schedules, gradient clipping
 *   anygrad/data.h      IDX files, datasets, the prefetching batch loader
 *   anygrad/io.h        state dicts, safetensors files, checkpoints
 *   anygrad/nn.h        modules: Linear, Conv2d, norms, attention, Sequential
 *   anygrad/graph.h     capture a training step once, replay it (graphs)
 *   anygrad/dist.h      data-parallel training across processes on MPI
 *
 * Conventions (see docs/ARCHITECTURE.md):
 *   - Functions returning a handle return NULL on failure; functions returning
 *     ag_status return a negative code. ag_last_error() names the op and shapes.
 *   - Every op accepts NULL inputs and returns NULL, so a chain of calls can be
 *     checked once at the end.
 *   - Tensors are reference counted. A new tensor belongs to the innermost open
 *     scope (ag_scope_begin/end), or to the caller when no scope is open.
 */
#ifndef ANYGRAD_H
#define ANYGRAD_H

#include "anygrad/core.h"
#include "anygrad/tensor.h"
#include "anygrad/ops.h"
#include "anygrad/autograd.h"
#include "anygrad/optim.h"
#include "anygrad/amp.h"
#include "anygrad/data.h"
#include "anygrad/io.h"
#include "anygrad/nn.h"
#include "anygrad/graph.h"
#include "anygrad/dist.h"

#endif /* ANYGRAD_H */
