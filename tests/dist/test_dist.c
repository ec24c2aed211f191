/*
 * tests/dist/test_dist.c — anygrad/dist.h across processes. Run under
 * mpirun with 2 and 3 ranks (tests/CMakeLists.txt); every rank runs every
 * test, in the same order, on each backend of AG_TEST_BACKENDS.
 *
 * The central check: N ranks with batch B each follow the same loss curve
 * and end with the same parameters as one process with batch N*B — bit for
 * bit in deterministic mode, within 1e-5 otherwise — and the parameters are
 * identical on all ranks after 20 steps.
 */
#include "harness.h"

#include <anygrad/dist_mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank_, size_;

START_TEST(test_group)
{
    ck_assert(ag_dist_available());
    ck_assert(ag_dist_is_initialized());
    ck_assert_int_eq(ag_dist_rank(), rank_);
    ck_assert_int_eq(ag_dist_world_size(), size_);
    ck_assert(ag_dist_barrier() == AG_OK);
    ck_assert(ag_dist_init(NULL, NULL, NULL) == AG_ERR_INVALID);
    ck_assert(strstr(ag_last_error(), "already initialised"));

    /* A group over a communicator of our own: even and odd ranks apart. */
    MPI_Comm half;
    ck_assert(MPI_Comm_split(MPI_COMM_WORLD, rank_ % 2, rank_, &half) == MPI_SUCCESS);
    ck_assert(ag_dist_finalize() == AG_OK);
    ck_assert(!ag_dist_is_initialized());
    ck_assert_int_eq(ag_dist_rank(), 0);
    ck_assert_int_eq(ag_dist_world_size(), 1);
    ck_assert(ag_dist_init_comm(NULL, NULL) == AG_ERR_INVALID);
    ck_assert(ag_dist_init_mpi(MPI_COMM_NULL, NULL) == AG_ERR_INVALID);
    ck_assert(ag_dist_init_mpi(half, NULL) == AG_OK);
    ck_assert_int_eq(ag_dist_rank(), rank_ / 2);
    ck_assert_int_eq(ag_dist_world_size(), (size_ - rank_ % 2 + 1) / 2);
    ck_assert(ag_dist_finalize() == AG_OK);
    MPI_Comm_free(&half);
    ck_assert(ag_dist_init_mpi(MPI_COMM_WORLD, NULL) == AG_OK);
    ck_assert_int_eq(ag_dist_rank(), rank_);
}
END_TEST

