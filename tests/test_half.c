/* tests/test_half.c — f16 and bf16 tensors through the public API on every
 * backend: casts both ways, elementwise ops computed in the 16-bit dtype
 * against the same op in f32 on the same (rounded) inputs, type promotion,
 * the ops with f32 kernels only answering in the 16-bit dtype (rounded once),
 * and an explicit AG_ERR_UNSUPPORTED naming the dtype where 16-bit data is
 * refused (never a silent f32 result).
 *
 * Tolerances, per dtype: a result rounded once to nearest even is within
 * 2^-11 (f16) or 2^-8 (bf16) of the f32 result, relative; the checks allow
 * 1e-3 and 8e-3 (one unit in the last place of the 16-bit result, as the
 * backends' f32 transcendental functions differ by an f32 ulp or so). */
#include "harness.h"
#include "internal.h"

#include <math.h>
#include <string.h>

static const ag_dtype halfs[2] = {AG_F16, AG_BF16};

static double rtol_of(ag_dtype t) { return t == AG_F16 ? 1e-3 : 8e-3; }

/* x in f32, random in [-scale, scale), rounded to dtype t and back so both
 * paths start from the same values. */
static ag_tensor *rounded_input(ag_device *dev, ag_dtype t, uint64_t seed, double scale, ag_tensor **x16)
{
    ag_tensor *x = agt_randn(dev, AG_SHAPE(5, 37), seed, scale);
    *x16 = ag_cast(x, t);
    ck_assert_msg(*x16 != NULL, "cast to %s: %s", ag_dtype_name(t), ag_last_error());
    ck_assert_int_eq(ag_tensor_dtype(*x16), t);
    ag_tensor *back = ag_cast(*x16, AG_F32);
    ck_assert(back != NULL);
    return back;
}

START_TEST(test_cast_round_trip)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_tensor *x = agt_randn(dev, AG_SHAPE(3, 41), 7 + (uint64_t)h, 100.0);
        ag_tensor *x16 = ag_cast(x, t);
        ck_assert_msg(x16 != NULL, "%s", ag_last_error());
        ck_assert_uint_eq(ag_dtype_size(t), 2);
        agt_assert_tensors_close(ag_cast(x16, AG_F32), x, 0, t == AG_F16 ? 4.9e-4 : 3.9e-3, "round trip");
        /* a non-contiguous source and the integer casts */
        ag_tensor *xt = ag_cast(ag_transpose(x, 0, 1), t);
        agt_assert_tensors_close(ag_cast(xt, AG_F32), ag_transpose(x, 0, 1), 0, t == AG_F16 ? 4.9e-4 : 3.9e-3,
                                 "transposed round trip");
        ag_tensor *i = agt_tensor_i32(dev, AG_SHAPE(4), (int32_t[]){-3, 0, 7, 255});
        agt_assert_close(ag_cast(i, t), (float[]){-3, 0, 7, 255}, 4, 0, 0, "i32 -> 16-bit");
        agt_assert_close(ag_cast(ag_cast(i, t), AG_I32), (float[]){-3, 0, 7, 255}, 4, 0, 0, "16-bit -> i32");
        /* fills */
        agt_assert_close(ag_full(dev, t, AG_SHAPE(3), 0.1), (float[]){t == AG_F16 ? 0.0999755859375f : 0.10009765625f,
                         t == AG_F16 ? 0.0999755859375f : 0.10009765625f, t == AG_F16 ? 0.0999755859375f : 0.10009765625f},
                         3, 0, 0, "full 0.1");
        ck_assert_double_eq(ag_item(ag_full(dev, t, 0, NULL, 1.5)), 1.5);
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

typedef ag_tensor *(*unary_fn)(const ag_tensor *);

