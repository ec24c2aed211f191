/* backends/kernel_registry.c — kernel_ops.def as tables: names, the dtype
 * contract (agi_kernel_sig_check) and the record validator every backend's
 * exec() runs first (agi_kernel_validate). */
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct op_row {
    const char *name;
    int subs;
    char views[6]; /* roles of dst, dst2, src0, src1, src2 */
    int params;
    int ew;
    unsigned dtypes;
    int half; /* AGI_H_* */
} op_row;

typedef struct sub_row {
    const char *name;
    int result; /* AGI_RES_* */
    unsigned dtypes; /* 0: the op's */
} sub_row;

static const op_row ops[AGI_K_COUNT] = {
#define AGI_OP(E, name, subs, views, params, ew, dtypes, half) [E] = {#name, subs, views, params, ew, dtypes, half},
#include "kernel_ops.def"
};

static const sub_row unary_subs[AGI_U_COUNT] = {
#define AGI_UNARY(E, name, nparams, dtypes, ...) [E] = {#name, AGI_RES_SAME, dtypes},
#include "kernel_ops.def"
};
static const sub_row binary_subs[AGI_B_COUNT] = {
#define AGI_BINARY(E, name, dtypes) [E] = {#name, AGI_RES_SAME, dtypes},
#define AGI_COMPARE(E, name, dtypes) [E] = {#name, AGI_RES_U8, dtypes},
#include "kernel_ops.def"
};
static const sub_row reduce_subs[AGI_R_COUNT] = {
#define AGI_REDUCE(E, name, result, dtypes) [E] = {#name, result, dtypes},
#include "kernel_ops.def"
};
static const sub_row softmax_subs[AGI_SOFTMAX_COUNT] = {
#define AGI_SOFTMAX_SUB(E, name) [E] = {#name, AGI_RES_SAME, 0},
#include "kernel_ops.def"
};
static const sub_row rng_subs[AGI_RNG_COUNT] = {
#define AGI_RNG_SUB(E, name) [E] = {#name, AGI_RES_SAME, 0},
#include "kernel_ops.def"
};

static const sub_row *sub_of(agi_kernel_op op, int sub, int *count)
{
    const sub_row *t = NULL;
    int n = 0;
    switch (ops[op].subs) {
    case AGI_SUBS_UNARY: t = unary_subs, n = AGI_U_COUNT; break;
    case AGI_SUBS_BINARY: t = binary_subs, n = AGI_B_COUNT; break;
    case AGI_SUBS_REDUCE: t = reduce_subs, n = AGI_R_COUNT; break;
    case AGI_SUBS_SOFTMAX: t = softmax_subs, n = AGI_SOFTMAX_COUNT; break;
    case AGI_SUBS_RNG: t = rng_subs, n = AGI_RNG_COUNT; break;
    default: break;
    }
    if (count) *count = n;
    return t && sub >= 0 && sub < n ? &t[sub] : NULL;
}

const char *agi_kernel_op_name(agi_kernel_op op) { return (unsigned)op < AGI_K_COUNT ? ops[op].name : "?"; }
const char *agi_unary_op_name(int sub) { return (unsigned)sub < AGI_U_COUNT ? unary_subs[sub].name : "?"; }
const char *agi_binary_op_name(int sub) { return (unsigned)sub < AGI_B_COUNT ? binary_subs[sub].name : "?"; }
const char *agi_reduce_op_name(int sub) { return (unsigned)sub < AGI_R_COUNT ? reduce_subs[sub].name : "?"; }

const char *agi_kernel_sub_name(agi_kernel_op op, int sub)
{
    if ((unsigned)op >= AGI_K_COUNT || ops[op].subs == AGI_SUBS_NONE) return "";
    const sub_row *r = sub_of(op, sub, NULL);
    return r ? r->name : "?";
}

agi_kernel_sig agi_kernel_sig_of(const agi_kernel *k)
{
    agi_kernel_sig s = {.op = k->op, .sub = k->sub};
    s.dst = k->dst.buf ? k->dst.dtype : AGI_NO_DTYPE;
    s.dst2 = k->dst2.buf ? k->dst2.dtype : AGI_NO_DTYPE;
    for (int i = 0; i < 3; i++) s.src[i] = k->src[i].buf ? k->src[i].dtype : AGI_NO_DTYPE;
    return s;
}

static const char *const view_names[5] = {"dst", "dst2", "src0", "src1", "src2"};

static void dtypes_str(char *buf, size_t cap, unsigned set)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int t = 0; t < AG_DTYPE_COUNT; t++)
        if (set & AGI_DT_BIT(t))
            len += (size_t)snprintf(buf + len, cap - len, len ? ", %s" : "%s", ag_dtype_name((ag_dtype)t));
}

static const char *dt_name(ag_dtype t) { return t == AGI_NO_DTYPE ? "none" : ag_dtype_name(t); }