START_TEST(test_allreduce)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    /* Rank r holds r + 1 + i / 4 (a [2, 3] tensor); the sum over ranks is
     * size * (size + 1) / 2 + size * i / 4, exact in f32. */
    float v[6], sum[6], mean[6];
    for (int i = 0; i < 6; i++) {
        v[i] = (float)(rank_ + 1) + (float)i / 4;
        sum[i] = (float)(size_ * (size_ + 1) / 2) + (float)size_ * (float)i / 4;
        mean[i] = sum[i] / (float)size_;
    }
    for (int det = 0; det < 2; det++) {
        ag_set_deterministic(det);
        ag_tensor *a = agt_tensor(dev, AG_SHAPE(2, 3), v);
        ck_assert(ag_dist_allreduce(a, AG_DIST_SUM) == AG_OK);
        agt_assert_close(a, sum, 6, 0, 0, "sum");
        ag_tensor *b = agt_tensor(dev, AG_SHAPE(2, 3), v);
        ck_assert(ag_dist_allreduce(b, AG_DIST_MEAN) == AG_OK);
        agt_assert_close(b, mean, 6, 0, 0, "mean");
        /* A strided view: only its elements change. */
        ag_tensor *c = agt_tensor(dev, AG_SHAPE(2, 3), v);
        ck_assert(ag_dist_allreduce(ag_transpose(c, 0, 1), AG_DIST_SUM) == AG_OK);
        agt_assert_close(c, sum, 6, 0, 0, "transposed view");
        ag_tensor *col = agt_tensor(dev, AG_SHAPE(2, 3), v);
        ck_assert(ag_dist_allreduce(ag_select(col, 1, 2), AG_DIST_SUM) == AG_OK);
        float want[6];
        memcpy(want, v, sizeof want);
        want[2] = sum[2];
        want[5] = sum[5];
        agt_assert_close(col, want, 6, 0, 0, "column view");
    }
    /* Deterministic mode sums in rank order, ((r0 + r1) + r2) + ...: values
     * chosen so that every other order of three ranks rounds differently in
     * some element (1 + 1e8 - 1e8 is 0 left to right, 1 otherwise). */
    static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const float base[3] = {1.0f, 1e8f, -1e8f};
    float mine[6], ordered[6];
    for (int e = 0; e < 6; e++) {
        for (int r = 0; r < size_; r++) {
            float x = r < 3 ? base[perms[e][r]] : 0.25f * (float)r;
            ordered[e] = r ? ordered[e] + x : x;
            if (r == rank_) mine[e] = x;
        }
    }
    ag_set_deterministic(true);
    ag_tensor *o = agt_tensor(dev, AG_SHAPE(6), mine);
    ck_assert(ag_dist_allreduce(o, AG_DIST_SUM) == AG_OK);
    agt_assert_close(o, ordered, 6, 0, 0, "deterministic sum in rank order");
    ag_set_deterministic(false);
    int32_t iv[3] = {rank_, 10 * rank_, -1};
    ag_tensor *it = agt_tensor_i32(dev, AG_SHAPE(3), iv);
    ck_assert(ag_dist_allreduce(it, AG_DIST_SUM) == AG_OK);
    int tri = size_ * (size_ - 1) / 2;
    agt_assert_close(it, (float[]){(float)tri, 10.0f * (float)tri, (float)-size_}, 3, 0, 0, "i32 sum");
    /* Bad input: the same on every rank, so no collective starts anywhere. */
    ck_assert(ag_dist_allreduce(it, AG_DIST_MEAN) == AG_ERR_INVALID);
    ck_assert_msg(strstr(ag_last_error(), "ag_dist_allreduce") && strstr(ag_last_error(), "i32 [3]"),
                  "%s", ag_last_error());
    ag_tensor *u = ag_cast(it, AG_U8);
    ck_assert(ag_dist_allreduce(u, AG_DIST_SUM) == AG_ERR_INVALID);
    ck_assert_msg(strstr(ag_last_error(), "u8 [3]"), "%s", ag_last_error());
    ck_assert(ag_dist_allreduce(it, (ag_dist_reduce_op)7) == AG_ERR_INVALID);
    ck_assert(strstr(ag_last_error(), "unknown reduction 7"));
    ck_assert(ag_dist_allreduce(NULL, AG_DIST_SUM) == AG_ERR_INVALID);
    ck_assert(ag_dist_broadcast(it, size_) == AG_ERR_INVALID);
    ck_assert_msg(strstr(ag_last_error(), "root"), "%s", ag_last_error());
    /* Broadcast from the last rank. */
    ag_tensor *bc = agt_tensor(dev, AG_SHAPE(2, 3), v);
    ck_assert(ag_dist_broadcast(bc, size_ - 1) == AG_OK);
    float last[6];
    for (int i = 0; i < 6; i++) last[i] = (float)size_ + (float)i / 4;
    agt_assert_close(bc, last, 6, 0, 0, "broadcast");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Data-parallel training against one process ----------------------------- */

enum { B = 3, STEPS = 20, CLASSES = 3 };

/* x [n, 1, 4, 4] → Conv(1→2, 3, pad 1) ReLU → Flatten → Linear(32→3). */
static ag_module *tiny_cnn(ag_device *dev)
{
    ag_conv2d_opts same = {.padding = {1, 1}};
    return ag_nn_sequential(4, (ag_module *[]){ag_nn_conv2d(dev, 1, 2, 3, 3, &same, true),
                                               ag_nn_relu(), ag_nn_flatten(1, -1),
                                               ag_nn_linear(dev, 32, CLASSES, true)});
}

