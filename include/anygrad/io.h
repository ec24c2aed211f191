/*
 * anygrad/io.h — state dicts, safetensors files and training checkpoints.
 *
 * A state dict is an ordered list of (name → tensor) entries plus string
 * metadata. The nn layer fills one from a module's named parameters
 * ("features.0.weight", ...) and loads one back with
 * ag_state_dict_load_into; nothing here knows about modules.
 *
 *   ag_state_dict *sd = ag_state_dict_new();
 *   ag_state_dict_add(sd, "fc.weight", w);
 *   ag_state_dict_add(sd, "fc.bias", b);
 *   ag_safetensors_save("model.safetensors", sd);
 *   ag_state_dict_free(sd);
 *
 *   ag_state_dict *in = ag_safetensors_load("model.safetensors", dev);
 *   ag_state_dict_load_into(in, 2, (const char *[]){"fc.weight", "fc.bias"},
 *                           (ag_tensor *[]){w, b}, true);
 *   ag_state_dict_free(in);
 *
 * Files use the safetensors format: an 8-byte little-endian header length N,
 * N bytes of JSON {"name": {"dtype": "F32"|"F16"|"BF16"|"I32"|"U8", "shape": [...],
 * "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}},
 * then the raw little-endian data. Files written by PyTorch's safetensors
 * package (with those dtypes) load; files written here load there.
 */
#ifndef ANYGRAD_IO_H
#define ANYGRAD_IO_H

#include "optim.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- State dicts ----------------------------------------------------------- */

typedef struct ag_state_dict ag_state_dict;

/* An empty dict. The caller owns it: ag_state_dict_free. NULL on OOM. */
AG_API ag_state_dict *ag_state_dict_new(void);
/* Releases the dict's tensor references and frees it. NULL is a no-op. */
AG_API void ag_state_dict_free(ag_state_dict *sd);

/* Appends `name` → `t` (the dict takes its own reference; the tensor may be
 * any dtype, device, or a view). Names are non-empty, at most 255 bytes and
 * unique ("__metadata__" is reserved): a duplicate is AG_ERR_INVALID. Adding,
 * finding and metadata lookups take constant time (hashed). */
AG_API ag_status ag_state_dict_add(ag_state_dict *sd, const char *name, ag_tensor *t);
/* The tensor stored under `name` (borrowed: valid while the dict lives), or
 * NULL (AG_ERR_NOT_FOUND set) when absent. */
AG_API ag_tensor *ag_state_dict_get(const ag_state_dict *sd, const char *name);
AG_API int ag_state_dict_count(const ag_state_dict *sd); /* 0 for NULL */
/* Name / tensor of entry i in insertion (file) order; NULL when out of range.
 * Both borrowed. */
AG_API const char *ag_state_dict_name_at(const ag_state_dict *sd, int i);
AG_API ag_tensor *ag_state_dict_tensor_at(const ag_state_dict *sd, int i);

/* String metadata (the file's "__metadata__"). Setting an existing key
 * replaces its value. get returns NULL when absent (borrowed otherwise). */
AG_API ag_status ag_state_dict_set_meta(ag_state_dict *sd, const char *key, const char *value);
AG_API const char *ag_state_dict_get_meta(const ag_state_dict *sd, const char *key);
/* Parses metadata `key` as a decimal int64. AG_ERR_NOT_FOUND when absent,
 * AG_ERR_FORMAT when not an integer. */
AG_API ag_status ag_state_dict_get_meta_int(const ag_state_dict *sd, const char *key,
                                            int64_t *out);
AG_API int ag_state_dict_meta_count(const ag_state_dict *sd);
AG_API const char *ag_state_dict_meta_key_at(const ag_state_dict *sd, int i);

/* Copies entries of `sd` into existing tensors: for each i, names[i]'s
 * tensor is copied into tensors[i] (converted across devices as needed; not
 * recorded by autograd). Every name is checked before anything is copied, so
 * a failed load changes nothing. Mismatches are AG_ERR_INVALID with one
 * message listing each problem, e.g.
 *   "ag_state_dict_load_into: missing key features.0.weight; shape mismatch
 *    for fc.weight: file [10,5] vs model [10,4]; dtype mismatch for ..."
 * With `strict`, entries of `sd` not in `names` are errors too ("unexpected
 * key ..."). */
AG_API ag_status ag_state_dict_load_into(const ag_state_dict *sd, int n,
                                         const char *const *names, ag_tensor *const *tensors,
                                         bool strict);

