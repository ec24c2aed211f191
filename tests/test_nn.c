/* tests/test_nn.c — nn modules: PyTorch-compatible names, default
 * initialisation, and forward/backward against PyTorch golden values
 * (tests/golden/gen_nn.py) on every backend. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static agt_golden *golden;

/* Loads the golden parameters into m, runs forward and backward of
 * sum(y * r), and compares y, the input gradient, every parameter gradient
 * and the running statistics after the step. */
static void check_module(ag_device *dev, const char *name, ag_module *m, bool train, double tol)
{
    ck_assert_msg(m != NULL, "%s: constructor failed: %s", name, ag_last_error());
    ag_scope_begin();
    const char *names[64];
    ag_tensor *tensors[64];
    int n = ag_module_state(m, names, tensors, 64);
    for (int i = 0; i < n; i++) {
        char key[160];
        snprintf(key, sizeof key, "p.%s", names[i]);
        ck_assert_msg(agt_golden_has(golden, name, key),
                      "%s: PyTorch has no state entry named %s", name, names[i]);
        ck_assert_msg(ag_copy_(tensors[i], agt_golden_tensor(golden, dev, name, key)) == AG_OK,
                      "%s: loading %s: %s", name, names[i], ag_last_error());
    }
    ag_module_train(m, train);
    ag_tensor *x = agt_golden_tensor(golden, dev, name, "x");
    bool float_input = ag_tensor_dtype(x) == AG_F32;
    if (float_input) ag_set_requires_grad(x, true);
    ag_tensor *y = ag_module_forward(m, x);
    char what[320];
    snprintf(what, sizeof what, "%s forward", name);
    agt_assert_tensors_close(y, agt_golden_tensor(golden, dev, name, "y"), tol, tol, what);
    ag_tensor *loss = ag_sum(ag_mul(y, agt_golden_tensor(golden, dev, name, "r")), 0, NULL, false);
    ck_assert_msg(ag_backward(loss, NULL) == AG_OK, "%s backward: %s", name, ag_last_error());
    if (float_input) {
        snprintf(what, sizeof what, "%s grad x", name);
        agt_assert_tensors_close(ag_grad(x), agt_golden_tensor(golden, dev, name, "grad.x"), tol, tol,
                                 what);
    }
    const char *pnames[64];
    ag_tensor *params[64];
    int np = ag_module_parameters(m, pnames, params, 64);
    for (int i = 0; i < np; i++) {
        char key[160];
        snprintf(key, sizeof key, "grad.%s", pnames[i]);
        snprintf(what, sizeof what, "%s %s", name, key);
        agt_assert_tensors_close(ag_grad(params[i]), agt_golden_tensor(golden, dev, name, key), tol,
                                 tol, what);
    }
    for (int i = 0; i < n; i++) {
        char key[160];
        snprintf(key, sizeof key, "after.%s", names[i]);
        if (!agt_golden_has(golden, name, key)) continue;
        snprintf(what, sizeof what, "%s %s", name, key);
        agt_assert_tensors_close(tensors[i], agt_golden_tensor(golden, dev, name, key), tol, tol, what);
    }
    ag_module_zero_grad(m);
    ag_scope_end();
    ag_module_free(m);
}