/* The global batch of step s: x [n, 1, 4, 4], y [n]. */
static void global_batch(ag_device *dev, int s, int64_t n, ag_tensor **x, ag_tensor **y)
{
    *x = agt_randn(dev, AG_SHAPE(n, 1, 4, 4), 1000 + (uint64_t)s, 1.0);
    int32_t labels[64];
    for (int64_t j = 0; j < n; j++) labels[j] = (int32_t)((s * 7 + j * 5) % CLASSES);
    *y = agt_tensor_i32(dev, AG_SHAPE(n), labels);
}

static ag_tensor *rows(ag_tensor *t, int64_t start, int64_t len)
{
    return ag_contiguous(ag_narrow(t, 0, start, len));
}

static float loss_of(ag_module *m, ag_tensor *x, ag_tensor *y, ag_tensor **loss)
{
    *loss = ag_cross_entropy(ag_module_forward(m, x), y, NULL);
    ck_assert_msg(*loss != NULL, "%s", ag_last_error());
    float l;
    ck_assert(ag_tensor_read(*loss, &l, sizeof l) == AG_OK);
    return l;
}

/* One process, batch N*B: in deterministic mode the way the ranks compute
 * it (N micro-batches of B, gradients summed in rank order on the host and
 * divided by N, losses likewise); otherwise one pass over the whole batch. */
static float reference_step(ag_module *ref, ag_tensor **params, int np, ag_tensor *x, ag_tensor *y,
                            bool det)
{
    if (!det) {
        for (int p = 0; p < np; p++) ag_zero_grad(params[p]);
        ag_tensor *loss;
        float l = loss_of(ref, x, y, &loss);
        ck_assert(ag_backward(loss, NULL) == AG_OK);
        return l;
    }
    float *acc[16] = {0};
    float lsum = 0;
    for (int k = 0; k < size_; k++) {
        for (int p = 0; p < np; p++) ag_zero_grad(params[p]);
        ag_tensor *loss;
        float l = loss_of(ref, rows(x, k * B, B), rows(y, k * B, B), &loss);
        lsum = k ? lsum + l : l;
        ck_assert(ag_backward(loss, NULL) == AG_OK);
        for (int p = 0; p < np; p++) {
            float *g = agt_read_f32(ag_grad(params[p]));
            int64_t n = ag_numel(params[p]);
            if (!k) acc[p] = g;
            else {
                for (int64_t i = 0; i < n; i++) acc[p][i] += g[i];
                free(g);
            }
        }
    }
    for (int p = 0; p < np; p++) {
        int64_t n = ag_numel(params[p]);
        for (int64_t i = 0; i < n; i++) acc[p][i] /= (float)size_;
        ck_assert(ag_tensor_write(ag_grad(params[p]), acc[p], (size_t)n * sizeof(float)) == AG_OK);
        free(acc[p]);
    }
    return lsum / (float)size_;
}

/* Asserts every rank holds the same bits in t: rank 0's copy is broadcast. */
static void assert_same_on_all_ranks(ag_tensor *t, const char *what)
{
    ag_tensor *c = ag_clone(t);
    ck_assert(ag_dist_broadcast(c, 0) == AG_OK);
    float *a = agt_read_f32(t), *b = agt_read_f32(c);
    ck_assert_msg(memcmp(a, b, (size_t)ag_numel(t) * sizeof *a) == 0,
                  "rank %d: %s differs from rank 0's", rank_, what);
    free(a);
    free(b);
}