START_TEST(test_elementwise_vs_f32)
{
    ag_device *dev = agt_open(_i);
    static const struct { const char *name; unary_fn fn; } un[] = {
        {"exp", ag_exp}, {"tanh", ag_tanh}, {"sigmoid", ag_sigmoid}, {"gelu", ag_gelu},
        {"silu", ag_silu}, {"relu", ag_relu}, {"neg", ag_neg}, {"square", ag_square},
    };
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_tensor *a16, *b16;
        ag_tensor *a = rounded_input(dev, t, 11 + (uint64_t)h, 2.0, &a16);
        ag_tensor *b = rounded_input(dev, t, 21 + (uint64_t)h, 2.0, &b16);
        for (size_t u = 0; u < sizeof un / sizeof un[0]; u++) {
            ag_tensor *y = un[u].fn(a16);
            ck_assert_msg(y != NULL, "%s %s: %s", ag_dtype_name(t), un[u].name, ag_last_error());
            ck_assert_msg(ag_tensor_dtype(y) == t, "%s keeps %s", un[u].name, ag_dtype_name(t));
            agt_assert_tensors_close(y, un[u].fn(a), 1e-6, rtol_of(t), un[u].name);
        }
        ag_tensor *s = ag_add(a16, b16);
        ck_assert_int_eq(ag_tensor_dtype(s), t);
        agt_assert_tensors_close(s, ag_add(a, b), 1e-6, rtol_of(t), "add");
        agt_assert_tensors_close(ag_mul(a16, b16), ag_mul(a, b), 1e-6, rtol_of(t), "mul");
        agt_assert_tensors_close(ag_maximum(a16, b16), ag_maximum(a, b), 0, 0, "maximum");
        /* broadcast: a row vector */
        ag_tensor *row16 = ag_narrow(b16, 0, 0, 1), *row = ag_narrow(b, 0, 0, 1);
        agt_assert_tensors_close(ag_sub(a16, row16), ag_sub(a, row), 1e-6, rtol_of(t), "sub broadcast");
        /* scalars keep the 16-bit dtype */
        ag_tensor *sc = ag_mul_scalar(a16, 0.5);
        ck_assert_int_eq(ag_tensor_dtype(sc), t);
        agt_assert_tensors_close(sc, ag_mul_scalar(a, 0.5), 0, 0, "mul_scalar (exact)");
        agt_assert_tensors_close(ag_add_scalar(a16, 3.0), ag_add_scalar(a, 3.0), 1e-6, rtol_of(t), "add_scalar");
        /* comparisons read the exact 16-bit values */
        agt_assert_tensors_close(ag_lt(a16, b16), ag_lt(a, b), 0, 0, "lt");
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_promotion)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *f = ag_full(dev, AG_F32, AG_SHAPE(4), 1.25);
    ag_tensor *h = ag_full(dev, AG_F16, AG_SHAPE(4), 2.0);
    ag_tensor *bf = ag_full(dev, AG_BF16, AG_SHAPE(4), 3.0);
    ag_tensor *i = ag_full(dev, AG_I32, AG_SHAPE(4), 4.0);
    ck_assert_int_eq(agi_promote(AG_F16, AG_BF16), AG_F32);
    ck_assert_int_eq(agi_promote(AG_I32, AG_F16), AG_F16);
    ck_assert_int_eq(agi_promote(AG_U8, AG_BF16), AG_BF16);
    ag_tensor *fh = ag_add(f, h), *hb = ag_add(h, bf), *ih = ag_add(i, h);
    ck_assert_msg(fh && hb && ih, "%s", ag_last_error());
    ck_assert_int_eq(ag_tensor_dtype(fh), AG_F32);
    ck_assert_int_eq(ag_tensor_dtype(hb), AG_F32);
    ck_assert_int_eq(ag_tensor_dtype(ih), AG_F16);
    agt_assert_close(fh, (float[]){3.25f, 3.25f, 3.25f, 3.25f}, 4, 0, 0, "f32 + f16");
    agt_assert_close(hb, (float[]){5, 5, 5, 5}, 4, 0, 0, "f16 + bf16");
    agt_assert_close(ih, (float[]){6, 6, 6, 6}, 4, 0, 0, "i32 + f16");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* matmul, softmax, sum and mean in the 16-bit dtype (f32 accumulation,
 * one rounding) against the f32 op on the same values. */
