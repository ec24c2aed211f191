/* examples/fmnist_models.h — the Fashion-MNIST demo models, shared by the demo
 * (examples/fashion_mnist.c) and the benchmark (bench/cases_train.c). The same
 * architectures are written in PyTorch in bench/torch_reference.py.
 *
 * MLP: x [B, 1, 28, 28] → Flatten → 784-512-256-10 with ReLU
 * CNN: Conv(1→32, 3, pad 1) ReLU MaxPool(2) → Conv(32→64, 3, pad 1) ReLU MaxPool(2)
 *      → Flatten → Linear(3136→128) ReLU Dropout(0.25) → Linear(128→10)
 */
#ifndef AG_FMNIST_MODELS_H
#define AG_FMNIST_MODELS_H

#include <anygrad.h>

static inline ag_module *fmnist_mlp(ag_device *dev)
{
    return ag_nn_sequential(6, (ag_module *[]){
        ag_nn_flatten(1, -1),
        ag_nn_linear(dev, 784, 512, true), ag_nn_relu(),
        ag_nn_linear(dev, 512, 256, true), ag_nn_relu(),
        ag_nn_linear(dev, 256, 10, true)});
}

static inline ag_module *fmnist_cnn(ag_device *dev)
{
    ag_conv2d_opts same = {.padding = {1, 1}};
    ag_pool2d_opts pool = {.kernel = {2, 2}};
    return ag_nn_sequential(11, (ag_module *[]){
        ag_nn_conv2d(dev, 1, 32, 3, 3, &same, true), ag_nn_relu(), ag_nn_max_pool2d(&pool),
        ag_nn_conv2d(dev, 32, 64, 3, 3, &same, true), ag_nn_relu(), ag_nn_max_pool2d(&pool),
        ag_nn_flatten(1, -1),
        ag_nn_linear(dev, 64 * 7 * 7, 128, true), ag_nn_relu(), ag_nn_dropout(0.25),
        ag_nn_linear(dev, 128, 10, true)});
}

#endif /* AG_FMNIST_MODELS_H */