static void train_against_reference(int backend, bool det, const ag_ddp_opts *dopts)
{
    ag_device *dev = agt_open(backend);
    ag_set_deterministic(det);
    ag_scope_begin();
    /* Different initialisations: the wrapper starts every rank from rank 0's. */
    ag_manual_seed(77 + (uint64_t)rank_);
    ag_module *model = tiny_cnn(dev);
    ag_manual_seed(77);
    ag_module *ref = tiny_cnn(dev);
    ck_assert(model && ref);
    ag_ddp *ddp = ag_ddp_new(model, dopts);
    ck_assert_msg(ddp != NULL, "%s", ag_last_error());
    ag_tensor *pm[16], *pr[16];
    int np = ag_module_parameters(model, NULL, pm, 16);
    ck_assert_int_eq(ag_module_parameters(ref, NULL, pr, 16), np);
    ag_sgd_opts so = {.lr = 0.2, .momentum = 0.9};
    ag_optimizer *om = ag_optim_sgd(pm, np, &so), *orf = ag_optim_sgd(pr, np, &so);
    const int64_t n = (int64_t)size_ * B;
    double worst = 0;
    for (int s = 0; s < STEPS; s++) {
        ag_scope_begin();
        ag_tensor *x, *y;
        global_batch(dev, s, n, &x, &y);
        /* This rank's shard of the global batch. */
        ag_optimizer_zero_grad(om);
        ag_tensor *loss;
        loss_of(model, rows(x, rank_ * B, B), rows(y, rank_ * B, B), &loss);
        ck_assert_msg(ag_ddp_backward(ddp, loss) == AG_OK, "%s", ag_last_error());
        ck_assert(ag_optimizer_step(om) == AG_OK);
        ag_tensor *l = ag_clone(ag_detach(loss));
        ck_assert(ag_dist_allreduce(l, AG_DIST_MEAN) == AG_OK);
        float dist_loss;
        ck_assert(ag_tensor_read(l, &dist_loss, sizeof dist_loss) == AG_OK);
        float ref_loss = reference_step(ref, pr, np, x, y, det);
        ck_assert(ag_optimizer_step(orf) == AG_OK);
        if (det)
            ck_assert_msg(memcmp(&dist_loss, &ref_loss, sizeof ref_loss) == 0,
                          "step %d: loss %.9g, one process %.9g (deterministic: bit for bit)", s,
                          dist_loss, ref_loss);
        else
            ck_assert_msg(fabsf(dist_loss - ref_loss) <= 1e-5f, "step %d: loss %.9g, one process %.9g",
                          s, dist_loss, ref_loss);
        worst = fmax(worst, fabs((double)dist_loss - (double)ref_loss));
        ag_scope_end();
    }
    ag_ddp_stats st;
    ck_assert(ag_ddp_get_stats(ddp, &st) == AG_OK);
    if (dopts && dopts->bucket_mb > 0 && dopts->bucket_mb < 1e-3) ck_assert_int_gt(st.buckets, 1);
    if (dopts && dopts->no_overlap) ck_assert_int_eq(st.started_in_backward, 0);
    else ck_assert_int_gt(st.started_in_backward, 0);
    for (int p = 0; p < np; p++) {
        assert_same_on_all_ranks(pm[p], "a parameter after 20 steps");
        if (det) agt_assert_tensors_close(pm[p], pr[p], 0, 0, "parameter vs one process");
        else agt_assert_tensors_close(pm[p], pr[p], 1e-5, 0, "parameter vs one process");
    }
    ag_scope_end();
    ag_optimizer_free(om);
    ag_optimizer_free(orf);
    ag_ddp_free(ddp);
    ag_module_free(model);
    ag_module_free(ref);
    ag_set_deterministic(false);
    agt_close(dev);
    (void)worst;
}

/* Small buckets (about 64 B: one or two tensors each), so several buckets
 * start during the backward pass. */
START_TEST(test_ddp_deterministic_bitwise)
{
    train_against_reference(_i, true, &(ag_ddp_opts){.bucket_mb = 64.0 / (1 << 20)});
}
END_TEST

START_TEST(test_ddp_close_to_one_process)
{
    train_against_reference(_i, false, &(ag_ddp_opts){.bucket_mb = 64.0 / (1 << 20)});
}
END_TEST

/* One default (25 MiB) bucket, and the no-overlap path. */
START_TEST(test_ddp_one_bucket_and_no_overlap)
{
    train_against_reference(_i, true, NULL);
    train_against_reference(_i, true, &(ag_ddp_opts){.no_overlap = true, .bucket_mb = 1e-4});
}
END_TEST