START_TEST(test_layers_match_pytorch)
{
    ag_device *dev = agt_open(_i);
    golden = agt_golden_load("nn.txt");
    ag_pool2d_opts max2 = {.kernel = {2, 2}};
    ag_pool2d_opts avg3 = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1},
                           .exclude_pad = false};
    check_module(dev, "linear", ag_nn_linear(dev, 5, 3, true), true, 1e-4);
    check_module(dev, "linear_3d", ag_nn_linear(dev, 5, 3, true), true, 1e-4);
    check_module(dev, "conv2d",
                 ag_nn_conv2d(dev, 2, 3, 3, 3, &(ag_conv2d_opts){.stride = {2, 2}, .padding = {1, 1}}, true),
                 true, 1e-4);
    check_module(dev, "conv_transpose2d",
                 ag_nn_conv_transpose2d(dev, 2, 3, 3, 3,
                                        &(ag_conv2d_opts){.stride = {2, 2}, .padding = {1, 1},
                                                          .output_padding = {1, 1}},
                                        true),
                 true, 1e-4);
    check_module(dev, "batch_norm1d", ag_nn_batch_norm1d(dev, 4, 1e-5, 0.1), true, 1e-4);
    check_module(dev, "batch_norm2d", ag_nn_batch_norm2d(dev, 3, 1e-5, 0.1), true, 1e-4);
    check_module(dev, "batch_norm2d_eval", ag_nn_batch_norm2d(dev, 3, 1e-5, 0.1), false, 1e-4);
    check_module(dev, "layer_norm", ag_nn_layer_norm(dev, 6, 1e-5), true, 1e-4);
    check_module(dev, "rms_norm", ag_nn_rms_norm(dev, 6, 1e-5), true, 1e-4);
    check_module(dev, "embedding", ag_nn_embedding(dev, 10, 4), true, 1e-5);
    check_module(dev, "max_pool2d", ag_nn_max_pool2d(&max2), true, 1e-6);
    check_module(dev, "avg_pool2d", ag_nn_avg_pool2d(&avg3), true, 1e-5);
    check_module(dev, "adaptive_avg_pool2d", ag_nn_adaptive_avg_pool2d(2, 3), true, 1e-5);
    check_module(dev, "flatten", ag_nn_flatten(1, -1), true, 0);
    check_module(dev, "relu", ag_nn_relu(), true, 1e-6);
    check_module(dev, "leaky_relu", ag_nn_leaky_relu(0.1), true, 1e-6);
    check_module(dev, "gelu", ag_nn_gelu(false), true, 1e-5);
    check_module(dev, "gelu_tanh", ag_nn_gelu(true), true, 1e-5);
    check_module(dev, "silu", ag_nn_silu(), true, 1e-5);
    check_module(dev, "sigmoid", ag_nn_sigmoid(), true, 1e-5);
    check_module(dev, "tanh", ag_nn_tanh(), true, 1e-5);
    check_module(dev, "softplus", ag_nn_softplus(2.0, 5.0), true, 1e-5);
    check_module(dev, "sequential",
                 ag_nn_sequential(3, (ag_module *[]){ag_nn_linear(dev, 4, 8, true), ag_nn_relu(),
                                                     ag_nn_linear(dev, 8, 3, true)}),
                 true, 1e-4);
    check_module(dev, "multihead_attention", ag_nn_multihead_attention(dev, 8, 2, 0.0), true, 1e-4);
    check_module(dev, "transformer_encoder_layer",
                 ag_nn_transformer_encoder_layer(dev, 8, 2, 16, 0.0), true, 2e-4);
    agt_golden_free(golden);
    agt_close(dev);
}
END_TEST

START_TEST(test_names_and_counts)
{
    ag_device *dev = agt_open(_i);
    ag_module *m = ag_nn_sequential(3, (ag_module *[]){ag_nn_linear(dev, 4, 8, true),
                                                       ag_nn_batch_norm1d(dev, 8, 1e-5, 0.1),
                                                       ag_nn_linear(dev, 8, 3, false)});
    ck_assert_ptr_nonnull(m);
    const char *names[16];
    int np = ag_module_parameters(m, names, NULL, 16);
    const char *want[] = {"0.weight", "0.bias", "1.weight", "1.bias", "2.weight"};
    ck_assert_int_eq(np, 5);
    for (int i = 0; i < np; i++) ck_assert_str_eq(names[i], want[i]);
    int ns = ag_module_state(m, names, NULL, 16);
    ck_assert_int_eq(ns, 8); /* + running_mean, running_var, num_batches_tracked */
    ck_assert_str_eq(names[4], "1.running_mean");
    ck_assert_int_eq(ag_module_num_parameters(m), 4 * 8 + 8 + 8 + 8 + 8 * 3);
    ck_assert_ptr_nonnull(ag_module_get(m, "2.weight"));
    ck_assert_ptr_null(ag_module_get(m, "2.bias"));
    ck_assert_str_eq(ag_module_type(m), "Sequential");
    ag_module_free(m);

    ag_module *enc = ag_nn_transformer_encoder_layer(dev, 8, 2, 16, 0.1);
    ck_assert_ptr_nonnull(ag_module_get(enc, "self_attn.in_proj_weight"));
    ck_assert_ptr_nonnull(ag_module_get(enc, "self_attn.out_proj.bias"));
    ck_assert_ptr_nonnull(ag_module_get(enc, "linear2.weight"));
    ck_assert_ptr_nonnull(ag_module_get(enc, "norm1.bias"));
    ag_module_free(enc);
    agt_close(dev);
}
END_TEST

/* kaiming_uniform(a=sqrt 5) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)): every
 * weight inside the bound and the variance near bound^2 / 3. */
START_TEST(test_default_init)
{
    ag_device *dev = agt_open(_i);
    ag_manual_seed(7);
    ag_module *lin = ag_nn_linear(dev, 100, 80, true);
    float *w = agt_read_f32(ag_module_get(lin, "weight"));
    double bound = 0.1, sum = 0, sq = 0, maxabs = 0;
    for (int i = 0; i < 8000; i++) {
        sum += w[i];
        sq += (double)w[i] * w[i];
        maxabs = fabs(w[i]) > maxabs ? fabs(w[i]) : maxabs;
    }
    double mean = sum / 8000, var = sq / 8000 - mean * mean;
    ck_assert_msg(maxabs <= bound, "weight %g outside +-%g", maxabs, bound);
    ck_assert_msg(fabs(mean) < 0.005 && fabs(var - bound * bound / 3) < 0.0004,
                  "mean %g var %g, want 0 and %g", mean, var, bound * bound / 3);
    free(w);
    ag_module_free(lin);
    ag_module *bn = ag_nn_batch_norm2d(dev, 3, 1e-5, 0.1);
    agt_assert_close(ag_module_get(bn, "weight"), (float[]){1, 1, 1}, 3, 0, 0, "bn weight");
    agt_assert_close(ag_module_get(bn, "running_var"), (float[]){1, 1, 1}, 3, 0, 0, "bn running_var");
    ag_module_free(bn);
    agt_close(dev);
}
END_TEST

