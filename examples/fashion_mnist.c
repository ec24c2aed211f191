/*
 * examples/fashion_mnist.c — trains an MLP or a CNN on Fashion-MNIST on any
 * device, shows a progress bar (loss, accuracy, images/s), evaluates on the
 * test set, saves the model as safetensors (loadable by PyTorch) and writes a
 * checkpoint after every epoch so a run can be resumed.
 *
 *   fashion_mnist [--device auto|cpu|vulkan[:N]|opencl[:P.D]] [--model mlp|cnn]
 *                 [--epochs N] [--batch-size N] [--eval-batch-size N] [--lr LR]
 *                 [--schedule cosine|constant] [--no-normalize] [--seed S]
 *                 [--data DIR] [--save FILE] [--checkpoint FILE] [--resume FILE]
 *                 [--limit N] [--distributed] [--graph] [--help]
 *
 * Data-parallel on several processes or machines (anygrad/dist.h):
 *   mpirun -np 2 fashion_mnist --distributed --model cnn
 * Each rank trains on its shard of every epoch with --batch-size images per
 * step; gradients are averaged across ranks. Rank 0 prints the progress bar
 * and writes the model and the checkpoints; a checkpoint records the number
 * of ranks, and --resume needs the same number.
 *
 * --graph captures the training step (forward, loss, backward, Adam, the
 * running loss and accuracy sums) after the first step and replays it for
 * every later batch (anygrad/graph.h): the same results, no per-op host work.
 *
 * --schedule constant --no-normalize makes a run the same procedure as a plain
 * PyTorch script (examples/fashion_mnist_torch.py).
 *
 * The data directory holds the four IDX files (gzipped or not); Debian's
 * dataset-fashion-mnist package installs them under /usr/share/datasets/fashion-mnist.
 */
#define _POSIX_C_SOURCE 200809L
#include <anygrad.h>

#include "fmnist_models.h"
#include "fmnist_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static ag_dataset *load_split(const fmnist_options *o, int first_file)
{
    char img[1024], lbl[1024];
    fmnist_data_file(img, sizeof img, o->data, fmnist_files[first_file]);
    fmnist_data_file(lbl, sizeof lbl, o->data, fmnist_files[first_file + 1]);
    ag_normalize norm = {.mean = FMNIST_MEAN, .std = FMNIST_STD};
    return ag_dataset_mnist(img, lbl, o->normalize ? &norm : NULL);
}

/* A dataset view of the first `limit` items (for quick runs). */
typedef struct subset {
    ag_dataset *base;
} subset;

static ag_status subset_get(void *ctx, int64_t i, float *x, int32_t *y)
{
    return ag_dataset_get(((subset *)ctx)->base, i, x, y);
}

static ag_dataset *limit_dataset(ag_dataset *ds, int64_t limit, subset *ctx)
{
    if (limit <= 0 || limit >= ag_dataset_length(ds)) return NULL;
    int64_t shape[8];
    int nd = ag_dataset_item_shape(ds, shape);
    ctx->base = ds;
    return ag_dataset_new(limit, nd, shape, subset_get, ctx, NULL);
}

static void bar(char *out, int64_t done, int64_t total)
{
    int width = 30, filled = total ? (int)(width * done / total) : width;
    for (int i = 0; i < width; i++) out[i] = i < filled ? '#' : '.';
    out[width] = '\0';
}

static bool rank0 = true; /* prints and writes files (every rank when not distributed) */

/* Ends the run after an error: in a distributed run the whole job, so that
 * no rank waits for this one. */
static int fail(const fmnist_options *o, const char *what)
{
    fprintf(stderr, "\nerror: %s%s\n", what ? what : "", what ? "" : ag_last_error());
    if (o->distributed) ag_dist_abort(1, "the run failed on this rank");
    return 1;
}

static void progress(int epoch, int epochs, int64_t done, int64_t total, double loss, double acc,
                     double ips)
{
    char b[64];
    if (!rank0) return;
    bar(b, done, total);
    printf("\repoch %d/%d [%s] %5lld/%lld  loss %.4f  acc %5.2f%%  %7.0f img/s", epoch, epochs, b,
           (long long)done, (long long)total, loss, 100 * acc, ips);
    fflush(stdout);
}