/* ---- safetensors ------------------------------------------------------------ */

/* Writes every entry (read back from its device) and the metadata to `path`
 * atomically: readers of `path` see the old file or the new one, never a
 * mix, also when threads or processes save the same path at once (the last
 * rename wins) and when the process dies mid-save.
 *   - A symbolic link is followed: the file it points at is replaced and the
 *     link stays. An existing target that is not a regular file (a
 *     directory, a device such as /dev/full, a FIFO) is refused with
 *     AG_ERR_IO "... is a character device, not a regular file ...".
 *   - The data goes to a temporary file made with mkstemp in the target's
 *     directory, ".<name>.agtmp-<pid>-XXXXXX", which is fsync'ed and renamed
 *     over the target; then the directory is fsync'ed. The file keeps the
 *     old target's permission bits (a new one gets 0666 minus the umask).
 *   - A process killed mid-save leaves its temporary file. Every save removes
 *     the temporary files of the same target whose <pid> is no longer a
 *     running process on this machine; the temporary files of a live
 *     process (another thread's save in progress) are never touched.
 * Supported dtypes: all (F32, F16, BF16, I32, U8). AG_ERR_IO on file-system errors. */
AG_API ag_status ag_safetensors_save(const char *path, const ag_state_dict *sd);

/* Reads a safetensors file into a new dict with tensors on `dev` (owned by
 * the dict; the caller owns the dict). Validation is strict and never reads
 * out of bounds: a file shorter than its header, an unparsable or non-object
 * JSON header, a missing/ill-typed dtype, shape or data_offsets, an unknown or
 * unsupported dtype (F16, BF16, I64, ...), offsets out of range, overlapping,
 * leaving holes, or not matching numel * dtype size, and duplicate names are
 * AG_ERR_FORMAT with a message naming the file and the tensor. The header is
 * at most 100 MB and 2^19 JSON members (key: value pairs at any depth; a
 * tensor has 4, a metadata value 1: so at most 131072 tensors); a larger one
 * is AG_ERR_FORMAT, found before parsing. Loading takes time linear in the
 * number of entries. A missing file or one that is not a regular file (a
 * directory) is AG_ERR_IO. Returns NULL on failure. */
AG_API ag_state_dict *ag_safetensors_load(const char *path, ag_device *dev);

/* ---- Checkpoints ------------------------------------------------------------
 * One safetensors file holding:
 *   "model.<name>"         every entry of the model dict
 *   "optim.state.<i>.<x>"  the optimizer's state entries (see optim.h)
 *   __metadata__: "format" = "anygrad-checkpoint-1", "epoch", "rng.seed",
 *     "rng.offset" (the global generator, ag_rng_get_state), and when an
 *     optimizer is given "optim.kind", "optim.lr" (%.17g), "optim.steps";
 *     plus "extra.<key>" for each extra int64 value.                         */

AG_API ag_status ag_checkpoint_save(const char *path, const ag_state_dict *model,
                                    const ag_optimizer *opt, int64_t epoch, int n_extra,
                                    const char *const *extra_keys, const int64_t *extra_values);

/* Loads a checkpoint written by ag_checkpoint_save. Tensors are created on
 * `dev`. When `opt` is not NULL its kind must match the file's and its
 * state, lr and step count are restored (parameters are matched by index:
 * build the optimizer over the same parameters in the same order). The
 * global RNG state is restored when `restore_rng`. `*epoch` (may be NULL)
 * receives the stored epoch. `*model` (may be NULL) receives a new dict of
 * the "model." entries with the prefix removed, carrying the file's metadata
 * (query "extra.<key>" with ag_state_dict_get_meta_int); the caller frees it
 * and typically passes it to ag_state_dict_load_into.
 * Nothing is restored unless the whole file validates: the format tag, the
 * epoch and RNG metadata, "optim.lr" (a finite number >= 0), "optim.steps"
 * (an integer >= 0) and every optimizer entry (name, parameter index,
 * buffer used by the algorithm, dtype, shape, step value) are checked before
 * the optimizer, the RNG or `*epoch` change. Every error names the file. Only
 * a device failure while restoring (out of memory allocating the state) can
 * stop after part of the optimizer state was restored; it is reported. */
AG_API ag_status ag_checkpoint_load(const char *path, ag_device *dev, ag_optimizer *opt,
                                    bool restore_rng, int64_t *epoch, ag_state_dict **model);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_IO_H */
