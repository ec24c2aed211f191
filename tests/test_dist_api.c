/* tests/test_dist_api.c — anygrad/dist.h in a process without mpirun and
 * without an initialised group: single-process answers and clear errors.
 * In a build without MPI (AG_MPI=OFF) every call must say so. The
 * multi-process behaviour is tests/dist/test_dist.c's. */
#include "harness.h"

#include <string.h>

static void assert_err(ag_status st, ag_status want, const char *op, const char *needle)
{
    ck_assert_msg(st == want, "%s: status %d, want %d (%s)", op, st, want, ag_last_error());
    ck_assert_msg(strstr(ag_last_error(), op) && strstr(ag_last_error(), needle), "%s: \"%s\"", op,
                  ag_last_error());
}

START_TEST(test_single_process)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *t = agt_tensor(dev, AG_SHAPE(2), (float[]){1, 2});
    ag_module *lin = ag_nn_linear(dev, 2, 2, true);
    ck_assert(!ag_dist_is_initialized());
    ck_assert_int_eq(ag_dist_rank(), 0);
    ck_assert_int_eq(ag_dist_world_size(), 1);
    ck_assert(ag_dist_finalize() == AG_OK); /* nothing to finalise */
    /* Without MPI every call names the missing build option; with it, a
     * collective before ag_dist_init names the missing call. */
    bool mpi = ag_dist_available();
    ag_status want = mpi ? AG_ERR_INVALID : AG_ERR_UNSUPPORTED;
    const char *why = mpi ? "not initialised" : "built without MPI";
    assert_err(ag_dist_allreduce(t, AG_DIST_SUM), want, "ag_dist_allreduce", why);
    assert_err(ag_dist_broadcast(t, 0), want, "ag_dist_broadcast", why);
    assert_err(ag_dist_broadcast_module(lin), want, "ag_dist_broadcast_module", why);
    assert_err(ag_dist_barrier(), want, "ag_dist_barrier", why);
    ck_assert(ag_ddp_new(lin, NULL) == NULL);
    ck_assert_msg(strstr(ag_last_error(), "ag_ddp_new") && strstr(ag_last_error(), why), "%s",
                  ag_last_error());
    if (mpi) {
        /* Argument errors come before the group is looked at. */
        ag_clear_error();
        assert_err(ag_dist_allreduce(NULL, AG_DIST_SUM), AG_ERR_INVALID, "ag_dist_allreduce", "t is NULL");
        assert_err(ag_dist_init_comm(NULL, NULL), AG_ERR_INVALID, "ag_dist_init_comm", "NULL");
        int fake_comm[16] = {0};
        assert_err(ag_dist_init_comm(fake_comm, NULL), AG_ERR_INVALID, "ag_dist_init_comm",
                   "MPI is not initialised");
    } else {
        assert_err(ag_dist_init(NULL, NULL, NULL), AG_ERR_UNSUPPORTED, "ag_dist_init", why);
        assert_err(ag_dist_init_comm(NULL, NULL), AG_ERR_UNSUPPORTED, "ag_dist_init_comm", why);
        assert_err(ag_ddp_backward(NULL, NULL), AG_ERR_UNSUPPORTED, "ag_ddp_backward", why);
    }
    ag_module_free(lin);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* The sharding options are plain loader options: they work in any build. */
START_TEST(test_sharded_loader_without_mpi)
{
    ag_device *dev = agt_open(_i);
    float xs[5] = {0, 1, 2, 3, 4};
    int32_t ys[5] = {0, 1, 2, 3, 4};
    ag_dataset *ds = ag_dataset_from_host(AG_F32, xs, 5, 1, (int64_t[]){1}, ys, NULL, false);
    ag_loader *ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 2, .num_replicas = 2,
                                                             .rank = 1, .synchronous = true});
    ck_assert_msg(ld != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_loader_length(ld), 3);
    int64_t order[3];
    ck_assert(ag_loader_epoch_order(ld, 0, order) == AG_OK);
    /* No shuffle: items 1, 3 and, padded from the start, 0. */
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 3);
    ck_assert_int_eq(order[2], 0);
    ag_loader_free(ld);
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dist_api");
    TCase *tc = tcase_create("dist_api");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_single_process);
    AGT_ADD_LOOP(tc, test_sharded_loader_without_mpi);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