static void eval_progress(int64_t done, int64_t total, double t0)
{
    char b[64];
    if (!rank0) return;
    bar(b, done, total);
    printf("\rtest set  [%s] %5lld/%lld  evaluating %7.0f img/s%20s", b, (long long)done,
           (long long)total, done / (now_s() - t0 + 1e-9), "");
    fflush(stdout);
}

/* Test-set accuracy in eval mode without gradients, in large batches; the hits
 * are summed on the device (one read at the end) and a bar shows progress. */
/* --graph: the step reads fixed input tensors and adds into fixed sums, so
 * one capture serves every batch. */
typedef struct graph_step {
    ag_dtype amp; /* autocast dtype of the forward pass (AG_F32: off) */
    ag_module *model;
    ag_optimizer *opt;
    ag_tensor *x, *y;              /* each batch is copied in */
    ag_tensor *loss_sum, *hit_sum; /* running sums of the epoch */
    ag_graph *graph;
} graph_step;

static ag_status graph_step_run(void *p)
{
    graph_step *g = p;
    ag_scope_begin();
    ag_optimizer_zero_grad(g->opt);
    ag_autocast_begin(g->amp);
    ag_tensor *logits = ag_module_forward(g->model, g->x);
    ag_tensor *loss = ag_cross_entropy(logits, g->y, NULL);
    ag_autocast_end();
    ag_status st = loss ? ag_backward(loss, NULL) : ag_last_status();
    if (st == AG_OK) st = ag_optimizer_step(g->opt);
    ag_no_grad_begin();
    ag_tensor *hits = ag_sum(ag_cast(ag_eq(ag_argmax(logits, 1, false), g->y), AG_F32), 0, NULL, false);
    if (st == AG_OK) st = ag_copy_(g->loss_sum, ag_add(g->loss_sum, ag_reshape(loss, 0, NULL)));
    if (st == AG_OK) st = ag_copy_(g->hit_sum, ag_add(g->hit_sum, hits));
    ag_no_grad_end();
    ag_scope_end();
    return st;
}

/* One training step in --graph mode: the first one eager (it creates Adam's
 * state), the second captured, the others replayed. */
static ag_status graph_step_next(graph_step *g, ag_device *dev, ag_tensor *x, ag_tensor *y, bool warm)
{
    if (!g->x) { /* kept beyond the step's scope: released at the end of main */
        g->x = ag_retain(ag_zeros(dev, ag_tensor_dtype(x), ag_ndim(x), ag_shape(x)));
        g->y = ag_retain(ag_zeros(dev, ag_tensor_dtype(y), ag_ndim(y), ag_shape(y)));
        if (!g->x || !g->y) return ag_last_status();
    }
    ag_status st = ag_copy_(g->x, x);
    if (st == AG_OK) st = ag_copy_(g->y, y);
    if (st != AG_OK) return st;
    if (g->graph) return ag_graph_replay(g->graph);
    if (!warm) return graph_step_run(g);
    g->graph = ag_graph_capture(dev, graph_step_run, g, NULL);
    return g->graph ? AG_OK : ag_last_status();
}

static double evaluate(ag_module *model, ag_dataset *test, ag_device *dev, int64_t batch_size,
                       ag_dtype amp)
{
    ag_loader *ld = ag_loader_new(test, dev, &(ag_loader_opts){.batch_size = batch_size});
    if (!ld) return -1;
    ag_module_train(model, false);
    ag_no_grad_begin();
    const int64_t total = ag_dataset_length(test);
    const double t0 = now_s();
    int64_t seen = 0;
    ag_tensor *hits = NULL; /* running device sum */
    int rc;
    ag_tensor *x, *y;
    eval_progress(0, total, t0);
    for (;;) {
        ag_scope_begin();
        if ((rc = ag_loader_next(ld, &x, &y)) != 1) {
            ag_scope_end();
            break;
        }
        ag_autocast_begin(amp); /* evaluated in the precision it trains in */
        ag_tensor *pred = ag_argmax(ag_module_forward(model, x), 1, false);
        ag_autocast_end();
        ag_tensor *batch_hits = ag_sum(ag_cast(ag_eq(pred, y), AG_F32), 0, NULL, false);
        ag_tensor *sum = hits ? ag_add(hits, batch_hits) : batch_hits;
        ag_release(hits);
        hits = ag_retain(sum);
        seen += ag_size(y, 0);
        ag_scope_end();
        if (!hits) {
            rc = -1;
            break;
        }
        eval_progress(seen, total, t0);
    }
    double correct = rc == 0 && hits ? ag_item(hits) : -1;
    ag_release(hits);
    ag_no_grad_end();
    ag_module_train(model, true);
    ag_loader_free(ld);
    if (rank0) printf("\r%100s\r", "");
    return rc < 0 || seen == 0 ? -1 : correct / (double)seen;
}

