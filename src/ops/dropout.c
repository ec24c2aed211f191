/* src/ops/dropout.c — inverted dropout with a Philox mask.
 *
 * The mask comes from ag_rand (the global counter-based generator), so a seed
 * gives the same mask on every backend: keep = uniform >= p, and the kept
 * elements are scaled by 1/(1-p). The gradient flows through the multiply. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

ag_tensor *ag_dropout(const ag_tensor *x, double p, bool training)
{
    AGI_HALF_VIA_F32(ag_dropout(AGI_F32(x), p, training), x);
    const char *op = "ag_dropout";
    if (!agi_check_tensor(op, x, "x")) return NULL;
    if (!(p >= 0.0 && p <= 1.0)) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "probability %g is not in [0, 1] (input %s)", p,
                  agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    if (!training || p == 0.0) {
        /* Identity: the same tensor, with a new reference for the caller. */
        ag_tensor *same = ag_retain((ag_tensor *)x);
        return agi_scope_track(same);
    }
    ag_scope_begin();
    ag_tensor *y;
    if (p == 1.0) {
        /* Everything dropped (NaN/inf inputs stay NaN, like PyTorch's x * 0). */
        y = ag_mul_scalar(x, 0.0);
    } else {
        // x: [...]; u, keep, scale: x's shape
        ag_tensor *u = ag_rand(x->storage->dev, x->ndim, x->shape);
        ag_tensor *keep = ag_cast(ag_ge_scalar(u, p), AG_F32);
        ag_tensor *scale = ag_mul_scalar(keep, 1.0 / (1.0 - p));
        y = ag_mul(x, scale);
    }
    return agi_scope_return(op, y);
}