/* Sets the error only when `report` (supports() asks without one). */
static ag_status fail(bool report, ag_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ag_status fail(bool report, ag_status st, const char *fmt, ...)
{
    if (!report) return st;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return agi_set_error(st, "%s", msg);
}

static ag_status sig_check(const char *be, const agi_kernel_sig *s, bool report)
{
    if ((unsigned)s->op >= AGI_K_COUNT)
        return fail(report, AG_ERR_UNSUPPORTED, "%s: kernel op %d unsupported", be, (int)s->op);
    const op_row *o = &ops[s->op];
    unsigned set = o->dtypes;
    int result = AGI_RES_SAME;
    if (o->subs != AGI_SUBS_NONE) {
        int n = 0;
        const sub_row *r = sub_of(s->op, s->sub, &n);
        if (!r)
            return fail(report, AG_ERR_UNSUPPORTED, "%s: %s: sub-op %d unsupported (0..%d)", be, o->name,
                                 s->sub, n - 1);
        if (r->dtypes) set = r->dtypes;
        result = r->result;
    }
    const ag_dtype dt[5] = {s->dst, s->dst2, s->src[0], s->src[1], s->src[2]};
    ag_dtype data = AGI_NO_DTYPE;
    for (int v = 0; v < 5; v++) {
        char role = o->views[v];
        ag_dtype t = dt[v];
        if (role == '-' || (t == AGI_NO_DTYPE && (role == 'd' || role == 's' || role == 'u'))) continue;
        if (t == AGI_NO_DTYPE)
            return fail(report, AG_ERR_INVALID, "%s: %s%s%s: %s has no buffer", be, o->name,
                                 *agi_kernel_sub_name(s->op, s->sub) ? " " : "",
                                 agi_kernel_sub_name(s->op, s->sub), view_names[v]);
        bool ok;
        unsigned want = set;
        switch (role) {
        case 'I': case 'u': want = AGI_DT_I32; break;
        case 'M': want = AGI_DT_U8; break;
        case 's': want = AGI_DT_F32; break;
        case 'R':
            if (result == AGI_RES_U8) want = AGI_DT_U8;
            else if (result == AGI_RES_I32) want = AGI_DT_I32;
            else role = 'D';
            break;
        default: break;
        }
        ok = agi_dtype_valid(t) && (AGI_DT_BIT(t) & want);
        if (ok && (role == 'D' || role == 'd')) {
            if (data == AGI_NO_DTYPE) data = t;
            ok = t == data;
        }
        if (!ok) {
            char sets[64], all[160];
            dtypes_str(sets, sizeof sets, want);
            snprintf(all, sizeof all, "dst %s, dst2 %s, src %s %s %s", dt_name(s->dst), dt_name(s->dst2),
                     dt_name(s->src[0]), dt_name(s->src[1]), dt_name(s->src[2]));
            const char *sn = agi_kernel_sub_name(s->op, s->sub);
            return fail(report, AG_ERR_UNSUPPORTED,
                                 "%s: %s%s%s: %s dtype %s unsupported (kernels exist for %s%s; record: %s)",
                                 be, o->name, *sn ? " " : "", sn, view_names[v], dt_name(t), sets,
                                 role == 'D' || role == 'd' ? ", one dtype for all data views" : "", all);
        }
    }
    return AG_OK;
}

ag_status agi_kernel_sig_check(const char *be, const agi_kernel_sig *s) { return sig_check(be, s, true); }

bool agi_binary_is_compare(int sub) { return (unsigned)sub < AGI_B_COUNT && binary_subs[sub].result == AGI_RES_U8; }

bool agi_binary_has_dtype(int sub, ag_dtype t)
{
    return (unsigned)sub < AGI_B_COUNT && agi_dtype_valid(t) && (binary_subs[sub].dtypes & AGI_DT_BIT(t)) != 0;
}

int agi_kernel_half_mode(agi_kernel_op op) { return (unsigned)op < AGI_K_COUNT ? ops[op].half : AGI_H_NONE; }

bool agi_kernel_sig_ok(const agi_kernel_sig *s) { return sig_check("", s, false) == AG_OK; }

static void shape_str(char *buf, const agi_view *v)
{
    size_t len = 0, cap = 160;
    buf[len++] = '[';
    buf[len] = '\0';
    for (int d = 0; d < v->ndim && d < AG_MAX_DIMS && len < cap - 24; d++)
        len += (size_t)snprintf(buf + len, cap - len, d ? ",%lld" : "%lld", (long long)v->shape[d]);
    snprintf(buf + len, cap - len, "]");
}

static ag_status check_view(const char *be, const char *op, const char *what, const agi_view *v,
                            agi_buffer_bytes_fn bytes)
{
    size_t es = ag_dtype_size(v->dtype);
    if (v->ndim < 0 || v->ndim > AG_MAX_DIMS)
        return agi_set_error(AG_ERR_INVALID, "%s: %s: %s has rank %d", be, op, what, v->ndim);
    char sh[160];
    if (v->offset < 0) return agi_set_error(AG_ERR_INVALID, "%s: %s: %s has negative offset", be, op, what);
    uint64_t last = (uint64_t)v->offset;
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] < 1 || v->strides[d] < 0 || v->shape[d] > (INT64_C(1) << 40) ||
            v->strides[d] > (INT64_C(1) << 40)) {
            shape_str(sh, v);
            return agi_set_error(AG_ERR_INVALID, "%s: %s: %s has bad shape %s or a negative stride", be, op,
                                 what, sh);
        }
        last += (uint64_t)(v->shape[d] - 1) * (uint64_t)v->strides[d];
        if (last > (UINT64_C(1) << 50)) break;
    }
    size_t have = bytes(v->buf);
    if ((last + 1) * es > have) {
        shape_str(sh, v);
        return agi_set_error(AG_ERR_INVALID, "%s: %s: %s view %s (offset %lld) runs past its buffer of %zu bytes",
                             be, op, what, sh, (long long)v->offset, have);
    }
    return AG_OK;
}