int main(int argc, char **argv)
{
    fmnist_options o;
    if (fmnist_parse(argc, argv, &o) != 0) return 2;
    if (o.help) {
        fmnist_usage(stdout, argv[0]);
        fmnist_print_devices(stdout);
        return 0;
    }
    if (o.distributed && ag_dist_init(&argc, &argv, NULL) != AG_OK) {
        fprintf(stderr, "error: --distributed: %s\n", ag_last_error());
        return 1;
    }
    const int rank = ag_dist_rank(), world = ag_dist_world_size();
    rank0 = rank == 0;
    if (!fmnist_check_data(o.data)) return fail(&o, "data files missing");
    ag_device *dev = ag_device_open(o.device);
    if (!dev) return fail(&o, NULL);
    const ag_device_info *info = ag_device_get_info(dev);
    if (o.distributed && rank0)
        printf("data-parallel on %d ranks: batch %lld per rank, %lld per step\n", world,
               (long long)o.batch_size, (long long)o.batch_size * world);
    if (rank0) printf("anygrad %s — Fashion-MNIST %s on %s (%s)\n", ag_version(), o.model, info->name, info->spec);

    ag_dataset *train = load_split(&o, 0), *test = load_split(&o, 2);
    if (!train || !test) {
        fprintf(stderr, "error: %s\n(install the data with: apt-get install dataset-fashion-mnist, "
                        "or pass --data DIR)\n", ag_last_error());
        return fail(&o, "cannot load the data");
    }
    subset sub;
    ag_dataset *limited = limit_dataset(train, o.limit, &sub);
    ag_dataset *train_set = limited ? limited : train;

    ag_manual_seed(o.seed);
    bool cnn = !strcmp(o.model, "cnn");
    ag_module *model = cnn ? fmnist_cnn(dev) : fmnist_mlp(dev);
    ag_tensor *params[64];
    int n_params = model ? ag_module_parameters(model, NULL, params, 64) : -1;
    ag_optimizer *opt = n_params > 0 ? ag_optim_adam(params, n_params, &(ag_adam_opts){.lr = o.lr}) : NULL;
    ag_loader *loader = ag_loader_new(train_set, dev,
                                      &(ag_loader_opts){.batch_size = o.batch_size, .shuffle = true,
                                                        .seed = o.seed, .drop_last = true,
                                                        .num_replicas = world, .rank = rank});
    if (!model || !opt || !loader) return fail(&o, NULL);
    /* Distributed: starts every rank from rank 0's parameters. */
    ag_ddp *ddp = o.distributed ? ag_ddp_new(model, NULL) : NULL;
    if (o.distributed && !ddp) return fail(&o, NULL);
    bool cosine = !strcmp(o.schedule, "cosine");
    if (rank0) printf("model: %lld parameters, %lld training images, batch %lld, Adam lr %g%s, %d epochs, "
           "inputs %s\n",
           (long long)ag_module_num_parameters(model), (long long)ag_dataset_length(train_set),
           (long long)o.batch_size, o.lr, cosine ? " with cosine decay" : " (constant)", o.epochs,
           o.normalize ? "standardised" : "x / 255");

    int64_t start_epoch = 0;
    if (o.resume) {
        ag_state_dict *sd = NULL;
        int64_t epoch = 0;
        if (ag_checkpoint_load(o.resume, dev, opt, true, &epoch, &sd) != AG_OK ||
            ag_module_load_state_dict(model, sd, true) != AG_OK) {
            fprintf(stderr, "error: cannot resume: %s\n", ag_last_error());
            return fail(&o, "cannot resume");
        }
        /* The shards, the batches per epoch and the step count depend on the
         * number of ranks: resume with the one that wrote the checkpoint. */
        int64_t ranks = 1;
        if (ag_state_dict_get_meta_int(sd, "extra.world_size", &ranks) != AG_OK) ranks = 1;
        ag_state_dict_free(sd);
        if (ranks != world) {
            fprintf(stderr, "error: %s was written by a run on %lld rank(s); resume it on %lld, "
                            "not %d\n", o.resume, (long long)ranks, (long long)ranks, world);
            return fail(&o, "cannot resume");
        }
        start_epoch = epoch + 1;
        if (rank0) printf("resumed from %s after epoch %lld\n", o.resume, (long long)epoch + 1);
    }

    graph_step gs = {o.amp, model, opt, NULL, NULL, NULL, NULL, NULL};
    /* Mixed precision: f16 needs loss scaling, bf16 (f32's range) does not. */
    ag_grad_scaler *scaler = ag_grad_scaler_new(&(ag_grad_scaler_opts){.disabled = o.amp != AG_F16});
    if (!scaler) return fail(&o, NULL);
    if (rank0 && o.amp != AG_F32)
        printf("mixed precision: %s autocast%s\n", ag_dtype_name(o.amp),
               o.amp == AG_F16 ? " with dynamic loss scaling" : "");
    if (o.graph) {
        gs.loss_sum = ag_zeros(dev, AG_F32, 0, NULL);
        gs.hit_sum = ag_zeros(dev, AG_F32, 0, NULL);
        if (!gs.loss_sum || !gs.hit_sum) return fail(&o, NULL);
    }
    int64_t steps_run = 0;
    double t_start = now_s(), test_acc = -1; /* of the model as it is now; -1: not measured */
    int64_t batches = ag_loader_num_batches(loader);
    for (int64_t epoch = start_epoch; epoch < o.epochs; epoch++) {
        ag_loader_reset(loader, epoch);
        double t0 = now_s(), loss_shown = 0, acc_shown = 0;
        int64_t step = 0, images = 0;
        ag_tensor *loss_sum = NULL, *correct_sum = NULL; /* running device sums */
        if (o.graph && (ag_fill_(gs.loss_sum, 0) != AG_OK || ag_fill_(gs.hit_sum, 0) != AG_OK))
            return fail(&o, NULL);
        int rc;
        for (;;) {
            ag_scope_begin();
            ag_tensor *x, *y;
            rc = ag_loader_next(loader, &x, &y);
            if (rc != 1) {
                ag_scope_end();
                break;
            }
            /* Cosine decay of the learning rate over the whole run. */
            int64_t global_step = epoch * batches + step;
            if (cosine)
                ag_optimizer_set_lr(opt, ag_lr_cosine(o.lr, global_step, (int64_t)o.epochs * batches, 0, 0.0));
            if (o.graph) {
                if (graph_step_next(&gs, dev, x, y, steps_run > 0) != AG_OK) return fail(&o, NULL);
                steps_run++;
                step++;
                images += ag_size(y, 0);
                ag_scope_end();
                if (step % 25 == 0 || step == batches) {
                    loss_shown = ag_item(gs.loss_sum) / (double)step;
                    acc_shown = ag_item(gs.hit_sum) / (double)images;
                    progress((int)epoch + 1, o.epochs, step, batches, loss_shown, acc_shown,
                             (double)images / (now_s() - t0));
                }
                continue;
            }
            ag_optimizer_zero_grad(opt);
            ag_autocast_begin(o.amp);
            ag_tensor *logits = ag_module_forward(model, x);
            ag_tensor *loss = ag_cross_entropy(logits, y, NULL);
            ag_autocast_end();
            ag_tensor *scaled = ag_grad_scaler_scale(scaler, loss);
            ag_status st = !scaled ? ag_last_status()
                           : ddp ? ag_ddp_backward(ddp, scaled) : ag_backward(scaled, NULL);
            if (st == AG_OK) st = ag_grad_scaler_step(scaler, opt, NULL);
            if (st == AG_OK) st = ag_grad_scaler_update(scaler);
            if (st != AG_OK) return fail(&o, NULL);
            ag_no_grad_begin();
            ag_tensor *hits = ag_sum(ag_cast(ag_eq(ag_argmax(logits, 1, false), y), AG_F32), 0, NULL, false);
            ag_tensor *new_loss = loss_sum ? ag_add(loss_sum, loss) : ag_detach(loss);
            ag_tensor *new_hits = correct_sum ? ag_add(correct_sum, hits) : hits;
            ag_no_grad_end();
            ag_release(loss_sum);
            ag_release(correct_sum);
            loss_sum = ag_retain(new_loss);
            correct_sum = ag_retain(new_hits);
            step++;
            images += ag_size(y, 0);
            ag_scope_end();
            /* Read the running sums back only now and then: no sync per step. */
            if (step % 25 == 0 || step == batches) {
                /* Over all ranks: every rank takes the same steps, so they
                 * all reach this point together. */
                float sums[3] = {(float)ag_item(loss_sum), (float)ag_item(correct_sum), (float)images};
                if (ddp) {
                    ag_scope_begin();
                    ag_tensor *t = ag_from_data(dev, AG_F32, AG_SHAPE(3), sums, sizeof sums);
                    if (!t || ag_dist_allreduce(t, AG_DIST_SUM) != AG_OK ||
                        ag_tensor_read(t, sums, sizeof sums) != AG_OK)
                        return fail(&o, NULL);
                    ag_scope_end();
                }
                loss_shown = sums[0] / ((double)step * world);
                acc_shown = sums[1] / (double)sums[2];
                progress((int)epoch + 1, o.epochs, step, batches, loss_shown, acc_shown,
                         (double)images * world / (now_s() - t0));
            }
        }
        ag_release(loss_sum);
        ag_release(correct_sum);
        if (rc < 0) return fail(&o, NULL);
        /* Every rank evaluates (the same model, the same result): no rank waits. */
        test_acc = evaluate(model, test, dev, o.eval_batch_size, o.amp);
        if (rank0) printf("\repoch %d/%d done in %.1f s: train loss %.4f, train acc %.2f%%, test acc %.2f%%%20s\n",
               (int)epoch + 1, o.epochs, now_s() - t0, loss_shown, 100 * acc_shown, 100 * test_acc, "");
        if (o.checkpoint && rank0) {
            ag_state_dict *sd = ag_module_state_dict(model);
            const char *keys[] = {"world_size"};
            int64_t values[] = {world};
            if (!sd || ag_checkpoint_save(o.checkpoint, sd, opt, epoch, 1, keys, values) != AG_OK)
                fprintf(stderr, "warning: checkpoint not written: %s\n", ag_last_error());
            ag_state_dict_free(sd);
        }
    }

    /* The last epoch's evaluation is the final one (the model has not changed since). */
    double acc = test_acc >= 0 ? test_acc : evaluate(model, test, dev, o.eval_batch_size, o.amp);
    if (rank0)
        printf("test accuracy: %.2f%% (%s, %s%s%s%s%s) in %.1f s\n", 100 * acc, o.model, info->spec,
               o.distributed ? ", distributed" : "", o.graph ? ", graph" : "",
               o.amp != AG_F32 ? ", amp " : "", o.amp != AG_F32 ? ag_dtype_name(o.amp) : "",
               now_s() - t_start);
    char default_save[64];
    snprintf(default_save, sizeof default_save, "fashion_mnist_%s.safetensors", o.model);
    const char *save = o.save ? o.save : default_save;
    ag_state_dict *sd = rank0 ? ag_module_state_dict(model) : NULL;
    if (rank0 && (!sd || ag_safetensors_save(save, sd) != AG_OK))
        fprintf(stderr, "warning: model not saved: %s\n", ag_last_error());
    else if (rank0)
        printf("saved %s (load it in PyTorch with safetensors.torch.load_file)\n", save);
    ag_state_dict_free(sd);
    ag_ddp_free(ddp);
    ag_graph_free(gs.graph); /* before the optimizer its replays update */
    ag_release(gs.x);
    ag_release(gs.y);
    ag_release(gs.loss_sum);
    ag_release(gs.hit_sum);

    ag_loader_free(loader);
    ag_grad_scaler_free(scaler);
    ag_optimizer_free(opt);
    ag_module_free(model);
    ag_dataset_free(limited);
    ag_dataset_free(train);
    ag_dataset_free(test);
    ag_device_close(dev);
    if (o.distributed && ag_dist_finalize() != AG_OK) fprintf(stderr, "warning: %s\n", ag_last_error());
    return acc >= 0 ? 0 : 1;
}