START_TEST(test_reductions_and_matmul_vs_f32)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_tensor *a16, *b16;
        ag_tensor *a = rounded_input(dev, t, 31 + (uint64_t)h, 1.0, &a16);
        ag_tensor *b = rounded_input(dev, t, 41 + (uint64_t)h, 1.0, &b16);
        ag_tensor *bt16 = ag_transpose(b16, 0, 1), *bt = ag_transpose(b, 0, 1);
        ag_tensor *mm = ag_matmul(a16, bt16);
        ck_assert_msg(mm != NULL, "%s matmul: %s", ag_dtype_name(t), ag_last_error());
        ck_assert_int_eq(ag_tensor_dtype(mm), t);
        /* 37 products summed in f32, rounded once: within the dtype's rounding
         * of the f32 result (plus a little for f32 summation order) */
        agt_assert_tensors_close(mm, ag_matmul(a, bt), 1e-3, rtol_of(t), "matmul");
        ag_tensor *sm = ag_softmax(a16, 1);
        ck_assert_int_eq(ag_tensor_dtype(sm), t);
        agt_assert_tensors_close(sm, ag_softmax(a, 1), 1e-5, rtol_of(t), "softmax");
        agt_assert_tensors_close(ag_log_softmax(a16, 0), ag_log_softmax(a, 0), 1e-5, rtol_of(t), "log_softmax");
        ag_tensor *s = ag_sum(a16, 1, (int[]){1}, false);
        ck_assert_msg(s != NULL, "%s", ag_last_error());
        ck_assert_int_eq(ag_tensor_dtype(s), t);
        agt_assert_tensors_close(s, ag_sum(a, 1, (int[]){1}, false), 1e-4, rtol_of(t), "sum");
        ag_tensor *mn = ag_mean(a16, 0, NULL, false);
        ck_assert_int_eq(ag_tensor_dtype(mn), t);
        agt_assert_tensors_close(mn, ag_mean(a, 0, NULL, false), 1e-5, rtol_of(t), "mean");
        /* layer norm: f32 statistics, the result in the 16-bit dtype; the
         * f32 weight takes x's dtype */
        ag_tensor *w = agt_randn(dev, AG_SHAPE(37), 51, 1.0);
        ag_tensor *ln = ag_layer_norm(a16, 1, (int64_t[]){37}, w, NULL, 1e-5);
        ck_assert_msg(ln != NULL, "%s layer_norm: %s", ag_dtype_name(t), ag_last_error());
        ck_assert_int_eq(ag_tensor_dtype(ln), t);
        agt_assert_tensors_close(ln, ag_layer_norm(a, 1, (int64_t[]){37}, ag_cast(ag_cast(w, t), AG_F32), NULL, 1e-5),
                                 1e-3, rtol_of(t), "layer_norm");
        /* 4096 ones: the f32 accumulator is exact where an f16 one would
         * stop at 2048 */
        ag_tensor *ones = ag_full(dev, t, AG_SHAPE(4096), 1.0);
        ck_assert_double_eq(ag_item(ag_sum(ones, 0, NULL, false)), 4096.0);
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Transposed 16-bit views of at least 64 x 64 elements (the CPU backend walks
 * them in staged tiles): casts, copies and elementwise ops give the values of
 * the same ops on the transposed f32 values. */
/* Products big enough for the GPU kernels of large products (Vulkan: the
 * 128x128 register-blocked tiles, or cooperative matrices for f16 where the
 * device has matrix units): partial tiles, K not a multiple of any k step, a
 * transposed operand, a batch. Exact against the f32 product rounded once,
 * except f16 on matrix units, whose hardware orders the f32 sums: there
 * within the f32 rounding of a 200-term sum plus one f16 rounding. */