ag_status agi_fused_check(const char *be, agi_kernel_op op, const agi_fused_params *f)
{
    (void)op;
    if (f->n < 1 || f->n > AG_FUSED_MAX_STEPS || f->nin < 0 || f->nin > AG_FUSED_MAX_INPUTS)
        return agi_set_error(AG_ERR_INVALID, "%s: ew_fused: %d steps, %d inputs (at most %d and %d)", be,
                             f->n, f->nin, AG_FUSED_MAX_STEPS, AG_FUSED_MAX_INPUTS);
    for (int j = 0; j < f->n; j++) {
        uint32_t c = f->code[j];
        int kind = AG_FUSED_KIND(c), sub = AG_FUSED_SUB(c), a = AG_FUSED_A(c), b = AG_FUSED_B(c);
        /* a register is readable once written: an input in use or an earlier step */
        int avail = AG_FUSED_MAX_INPUTS + j;
        bool ok_a = (a < f->nin) || (a >= AG_FUSED_MAX_INPUTS && a < avail);
        bool ok_b = (b < f->nin) || (b >= AG_FUSED_MAX_INPUTS && b < avail);
        bool ok;
        switch (kind) {
        case AG_FUSED_CONST: ok = true; break;
        case AG_FUSED_COPY: ok = ok_a; break;
        case AG_FUSED_UNARY: ok = ok_a && sub < AGI_U_COUNT; break;
        case AG_FUSED_BINARY:
            ok = ok_a && ok_b && sub < AGI_B_COUNT && binary_subs[sub].result == AGI_RES_SAME;
            break;
        default: ok = false;
        }
        if (!ok)
            return agi_set_error(AG_ERR_INVALID, "%s: ew_fused: step %d (code 0x%x) is malformed", be, j,
                                 (unsigned)c);
    }
    return AG_OK;
}

ag_status agi_kernel_validate(const char *be, const agi_kernel *k, agi_buffer_bytes_fn bytes)
{
    if (!k) return agi_set_error(AG_ERR_INVALID, "%s: exec: kernel is NULL", be);
    agi_kernel_sig sig = agi_kernel_sig_of(k);
    ag_status st = agi_kernel_sig_check(be, &sig);
    if (st != AG_OK) return st;
    const op_row *o = &ops[k->op];
    const agi_view *views[5] = {&k->dst, &k->dst2, &k->src[0], &k->src[1], &k->src[2]};
    for (int v = 0; v < 5; v++) {
        if (o->views[v] == '-' || !views[v]->buf) continue;
        if ((st = check_view(be, o->name, view_names[v], views[v], bytes)) != AG_OK) return st;
    }
    if (k->op == AGI_K_EW_FUSED) {
        if ((st = agi_fused_check(be, k->op, &k->p.fused)) != AG_OK) return st;
        for (int i = 0; i < 3; i++)
            if ((k->src[i].buf != NULL) != (i < k->p.fused.nin))
                return agi_set_error(AG_ERR_INVALID, "%s: ew_fused: %d inputs, src%d %s", be,
                                     k->p.fused.nin, i, k->src[i].buf ? "set" : "missing");
    }
    if (o->ew) {
        for (int v = 2; v < 5; v++) {
            const agi_view *s = views[v];
            if (o->views[v] == '-' || !s->buf) continue;
            bool same = s->ndim == k->dst.ndim;
            for (int d = 0; same && d < s->ndim; d++) same = s->shape[d] == k->dst.shape[d];
            if (!same) {
                char a[160], b[160];
                shape_str(a, &k->dst);
                shape_str(b, s);
                return agi_set_error(AG_ERR_INVALID, "%s: %s: shapes differ: dst %s, %s %s", be, o->name, a,
                                     view_names[v], b);
            }
        }
    }
    return AG_OK;
}
