/*
 * anygrad/data.h — datasets, the IDX (MNIST) file reader and a prefetching
 * batch loader.
 *
 * Data lives on the host until a batch is made: a dataset hands out single
 * items (x as f32 values of a fixed item shape, y as an int32 label), and an
 * ag_loader gathers them into batches x [B, ...item shape] f32 and y [B] i32
 * on a device, preparing and uploading the next batch on a background
 * thread while the current one computes.
 *
 *   ag_dataset *train = ag_dataset_mnist("train-images-idx3-ubyte.gz",
 *                                        "train-labels-idx1-ubyte.gz", NULL);
 *   ag_loader *ld = ag_loader_new(train, dev, &(ag_loader_opts){
 *                                     .batch_size = 64, .shuffle = true, .seed = 1});
 *   for (int64_t epoch = 0; epoch < 10; epoch++) {
 *       ag_loader_reset(ld, epoch);
 *       for (;;) {
 *           ag_scope_begin();
 *           ag_tensor *x, *y;
 *           int got = ag_loader_next(ld, &x, &y);
 *           if (got == 1) train_step(x, y);   // x [64, 1, 28, 28], y [64]
 *           ag_scope_end();
 *           if (got != 1) break;              // 0: epoch done; < 0: error
 *       }
 *   }
 *   ag_loader_free(ld);
 *   ag_dataset_free(train);
 */
#ifndef ANYGRAD_DATA_H
#define ANYGRAD_DATA_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX files ------------------------------------------------------------
 * The MNIST/Fashion-MNIST format: bytes 0,0 then a type code (0x08 u8,
 * 0x0C i32, 0x0D f32 are supported), the number of dims (1..8), each dim as a
 * big-endian uint32, then the row-major data (big-endian). Files may be plain
 * or gzip-compressed (detected from the contents, not the name). The reader is
 * strict: a bad magic, an unsupported type, zero or too many dims, dims
 * whose product (or the product of the non-zero ones) exceeds 2^38 elements,
 * a truncated file and trailing bytes are AG_ERR_FORMAT errors whose message
 * names the file; a missing file is AG_ERR_IO. On success `nbytes` is exactly
 * the product of the dims times the element size, and that many bytes were
 * read.                                                                     */

typedef struct ag_idx_array {
    ag_dtype dtype;             /* AG_U8, AG_I32 or AG_F32 */
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    void *data;                 /* malloc'd, host byte order; free with ag_idx_free */
    size_t nbytes;
} ag_idx_array;

/* Reads an IDX file into `out` (zeroed on failure). */
AG_API ag_status ag_idx_read(const char *path, ag_idx_array *out);
/* Frees out->data and zeroes the struct. NULL is a no-op. */
AG_API void ag_idx_free(ag_idx_array *arr);
/* Reads an IDX file into a tensor of its dtype and shape on `dev` (in the
 * current scope). NULL on failure. */
AG_API ag_tensor *ag_idx_load(const char *path, ag_device *dev);

/* ---- Datasets -------------------------------------------------------------- */

typedef struct ag_dataset ag_dataset;

/* Writes item `index` (0 <= index < length): its values, converted to f32,
 * into x (item_numel floats) and its label into *y. Returns AG_OK or a
 * negative status (when the callback sets no error message, the caller
 * reports "item <index> failed (<status name>)"). Called from the loader's
 * background thread (one call at a time per dataset): it must not use
 * thread-local library state such as scopes. */
typedef ag_status (*ag_dataset_get_fn)(void *ctx, int64_t index, float *x, int32_t *y);

/* A custom dataset of `length` items of shape item_shape (item_ndim 0..7).
 * `free_ctx` (may be NULL) is called with ctx by ag_dataset_free. Returns
 * NULL on bad arguments (free_ctx is then not called). */
AG_API ag_dataset *ag_dataset_new(int64_t length, int item_ndim, const int64_t *item_shape,
                                  ag_dataset_get_fn get, void *ctx, void (*free_ctx)(void *));

/* Normalisation of raw values: x = (raw * scale - mean) / std.
 * A zero scale means 1/255 for u8 data and 1 for f32 data; a zero std means 1.
 * The three must be finite (AG_ERR_INVALID otherwise).
 * Passing NULL is the same as all zeros (u8 → [0, 1]). */
typedef struct ag_normalize {
    double scale, mean, std;
} ag_normalize;

/* An in-memory dataset of `n` items from host arrays, which are copied:
 * x (dtype AG_U8 or AG_F32) holds n * prod(item_shape) values row-major,
 * labels holds n int32 labels. With normalize_on_load the values are
 * converted to normalised f32 once (4 bytes per value kept); otherwise the
 * raw values are kept and normalised when an item is read. */
AG_API ag_dataset *ag_dataset_from_host(ag_dtype dtype, const void *x, int64_t n, int item_ndim,
                                        const int64_t *item_shape, const int32_t *labels,
                                        const ag_normalize *norm, bool normalize_on_load);

/* MNIST-style pair of IDX files: images u8 [N, H, W] and labels u8 or i32 [N].
 * Items have shape [1, H, W] (one channel), normalised on the fly with `norm`
 * (NULL: raw/255). Label values must be >= 0. A count mismatch between the
 * files or wrong ranks are AG_ERR_FORMAT errors naming both files. */