START_TEST(test_large_matmul)
{
    ag_device *dev = agt_open(_i);
    const ag_device_info *info = ag_device_get_info(dev);
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_tensor *a16 = ag_cast(agt_randn(dev, AG_SHAPE(2, 130, 200), 131, 1.0), t);
        ag_tensor *b16 = ag_cast(agt_randn(dev, AG_SHAPE(2, 144, 200), 132, 1.0), t);
        ck_assert(a16 && b16);
        ag_tensor *y = ag_matmul(a16, ag_transpose(b16, 1, 2));
        ck_assert_msg(y != NULL, "%s matmul [2, 130, 200] @ [2, 200, 144]: %s", ag_dtype_name(t), ag_last_error());
        ag_tensor *ref = ag_cast(ag_matmul(ag_cast(a16, AG_F32), ag_transpose(ag_cast(b16, AG_F32), 1, 2)), t);
        bool reordered = t == AG_F16 && info->matrix_units;
        agt_assert_tensors_close(y, ref, reordered ? 5e-3 : 0, reordered ? 2e-3 : 0,
                                 reordered ? "f16 matmul on matrix units vs the f32 product rounded once"
                                           : "16-bit matmul vs the f32 product rounded once");
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_transposed_half_tiles)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_tensor *x16 = ag_cast(agt_randn(dev, AG_SHAPE(70, 130), 101 + (uint64_t)h, 1.0), t);
        ag_tensor *xt = ag_transpose(ag_cast(x16, AG_F32), 0, 1); /* [130, 70], exact values */
        ag_tensor *xt16 = ag_transpose(x16, 0, 1);
        ck_assert(x16 && xt && xt16);
        agt_assert_tensors_close(ag_cast(xt16, AG_F32), xt, 0, 0, "cast of a transposed 16-bit view");
        agt_assert_tensors_close(ag_contiguous(xt16), ag_cast(xt, t), 0, 0, "contiguous copy");
        agt_assert_tensors_close(ag_exp(xt16), ag_cast(ag_exp(xt), t), 0, 0, "exp of a transposed view");
        agt_assert_tensors_close(ag_add(xt16, ag_contiguous(xt16)), ag_cast(ag_add(xt, xt), t), 0, 0,
                                 "transposed + contiguous");
        /* a transposed 16-bit destination: f32 values cast into it */
        ag_tensor *dst = ag_transpose(ag_zeros(dev, t, AG_SHAPE(70, 130)), 0, 1);
        ck_assert_int_eq(ag_copy_(dst, xt), AG_OK);
        agt_assert_tensors_close(ag_cast(ag_contiguous(dst), AG_F32), xt, 0, 0, "copy into a transposed view");
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* A 16-bit matmul, softmax, log-softmax and layer norm equal the f32 op on
 * the same values rounded once, bit for bit: staged through f32 scratch, or
 * (Vulkan's GEMM kernels, Vulkan's and OpenCL's row kernels) converted in
 * registers with the f32 kernel's arithmetic, one dispatch, no scratch. */
START_TEST(test_matmul_bits_and_native_path)
{
    ag_device *dev = agt_open(_i);
    const ag_device_info *info = ag_device_get_info(dev);
    bool vk = info->backend == AG_BACKEND_VULKAN;
    /* {batch, M, N, K}: tiles, odd sizes, and matrix-vector products */
    static const int64_t cases[][4] = {{1, 33, 47, 70}, {3, 20, 18, 9}, {2, 65, 64, 130},
                                       {2, 1, 40, 300}, {1, 37, 1, 700}};
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
            const int64_t *q = cases[c];
            ag_tensor *a16 = ag_cast(agt_randn(dev, AG_SHAPE(q[0], q[1], q[3]), 71 + (uint64_t)c, 1.0), t);
            ag_tensor *b16 = ag_cast(agt_randn(dev, AG_SHAPE(q[0], q[2], q[3]), 81 + (uint64_t)c, 1.0), t);
            ag_tensor *bt16 = ag_transpose(b16, 1, 2); /* [b, K, N], N-major */
            ck_assert(a16 && bt16);
            ck_assert_int_eq(ag_device_sync(dev), AG_OK);
            ag_device_counters c0, c1;
            ck_assert_int_eq(ag_device_get_counters(dev, &c0), AG_OK);
            ag_tensor *y = ag_matmul(a16, bt16);
            ck_assert_msg(y != NULL, "%s matmul: %s", ag_dtype_name(t), ag_last_error());
            ck_assert_int_eq(ag_device_get_counters(dev, &c1), AG_OK);
            ck_assert_int_eq(ag_tensor_dtype(y), t);
            if (vk)
                ck_assert_msg(c1.dispatches - c0.dispatches == 1, "%s matmul %lldx%lldx%lld: %llu dispatches",
                              ag_dtype_name(t), (long long)q[1], (long long)q[2], (long long)q[3],
                              (unsigned long long)(c1.dispatches - c0.dispatches));
            /* the reference widens contiguous operands (then transposes), so
             * it shares no strided 16-bit path with the op under test */
            ag_tensor *ref = ag_cast(ag_matmul(ag_cast(a16, AG_F32), ag_transpose(ag_cast(b16, AG_F32), 1, 2)), t);
            /* f16 on matrix units: f32 sums in the hardware's order (test_large_matmul) */
            bool reordered = t == AG_F16 && info->matrix_units;
            agt_assert_tensors_close(y, ref, reordered ? 5e-3 : 0, reordered ? 2e-3 : 0,
                                     "16-bit matmul vs the f32 one rounded once");
        }
        /* operands that start at an odd element (half a packed word) with
         * rows wider than they are: x[:, 1:34] @ W[1:20, :]ᵀ */
        ag_tensor *big = ag_cast(agt_randn(dev, AG_SHAPE(21, 35), 111, 1.0), t);
        ag_tensor *xs = ag_narrow(big, 1, 1, 33), *ws = ag_narrow(ag_narrow(big, 0, 1, 19), 1, 2, 33);
        ck_assert(xs && ws);
        ag_tensor *ys = ag_matmul(xs, ag_transpose(ws, 0, 1));
        ck_assert_msg(ys != NULL, "%s: %s", ag_dtype_name(t), ag_last_error());
        ag_tensor *rs = ag_cast(ag_matmul(ag_cast(ag_contiguous(xs), AG_F32),
                                          ag_transpose(ag_cast(ag_contiguous(ws), AG_F32), 0, 1)),
                                t);
        agt_assert_tensors_close(ys, rs, 0, 0, "16-bit matmul of offset views");
        /* Row kernels: Vulkan and OpenCL convert in registers on every
         * device. With grad, layer norm also writes its f32 statistics. */
        bool rows_native = info->backend != AG_BACKEND_CPU;
        ag_tensor *x16 = ag_cast(agt_randn(dev, AG_SHAPE(6, 45), 91, 2.0), t);
        ag_tensor *w16 = ag_cast(agt_randn(dev, AG_SHAPE(45), 92, 1.0), t);
        ag_tensor *b16 = ag_cast(agt_randn(dev, AG_SHAPE(45), 93, 1.0), t);
        ag_tensor *x32 = ag_cast(x16, AG_F32), *w32 = ag_cast(w16, AG_F32), *b32 = ag_cast(b16, AG_F32);
        ck_assert(x16 && w16 && b16 && x32 && w32 && b32);
        ck_assert_int_eq(ag_set_requires_grad(x16, true), AG_OK);
        for (int op = 0; op < 3; op++) {
            ck_assert_int_eq(ag_device_sync(dev), AG_OK);
            ag_device_counters c0, c1;
            ck_assert_int_eq(ag_device_get_counters(dev, &c0), AG_OK);
            ag_tensor *y = op == 0   ? ag_softmax(x16, 1)
                           : op == 1 ? ag_log_softmax(x16, 1)
                                     : ag_layer_norm(x16, 1, (int64_t[]){45}, w16, b16, 1e-5);
            ck_assert_msg(y != NULL, "%s op %d: %s", ag_dtype_name(t), op, ag_last_error());
            ck_assert_int_eq(ag_device_get_counters(dev, &c1), AG_OK);
            ck_assert_int_eq(ag_tensor_dtype(y), t);
            if (rows_native)
                ck_assert_msg(c1.dispatches - c0.dispatches == 1, "%s row op %d: %llu dispatches",
                              ag_dtype_name(t), op, (unsigned long long)(c1.dispatches - c0.dispatches));
            ag_tensor *r32 = op == 0   ? ag_softmax(x32, 1)
                             : op == 1 ? ag_log_softmax(x32, 1)
                                       : ag_layer_norm(x32, 1, (int64_t[]){45}, w32, b32, 1e-5);
            agt_assert_tensors_close(y, ag_cast(r32, t), 0, 0, "16-bit row op vs the f32 one rounded once");
        }
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* A captured graph replays 16-bit records (native and staged through f32)
 * like the eager ops: new inputs written into the captured tensor give the
 * eager result for them. */
START_TEST(test_graph_replay)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_tensor *a = ag_cast(agt_tensor(dev, AG_SHAPE(2, 3), (float[]){0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}), t);
        ag_tensor *b = ag_cast(agt_tensor(dev, AG_SHAPE(3, 2), (float[]){1, 0, 0, 1, 1, 1}), t);
        ck_assert_int_eq(ag_graph_begin(dev, NULL), AG_OK);
        ag_tensor *y = ag_softmax(ag_exp(ag_matmul(a, b)), 1);
        ag_graph *g = ag_graph_end(dev);
        ck_assert_msg(g != NULL && y != NULL, "%s capture: %s", ag_dtype_name(t), ag_last_error());
        /* a graph of a GEMM and elementwise ops only: the whole step is one
         * pre-built backend list */
        ck_assert_int_eq(ag_graph_begin(dev, NULL), AG_OK);
        ag_tensor *z = ag_add(ag_matmul(b, a), ag_matmul(b, a));
        ag_graph *gz = ag_graph_end(dev);
        ck_assert_msg(gz != NULL && z != NULL, "%s capture: %s", ag_dtype_name(t), ag_last_error());
        ag_tensor *a2 = ag_cast(agt_randn(dev, AG_SHAPE(2, 3), 61 + (uint64_t)h, 0.5), t);
        ck_assert_int_eq(ag_copy_(a, a2), AG_OK);
        ck_assert_msg(ag_graph_replay(g) == AG_OK, "%s replay: %s", ag_dtype_name(t), ag_last_error());
        ck_assert_msg(ag_graph_replay(gz) == AG_OK, "%s replay: %s", ag_dtype_name(t), ag_last_error());
        ck_assert_int_eq(ag_tensor_dtype(y), t);
        agt_assert_tensors_close(y, ag_softmax(ag_exp(ag_matmul(a2, b)), 1), 0, 0, "replay vs eager");
        agt_assert_tensors_close(z, ag_add(ag_matmul(b, a2), ag_matmul(b, a2)), 0, 0, "replay vs eager");
        ag_graph_free(g);
        ag_graph_free(gz);
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Ops that compute with f32 kernels only (convolution, pooling, norms,
 * losses, indexing) take 16-bit inputs: the op runs on their values in f32
 * and the result is rounded once to the inputs' dtype, like PyTorch's
 * 16-bit ops answering in the input dtype. Checked against the f32 op on the
 * same values, rounded to the dtype. */
START_TEST(test_f32_kernel_ops_take_half)
{
    ag_device *dev = agt_open(_i);
    ag_conv2d_opts same = {.padding = {1, 1}};
    ag_pool2d_opts pool = {.kernel = {2, 2}};
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_tensor *img = ag_cast(ag_cast(agt_randn(dev, AG_SHAPE(2, 3, 6, 6), 71 + (uint64_t)h, 1.0), t), AG_F32);
        ag_tensor *k = ag_cast(ag_cast(agt_randn(dev, AG_SHAPE(4, 3, 3, 3), 81 + (uint64_t)h, 0.3), t), AG_F32);
        ag_tensor *m = ag_cast(ag_cast(agt_randn(dev, AG_SHAPE(3, 5), 91 + (uint64_t)h, 2.0), t), AG_F32);
        ag_tensor *img16 = ag_cast(img, t), *k16 = ag_cast(k, t), *m16 = ag_cast(m, t);
        ag_tensor *target = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){0, 4, 1});
        ag_tensor *rows = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){2, 0, 1, 2}); /* of m */
        struct { const char *name; ag_tensor *got, *want; } c[] = {
            {"conv2d", ag_conv2d(img16, k16, NULL, &same), ag_conv2d(img, k, NULL, &same)},
            {"max_pool2d", ag_max_pool2d(img16, &pool), ag_max_pool2d(img, &pool)},
            {"avg_pool2d", ag_avg_pool2d(img16, &pool), ag_avg_pool2d(img, &pool)},
            {"linear", ag_linear(m16, ag_narrow(m16, 0, 0, 2), NULL), ag_linear(m, ag_narrow(m, 0, 0, 2), NULL)},
            {"cross_entropy", ag_cross_entropy(m16, target, NULL), ag_cross_entropy(m, target, NULL)},
            {"mse_loss", ag_mse_loss(m16, ag_mul_scalar(m16, 0.5), AG_REDUCTION_MEAN),
             ag_mse_loss(m, ag_mul_scalar(m, 0.5), AG_REDUCTION_MEAN)},
            {"rms_norm", ag_rms_norm(m16, 1, (int64_t[]){5}, NULL, 1e-6), ag_rms_norm(m, 1, (int64_t[]){5}, NULL, 1e-6)},
            {"var", ag_var(m16, 1, (int[]){1}, 1, false), ag_var(m, 1, (int[]){1}, 1, false)},
            {"logsumexp", ag_logsumexp(m16, 1, (int[]){1}, false), ag_logsumexp(m, 1, (int[]){1}, false)},
            {"max", ag_max(m16, 1, (int[]){0}, false), ag_max(m, 1, (int[]){0}, false)},
            {"index_select", ag_index_select(m16, 1, target), ag_index_select(m, 1, target)},
            {"embedding", ag_embedding(rows, m16), ag_embedding(rows, m)},
            {"embedding_padded", ag_embedding_padded(rows, m16, 1), ag_embedding_padded(rows, m, 1)},
        };
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
            ck_assert_msg(c[i].got != NULL, "%s %s: %s", ag_dtype_name(t), c[i].name, ag_last_error());
            ck_assert_msg(ag_tensor_dtype(c[i].got) == t, "%s %s answers in %s", ag_dtype_name(t), c[i].name,
                          ag_dtype_name(ag_tensor_dtype(c[i].got)));
            /* exactly the f32 result rounded once */
            agt_assert_tensors_close(c[i].got, ag_cast(c[i].want, t), 0, 0, c[i].name);
        }
        ag_tensor *am = ag_argmax(m16, 1, false);
        ck_assert_int_eq(ag_tensor_dtype(am), AG_I32);
        agt_assert_tensors_close(am, ag_argmax(m, 1, false), 0, 0, "argmax");
    }
    ag_scope_end();
    ck_assert_int_eq(ag_device_live_buffers(dev), 0);
    agt_close(dev);
}
END_TEST

