/*
 * examples/mlp_synthetic.c — trains a small MLP with plain SGD on a synthetic
 * classification task (points on two interleaved spirals' worth of Gaussian
 * blobs) and prints the loss as it falls.
 *
 *   mlp_synthetic [--device SPEC] [--steps N] [--lr LR] [--seed S]
 */
#include <anygrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLASSES = 4, FEATURES = 8, SAMPLES = 512 };

/* Four Gaussian blobs in 8-D, one per class, from a fixed host generator. */
static void make_data(float *x, int32_t *y, unsigned seed)
{
    srand(seed);
    for (int i = 0; i < SAMPLES; i++) {
        int c = i % CLASSES;
        y[i] = c;
        for (int f = 0; f < FEATURES; f++) {
            double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = rand() / (RAND_MAX + 1.0);
            double noise = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            double center = (f % CLASSES == c) ? 2.0 : -0.5;
            x[i * FEATURES + f] = (float)(center + 0.7 * noise);
        }
    }
}

int main(int argc, char **argv)
{
    const char *spec = "auto";
    int steps = 200;
    double lr = 0.1;
    unsigned long long seed = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--device")) spec = argv[i + 1];
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lr")) lr = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--device SPEC] [--steps N] [--lr LR] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    ag_device *dev = ag_device_open(spec);
    if (!dev) {
        fprintf(stderr, "error: %s\n", ag_last_error());
        return 1;
    }
    printf("device: %s (%s)\n", ag_device_get_info(dev)->name, ag_device_get_info(dev)->spec);
    ag_manual_seed(seed);

    static float xs[SAMPLES * FEATURES];
    static int32_t ys[SAMPLES];
    make_data(xs, ys, (unsigned)seed + 1);
    ag_tensor *x = ag_from_data(dev, AG_F32, AG_SHAPE(SAMPLES, FEATURES), xs, sizeof xs);
    ag_tensor *y = ag_from_data(dev, AG_I32, AG_SHAPE(SAMPLES), ys, sizeof ys);

    ag_module *model = ag_nn_sequential(3, (ag_module *[]){
        ag_nn_linear(dev, FEATURES, 32, true), ag_nn_relu(), ag_nn_linear(dev, 32, CLASSES, true)});
    if (!x || !y || !model) {
        fprintf(stderr, "error: %s\n", ag_last_error());
        return 1;
    }
    ag_tensor *params[16];
    int n_params = ag_module_parameters(model, NULL, params, 16);

    double first = 0, last = 0;
    for (int step = 0; step < steps; step++) {
        ag_scope_begin();
        ag_tensor *loss = ag_cross_entropy(ag_module_forward(model, x), y, NULL);
        if (!loss || ag_backward(loss, NULL) != AG_OK) {
            fprintf(stderr, "error: %s\n", ag_last_error());
            return 1;
        }
        /* p -= lr * grad, outside the graph. */
        ag_no_grad_begin();
        for (int i = 0; i < n_params; i++) {
            ag_copy_(params[i], ag_sub(params[i], ag_mul_scalar(ag_grad(params[i]), lr)));
            ag_zero_grad(params[i]);
        }
        ag_no_grad_end();
        last = ag_item(loss);
        if (step == 0) first = last;
        if (step % 20 == 0 || step == steps - 1) printf("step %4d  loss %.4f\n", step, last);
        ag_scope_end();
    }
    printf("loss %.4f -> %.4f (%s)\n", first, last, last < first ? "falling" : "NOT falling");
    ag_module_free(model);
    ag_release(x);
    ag_release(y);
    ag_device_close(dev);
    return last < first ? 0 : 1;
}