AG_API ag_dataset *ag_dataset_mnist(const char *images_path, const char *labels_path,
                                    const ag_normalize *norm);

AG_API int64_t ag_dataset_length(const ag_dataset *ds); /* -1 for NULL */
/* The item shape: returns item_ndim (-1 for NULL) and, when shape is not
 * NULL, copies item_ndim entries into it. */
AG_API int ag_dataset_item_shape(const ag_dataset *ds, int64_t *shape);
/* Reads one item into host memory (x: item_numel floats). */
AG_API ag_status ag_dataset_get(const ag_dataset *ds, int64_t index, float *x, int32_t *y);
/* Frees the dataset (calls its free_ctx). The caller must free loaders using
 * it first. NULL is a no-op. */
AG_API void ag_dataset_free(ag_dataset *ds);

/* ---- Loader ---------------------------------------------------------------- */

typedef struct ag_loader ag_loader;

typedef enum ag_loader_upload {
    /* Same as AG_UPLOAD_BACKGROUND: the background thread uploads the next
     * batch (ag_from_data) while the caller computes. Every backend
     * serialises its buffer allocation and writes against its kernel queue
     * (a device lock in Vulkan/OpenCL; plain host memory on the CPU). */
    AG_UPLOAD_AUTO = 0,
    AG_UPLOAD_BACKGROUND = 1, /* upload on the background thread */
    AG_UPLOAD_CALLER = 2,     /* prepare host batches in the background, upload
                                 in ag_loader_next on the caller's thread */
} ag_loader_upload;

typedef struct ag_loader_opts {
    int64_t batch_size;  /* required, >= 1 */
    bool shuffle;        /* a permutation per epoch keyed by (seed, epoch) */
    uint64_t seed;       /* shuffling seed; independent of ag_manual_seed */
    bool drop_last;      /* drop the last incomplete batch */
    int prefetch;        /* batches prepared ahead (0 → 2) */
    bool synchronous;    /* no background thread: next() does all the work */
    ag_loader_upload upload;
    /* Distributed sampling (PyTorch's DistributedSampler): with num_replicas
     * R > 1 this loader yields only shard `rank` (0 <= rank < R) of each
     * epoch. The epoch's order over the whole dataset is the same on every
     * rank (same seed and epoch); it is padded by repeating its first items
     * until its length is a multiple of R (or, with shard_drop_tail, cut to
     * the largest multiple of R), and rank r takes items r, r + R, r + 2R...
     * So the shards are disjoint (but for the padding), of equal size
     * ag_loader_length, and change every epoch. 0 or 1: no sharding. */
    int num_replicas;
    int rank;
    bool shard_drop_tail; /* drop the last len % R items instead of padding */
} ag_loader_opts;

/* A loader over `ds` (borrowed: it must outlive the loader) producing
 * batches on `dev`, which it keeps alive until ag_loader_free (like a tensor
 * does: ag_device_close may come first). Epoch 0 starts immediately (prefetching begins). The
 * order of epoch e is the identity without shuffle, else a Fisher-Yates
 * permutation from a splitmix64 stream keyed by (seed, e): the same seed and
 * epoch give the same batches on every run and device. A batch_size larger
 * than the epoch gives one batch of every item (none with drop_last); a
 * dataset of more than 2^40 items or a batch of more than 2^40 values is
 * AG_ERR_INVALID. The caller owns the loader: ag_loader_free it. */
AG_API ag_loader *ag_loader_new(ag_dataset *ds, ag_device *dev, const ag_loader_opts *opts);

/* The next batch of the current epoch: *x [B, ...item shape] f32, *y [B]
 * i32, new tensors in the current scope (or owned by the caller). B is the
 * batch size except for a last partial batch (without drop_last). Returns 1
 * for a batch, 0 at the end of the epoch (x, y set to NULL; stays 0 until
 * ag_loader_reset), or a negative ag_status (an item that failed to load, a
 * device error), with x, y NULL and the message naming the batch and item;
 * the failed batch is skipped and the next call continues after it.
 * Call it from one thread at a time. */
AG_API int ag_loader_next(ag_loader *ld, ag_tensor **x, ag_tensor **y);

/* Starts epoch `epoch` (>= 0) from its first batch, discarding batches
 * prefetched for the previous one. Resetting to the current epoch before any
 * of its batches was taken (e.g. epoch 0 right after ag_loader_new) keeps the
 * prefetched batches. */
AG_API ag_status ag_loader_reset(ag_loader *ld, int64_t epoch);

/* Batches per epoch (with drop_last taken into account); -1 for NULL. */
AG_API int64_t ag_loader_num_batches(const ag_loader *ld);

/* Items per epoch: the dataset's length, or with num_replicas > 1 the
 * shard's (see ag_loader_opts); -1 for NULL. */
AG_API int64_t ag_loader_length(const ag_loader *ld);

/* Writes the dataset indices of epoch `epoch`'s order (this loader's shard
 * when sharded) into `out` (ag_loader_length entries), for inspection and
 * tests. */
AG_API ag_status ag_loader_epoch_order(const ag_loader *ld, int64_t epoch, int64_t *out);

/* Stops the background thread (waiting for the batch it is preparing), frees
 * prefetched batches and the loader. NULL is a no-op. */
AG_API void ag_loader_free(ag_loader *ld);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_DATA_H */
