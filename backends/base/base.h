/*
 * backends/base/base.h — the small layer under every backend and the front
 * end: the dtype table and promotion rule, the per-thread error store, the
 * 16-bit float conversions and Philox. Nothing here knows a device or a
 * tensor; backends include it through backend.h and need nothing from src/.
 */
#ifndef AG_BASE_H
#define AG_BASE_H

#include "anygrad/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Dtypes (table: backends/base/dtypes.def) ---------------------------- */

typedef enum agi_dtype_class { AGI_DC_FLOAT, AGI_DC_INT, AGI_DC_BOOL } agi_dtype_class;

/* Bit masks of dtypes, for the dtype sets of the kernel registry. */
#define AGI_DT_BIT(t) (1u << (unsigned)(t))
#define AGI_DT_F32 AGI_DT_BIT(AG_F32)
#define AGI_DT_I32 AGI_DT_BIT(AG_I32)
#define AGI_DT_U8 AGI_DT_BIT(AG_U8)
#define AGI_DT_F16 AGI_DT_BIT(AG_F16)
#define AGI_DT_BF16 AGI_DT_BIT(AG_BF16)
#define AGI_DT_HALF (AGI_DT_F16 | AGI_DT_BF16)
#define AGI_DT_FLOAT (AGI_DT_F32 | AGI_DT_HALF)
#define AGI_DT_ALL (AGI_DT_FLOAT | AGI_DT_I32 | AGI_DT_U8)

bool agi_dtype_valid(ag_dtype t);
agi_dtype_class agi_dtype_class_of(ag_dtype t);
bool agi_dtype_is_float(ag_dtype t);
/* The one promotion rule: the dtype a binary op of a and b computes in (the
 * higher rank of the table; f16 with bf16 gives f32). Both must be valid. */
ag_dtype agi_promote(ag_dtype a, ag_dtype b);

/* ---- 16-bit floats (round to nearest even; NaN stays NaN) ----------------- */

uint16_t agi_f32_to_f16(float x);
float agi_f16_to_f32(uint16_t h);
uint16_t agi_f32_to_bf16(float x);
float agi_bf16_to_f32(uint16_t h);

/* ---- The per-thread error store ----------------------------------------- */

/* Sets the thread's last error (printf-style) and returns `status`. */
ag_status agi_set_error(ag_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- The disk cache of compiled kernels (best effort) ------------------- */

/* "$XDG_CACHE_HOME/anygrad" or "$HOME/.cache/anygrad", created; false when
 * neither is set or it cannot be made. */
bool agi_cache_dir(char *out, size_t cap);
/* A whole file of 1..max bytes (malloc'ed; *len set), or NULL. */
void *agi_cache_read(const char *path, size_t max, size_t *len);
/* Writes head then data to path through a temporary file renamed over it,
 * so readers see the old file or the new one, never a part. */
bool agi_cache_write(const char *path, const void *head, size_t head_len, const void *data, size_t len);

/* ---- Philox4x32-10 ------------------------------------------------------- */

/* out = philox(counter, key). */
void agi_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

#endif /* AG_BASE_H */
