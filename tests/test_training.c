/* tests/test_training.c — short end-to-end training runs on every backend:
 * the loss falls, and the same seed gives the same loss curve (bit for bit)
 * on the same device. Uses the whole stack: modules, dropout, batch norm,
 * conv, pooling, cross entropy, Adam, the data loader. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { STEPS = 12, N = 64, CLASSES = 3 };

/* A small labelled image set: class c has a bright c-th third of the image. */
static ag_dataset *make_dataset(void)
{
    static float x[N * 1 * 6 * 6];
    static int32_t y[N];
    uint64_t s = 99;
    for (int i = 0; i < N; i++) {
        y[i] = i % CLASSES;
        for (int p = 0; p < 36; p++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            float noise = (float)((s >> 40) & 0xFFFF) / 65536.0f - 0.5f;
            x[i * 36 + p] = noise + ((p % 6) / 2 == y[i] ? 1.5f : 0.0f);
        }
    }
    return ag_dataset_from_host(AG_F32, x, N, 3, (int64_t[]){1, 6, 6}, y, NULL, true);
}

static ag_module *make_model(ag_device *dev)
{
    ag_pool2d_opts pool = {.kernel = {2, 2}};
    return ag_nn_sequential(8, (ag_module *[]){
        ag_nn_conv2d(dev, 1, 4, 3, 3, &(ag_conv2d_opts){.padding = {1, 1}}, true),
        ag_nn_batch_norm2d(dev, 4, 1e-5, 0.1), ag_nn_relu(), ag_nn_max_pool2d(&pool),
        ag_nn_flatten(1, -1), ag_nn_dropout(0.1), ag_nn_linear(dev, 4 * 3 * 3, 16, true),
        ag_nn_linear(dev, 16, CLASSES, true)});
}

/* Trains STEPS steps from seed `seed`, writing the loss of each step. */
static void train(ag_device *dev, uint64_t seed, double *losses)
{
    ag_manual_seed(seed);
    ag_dataset *ds = make_dataset();
    ag_module *model = make_model(dev);
    ck_assert_msg(ds && model, "%s", ag_last_error());
    ag_tensor *params[32];
    int n = ag_module_parameters(model, NULL, params, 32);
    ag_optimizer *opt = ag_optim_adam(params, n, &(ag_adam_opts){.lr = 0.02});
    ag_loader *ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 16, .shuffle = true,
                                                             .seed = seed, .drop_last = true});
    ck_assert_msg(opt && ld, "%s", ag_last_error());
    int step = 0;
    for (int64_t epoch = 0; step < STEPS; epoch++) {
        ck_assert_int_eq(ag_loader_reset(ld, epoch), AG_OK);
        ag_tensor *x, *y;
        for (;;) {
            ag_scope_begin();
            int rc = ag_loader_next(ld, &x, &y);
            ck_assert_msg(rc >= 0, "loader: %s", ag_last_error());
            if (rc == 0 || step == STEPS) {
                ag_scope_end();
                break;
            }
            ag_optimizer_zero_grad(opt);
            ag_tensor *loss = ag_cross_entropy(ag_module_forward(model, x), y, NULL);
            ck_assert_msg(loss && ag_backward(loss, NULL) == AG_OK, "step %d: %s", step, ag_last_error());
            ck_assert_int_eq(ag_optimizer_step(opt), AG_OK);
            losses[step++] = ag_item(loss);
            ag_scope_end();
        }
    }
    ag_loader_free(ld);
    ag_optimizer_free(opt);
    ag_module_free(model);
    ag_dataset_free(ds);
}

START_TEST(test_loss_falls_and_repeats)
{
    ag_device *dev = agt_open(_i);
    double a[STEPS], b[STEPS], c[STEPS];
    train(dev, 5, a);
    train(dev, 5, b);
    train(dev, 6, c);
    double first = (a[0] + a[1] + a[2]) / 3, last = (a[STEPS - 3] + a[STEPS - 2] + a[STEPS - 1]) / 3;
    ck_assert_msg(isfinite(last) && last < 0.6 * first, "loss did not fall: %.4f -> %.4f", first, last);
    for (int i = 0; i < STEPS; i++)
        ck_assert_msg(a[i] == b[i], "step %d: same seed gave %.9g and %.9g", i, a[i], b[i]);
    bool differs = false;
    for (int i = 0; i < STEPS; i++) differs |= a[i] != c[i];
    ck_assert_msg(differs, "a different seed gave the same loss curve");
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("training");
    TCase *tc = tcase_create("training");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_loss_falls_and_repeats);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