START_TEST(test_ddp_errors)
{
    ag_device *dev = agt_open(_i);
    ag_module *relu = ag_nn_relu();
    ck_assert(ag_ddp_new(relu, NULL) == NULL);
    ck_assert_msg(strstr(ag_last_error(), "no parameter"), "%s", ag_last_error());
    ag_module_free(relu);
    ck_assert(ag_ddp_new(NULL, NULL) == NULL);
    ag_module *lin = ag_nn_linear(dev, 2, 2, true);
    ck_assert(ag_ddp_new(lin, &(ag_ddp_opts){.bucket_mb = -1}) == NULL);
    ck_assert_msg(strstr(ag_last_error(), "bucket_mb -1"), "%s", ag_last_error());
    ck_assert(ag_ddp_backward(NULL, NULL) == AG_ERR_INVALID);
    ck_assert(ag_ddp_sync_grads(NULL) == AG_ERR_INVALID);
    ck_assert(ag_ddp_get_stats(NULL, NULL) == AG_ERR_INVALID);
    ag_ddp_free(NULL);
    /* Ranks whose models differ are told so, on every rank, without a hang. */
    ag_module *odd = rank_ == 0 ? ag_nn_linear(dev, 2, 3, true) : ag_nn_linear(dev, 2, 2, true);
    ag_ddp *d = ag_ddp_new(size_ > 1 ? odd : lin, NULL);
    if (size_ > 1) {
        ck_assert(d == NULL);
        ck_assert_msg(strstr(ag_last_error(), "models differ"), "%s", ag_last_error());
    }
    ag_ddp_free(d);
    /* ag_ddp_sync_grads after plain backward passes (gradient accumulation). */
    d = ag_ddp_new(lin, NULL);
    ck_assert(d != NULL);
    ag_scope_begin();
    ag_tensor *w = ag_module_get(lin, "weight");
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(1, 2), (float[]){(float)rank_, 1});
    ag_module_zero_grad(lin);
    for (int k = 0; k < 2; k++) ck_assert(ag_backward(ag_sum(ag_module_forward(lin, x), 0, NULL, false), NULL) == AG_OK);
    ck_assert(ag_ddp_sync_grads(d) == AG_OK);
    /* d sum(W x + b) / dW = x per row, twice; mean over ranks of 2 * rank = size - 1. */
    float m = (float)(size_ - 1);
    agt_assert_close(ag_grad(w), (float[]){m, 2, m, 2}, 4, 1e-6, 0, "accumulated weight grad");
    ag_scope_end();
    /* Inside a graph capture every collective is refused on every rank alike. */
    ag_scope_begin();
    ag_tensor *xc = agt_tensor(dev, AG_SHAPE(1, 2), (float[]){1, 1});
    ag_tensor *cap = ag_ones(dev, AG_F32, AG_SHAPE(2));
    ck_assert(ag_graph_begin(dev, NULL) == AG_OK);
    ck_assert(ag_dist_allreduce(cap, AG_DIST_SUM) == AG_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(ag_last_error(), "ag_dist_allreduce: not inside a graph capture"), "%s",
                  ag_last_error());
    ck_assert(ag_ddp_sync_grads(d) == AG_ERR_UNSUPPORTED);
    ck_assert(ag_ddp_backward(d, ag_sum(ag_module_forward(lin, xc), 0, NULL, false)) ==
              AG_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(ag_last_error(), "ag_ddp_backward: not inside a graph capture"), "%s",
                  ag_last_error());
    ag_graph_free(ag_graph_end(dev));
    ag_scope_end();
    ck_assert(ag_dist_barrier() == AG_OK); /* the group still works */
    ag_ddp_free(d);
    ag_module_free(odd);
    ag_module_free(lin);
    agt_close(dev);
}
END_TEST

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    if (ag_dist_init_mpi(MPI_COMM_WORLD, NULL) != AG_OK) {
        fprintf(stderr, "ag_dist_init_mpi: %s\n", ag_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("dist");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_group);
    AGT_ADD_LOOP(tc, test_allreduce);
    AGT_ADD_LOOP(tc, test_ddp_deterministic_bitwise);
    AGT_ADD_LOOP(tc, test_ddp_close_to_one_process);
    AGT_ADD_LOOP(tc, test_ddp_one_bucket_and_no_overlap);
    AGT_ADD_LOOP(tc, test_ddp_errors);
    suite_add_tcase(s, tc);
    int rc = agt_run_suite(s);
    /* Every rank's verdict decides: one failure fails the job. */
    int all = rc;
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    ag_dist_finalize();
    MPI_Finalize();
    return all;
}
