/* src/ops/autocast.c — the calling thread's autocast regions (anygrad/amp.h)
 * and the casts the ops apply inside them. */
#include "internal.h"

#define AUTOCAST_DEPTH 64

/* Each open region's dtype, innermost last (AG_F32: autocast off inside). */
static _Thread_local ag_dtype region[AUTOCAST_DEPTH];
static _Thread_local int depth;

ag_status ag_autocast_begin(ag_dtype dtype)
{
    const char *op = "ag_autocast_begin";
    if (dtype != AG_F16 && dtype != AG_BF16 && dtype != AG_F32)
        return agi_error(AG_ERR_INVALID, op, "dtype must be f16, bf16 or f32 (off), got %s",
                         ag_dtype_name(dtype));
    if (depth == AUTOCAST_DEPTH)
        return agi_error(AG_ERR_INVALID, op, "more than %d nested autocast regions", AUTOCAST_DEPTH);
    region[depth++] = dtype;
    return AG_OK;
}

ag_status ag_autocast_end(void)
{
    if (depth == 0) return agi_error(AG_ERR_INVALID, "ag_autocast_end", "no autocast region is open");
    depth--;
    return AG_OK;
}

ag_dtype ag_autocast_dtype(void) { return depth ? region[depth - 1] : AG_F32; }

/* A live float tensor (read without setting errors: the op's own checks
 * report bad handles). */
static bool live_float(const ag_tensor *t)
{
    return t && t->magic == AGI_TENSOR_MAGIC && agi_dtype_is_float(t->dtype);
}

bool agi_half_inputs(int n, const ag_tensor *const *ts, ag_dtype *rt)
{
    bool half = false;
    ag_dtype promoted = AG_F32;
    bool first = true;
    for (int i = 0; i < n; i++) {
        if (!live_float(ts[i])) continue;
        half |= ts[i]->dtype != AG_F32;
        promoted = first ? ts[i]->dtype : agi_promote(promoted, ts[i]->dtype);
        first = false;
    }
    *rt = ag_autocast_dtype() != AG_F32 ? AG_F32 : promoted;
    return half;
}

bool agi_half_inputs_autocast(int n, const ag_tensor *const *ts, ag_dtype *rt)
{
    return ag_autocast_dtype() != AG_F32 && agi_half_inputs(n, ts, rt);
}

ag_tensor *agi_round_float(ag_tensor *t, ag_dtype rt)
{
    if (!t || !agi_dtype_is_float(t->dtype) || t->dtype == rt) return t;
    return ag_cast(t, rt);
}

ag_dtype agi_autocast_lowers(int n, const ag_tensor *const *ts)
{
    ag_dtype dt = ag_autocast_dtype();
    if (dt == AG_F32) return AG_F32;
    for (int i = 0; i < n; i++)
        if (ts[i] && !live_float(ts[i])) return AG_F32; /* the op reports or promotes it */
    return dt;
}

ag_tensor *agi_autocast_cast(const ag_tensor *t, ag_dtype dt)
{
    if (!live_float(t) || t->dtype == dt) return (ag_tensor *)t;
    return ag_cast(t, dt);
}

ag_tensor *agi_autocast_round(const ag_tensor *t, ag_dtype dt)
{
    if (!t) return NULL;
    return agi_autocast_cast(agi_autocast_cast(t, dt), AG_F32);
}