/* What stays f32: optimizers update f32 parameters only (16-bit training
 * keeps f32 master weights under autocast) and say so, naming the dtype. */
START_TEST(test_unsupported_is_explicit)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_tensor *p = ag_full(dev, t, AG_SHAPE(3, 3), 1.0);
        ck_assert_int_eq(ag_set_requires_grad(p, true), AG_OK);
        ag_clear_error();
        agt_assert_error(ag_optim_sgd(&p, 1, &(ag_sgd_opts){.lr = 0.1}), ag_dtype_name(t), "master weights",
                         "sgd on a 16-bit parameter");
        ck_assert_int_eq(ag_last_status(), AG_ERR_UNSUPPORTED);
    }
    ag_scope_end();
    ck_assert_int_eq(ag_device_live_buffers(dev), 0);
    agt_close(dev);
}
END_TEST

static Suite *half_suite(void)
{
    Suite *s = suite_create("half");
    TCase *tc = tcase_create("half");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_cast_round_trip);
    AGT_ADD_LOOP(tc, test_elementwise_vs_f32);
    AGT_ADD_LOOP(tc, test_promotion);
    AGT_ADD_LOOP(tc, test_reductions_and_matmul_vs_f32);
    AGT_ADD_LOOP(tc, test_matmul_bits_and_native_path);
    AGT_ADD_LOOP(tc, test_large_matmul);
    AGT_ADD_LOOP(tc, test_transposed_half_tiles);
    AGT_ADD_LOOP(tc, test_graph_replay);
    AGT_ADD_LOOP(tc, test_f32_kernel_ops_take_half);
    AGT_ADD_LOOP(tc, test_unsupported_is_explicit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(half_suite()); }