START_TEST(test_train_eval_and_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_module *drop = ag_nn_dropout(0.5);
    ag_tensor *x = ag_ones(dev, AG_F32, AG_SHAPE(4, 64));
    ag_tensor *train_out = ag_module_forward(drop, x);
    float *t = agt_read_f32(train_out);
    int zeros = 0;
    for (int i = 0; i < 256; i++) {
        ck_assert(t[i] == 0.0f || t[i] == 2.0f);
        zeros += t[i] == 0.0f;
    }
    ck_assert_msg(zeros > 64 && zeros < 192, "%d of 256 dropped at p=0.5", zeros);
    free(t);
    ag_module_train(drop, false);
    ck_assert(!ag_module_is_training(drop));
    agt_assert_tensors_close(ag_module_forward(drop, x), x, 0, 0, "dropout eval is identity");
    ag_module_free(drop);

    ag_module *lin = ag_nn_linear(dev, 4, 2, true);
    agt_assert_error(ag_module_forward(lin, ag_ones(dev, AG_F32, AG_SHAPE(3, 5))), "ag_linear", "[3,5]",
                     "linear with wrong in_features");
    agt_assert_error(ag_module_forward(lin, NULL), NULL, NULL, "forward of NULL");
    ag_module_free(lin);
    agt_assert_error(ag_nn_linear(dev, 0, 3, true), "ag_nn_linear", NULL, "zero features");
    agt_assert_error(ag_nn_conv2d(dev, 3, 4, 3, 3, &(ag_conv2d_opts){.groups = 2}, true),
                     "ag_nn_conv2d", "groups", "channels not divisible by groups");
    agt_assert_error(ag_nn_multihead_attention(dev, 10, 3, 0.0), "ag_nn_multihead_attention", NULL,
                     "embed_dim not divisible by heads");
    ag_module *bn = ag_nn_batch_norm2d(dev, 3, 1e-5, 0.1);
    agt_assert_error(ag_module_forward(bn, ag_ones(dev, AG_F32, AG_SHAPE(2, 3))), "BatchNorm2d",
                     "[2,3]", "batch_norm2d on 2-D input");
    ag_module_free(bn);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* The state dict round trip through safetensors restores identical outputs. */
START_TEST(test_state_dict_round_trip)
{
    ag_device *dev = agt_open(_i);
    char path[] = "/tmp/ag_nn_state_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ag_manual_seed(1);
    ag_module *a = ag_nn_sequential(2, (ag_module *[]){ag_nn_linear(dev, 3, 4, true),
                                                       ag_nn_batch_norm1d(dev, 4, 1e-5, 0.1)});
    ag_manual_seed(2);
    ag_module *b = ag_nn_sequential(2, (ag_module *[]){ag_nn_linear(dev, 3, 4, true),
                                                       ag_nn_batch_norm1d(dev, 4, 1e-5, 0.1)});
    ag_state_dict *sd = ag_module_state_dict(a);
    ck_assert_int_eq(ag_safetensors_save(path, sd), AG_OK);
    ag_state_dict_free(sd);
    ag_state_dict *loaded = ag_safetensors_load(path, dev);
    ck_assert_msg(loaded != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_module_load_state_dict(b, loaded, true), AG_OK);
    ag_state_dict_free(loaded);
    ag_scope_begin();
    ag_module_train(a, false);
    ag_module_train(b, false);
    ag_tensor *x = agt_randn(dev, AG_SHAPE(5, 3), 3, 1.0);
    agt_assert_tensors_close(ag_module_forward(b, x), ag_module_forward(a, x), 0, 0, "reloaded model");
    /* A mismatched model is rejected with the offending name and shapes. */
    ag_module *c = ag_nn_sequential(1, (ag_module *[]){ag_nn_linear(dev, 3, 5, true)});
    ag_state_dict *sd2 = ag_module_state_dict(a);
    ck_assert_int_ne(ag_module_load_state_dict(c, sd2, true), AG_OK);
    ck_assert_msg(strstr(ag_last_error(), "0.weight") != NULL, "error: %s", ag_last_error());
    ag_state_dict_free(sd2);
    ag_module_free(c);
    ag_scope_end();
    ag_module_free(a);
    ag_module_free(b);
    unlink(path);
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("modules");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_layers_match_pytorch);
    AGT_ADD_LOOP(tc, test_names_and_counts);
    AGT_ADD_LOOP(tc, test_default_init);
    AGT_ADD_LOOP(tc, test_train_eval_and_errors);
    AGT_ADD_LOOP(tc, test_state_dict_round_trip);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
