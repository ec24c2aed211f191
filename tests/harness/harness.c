/* tests/harness/harness.c — backend selection, host copies and assertions. */
#include "harness.h"
#include "base/base.h"

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Backends -------------------------------------------------------------- */

static char specs[8][32];
static int n_specs = -1;

static void parse_backends(void)
{
    if (n_specs >= 0) return;
    n_specs = 0;
    const char *env = getenv("AG_TEST_BACKENDS");
    if (env && env[0]) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", env);
        for (char *tok = strtok(buf, ", "); tok && n_specs < 8; tok = strtok(NULL, ", "))
            snprintf(specs[n_specs++], sizeof specs[0], "%s", tok);
        return;
    }
    snprintf(specs[n_specs++], sizeof specs[0], "cpu");
    ag_device_info infos[32];
    int n = ag_device_list(infos, 32);
    bool have_vk = false, have_cl = false;
    for (int i = 0; i < n && i < 32; i++) {
        if (infos[i].backend == AG_BACKEND_VULKAN && !have_vk) {
            snprintf(specs[n_specs++], sizeof specs[0], "vulkan");
            have_vk = true;
        } else if (infos[i].backend == AG_BACKEND_OPENCL && !have_cl) {
            snprintf(specs[n_specs++], sizeof specs[0], "opencl");
            have_cl = true;
        }
    }
}

int agt_backend_count(void)
{
    parse_backends();
    return n_specs;
}

const char *agt_backend_spec(int i)
{
    parse_backends();
    return i >= 0 && i < n_specs ? specs[i] : "?";
}

static int64_t baseline_tensors;

/* Defined by the Vulkan backend when it is built (weak: absent otherwise).
 * With AG_VULKAN_VALIDATION=1 it counts validation-layer messages. */
int64_t agi_vulkan_validation_message_count(void) __attribute__((weak));

ag_device *agt_open(int i)
{
    ag_clear_error();
    ag_device *dev = ag_device_open(agt_backend_spec(i));
    ck_assert_msg(dev != NULL, "cannot open backend \"%s\": %s", agt_backend_spec(i),
                  ag_last_error());
    baseline_tensors = ag_live_tensors();
    return dev;
}

void agt_close(ag_device *dev)
{
    int64_t live = ag_live_tensors();
    int64_t bufs = ag_device_live_buffers(dev);
    ag_device_close(dev);
    if (agi_vulkan_validation_message_count) {
        int64_t msgs = agi_vulkan_validation_message_count();
        ck_assert_msg(msgs == 0, "%lld Vulkan validation messages (printed above)", (long long)msgs);
    }
    ck_assert_msg(live == baseline_tensors, "%lld tensors leaked", (long long)(live - baseline_tensors));
    ck_assert_msg(bufs == 0, "%lld device buffers still alive at close", (long long)bufs);
}

#ifndef __SANITIZE_ADDRESS__ /* the sanitizers report crashes themselves */
/* A crash (segfault, abort) prints the stack to stderr before the default
 * action: a suite that dies on a remote machine still says where. Resolve
 * the "(+0x...)" offsets with addr2line -f -e <test binary>. */
static void crash_report(int sig)
{
    static const char msg[] = "\n*** crash: stack (resolve offsets with addr2line -f -e <binary>):\n";
    void *frames[64];
    (void)!write(2, msg, sizeof msg - 1);
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

int agt_run_suite(Suite *s)
{
#ifndef __SANITIZE_ADDRESS__ /* the sanitizers report crashes themselves */
    const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], crash_report);
#endif
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

/* ---- Host data ----------------------------------------------------------------- */

ag_tensor *agt_tensor(ag_device *dev, int ndim, const int64_t *shape, const float *data)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    ag_tensor *t = ag_from_data(dev, AG_F32, ndim, shape, data, (size_t)n * sizeof(float));
    ck_assert_msg(t != NULL, "agt_tensor: %s", ag_last_error());
    return t;
}

ag_tensor *agt_tensor_i32(ag_device *dev, int ndim, const int64_t *shape, const int32_t *data)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    ag_tensor *t = ag_from_data(dev, AG_I32, ndim, shape, data, (size_t)n * sizeof(int32_t));
    ck_assert_msg(t != NULL, "agt_tensor_i32: %s", ag_last_error());
    return t;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double host_normal(uint64_t *s)
{
    double u1 = ((double)(splitmix(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(splitmix(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

ag_tensor *agt_randn(ag_device *dev, int ndim, const int64_t *shape, uint64_t seed, double scale)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    uint64_t s = seed * 7919 + 17;
    for (int64_t i = 0; i < n; i++) h[i] = (float)(scale * host_normal(&s));
    ag_tensor *t = agt_tensor(dev, ndim, shape, h);
    free(h);
    return t;
}

ag_tensor *agt_noncontiguous(ag_tensor *t)
{
    int nd = ag_ndim(t);
    ck_assert_msg(nd >= 2, "agt_noncontiguous needs ndim >= 2");
    ag_tensor *tt = ag_contiguous(ag_transpose(t, nd - 2, nd - 1));
    ag_tensor *back = ag_transpose(tt, nd - 2, nd - 1);
    ck_assert_msg(back != NULL, "agt_noncontiguous: %s", ag_last_error());
    return back;
}

static void *read_as(const ag_tensor *t, ag_dtype want)
{
    ck_assert_msg(t != NULL, "tensor is NULL: %s", ag_last_error());
    ck_assert_msg(ag_tensor_dtype(t) == want, "expected dtype %s, got %s", ag_dtype_name(want),
                  ag_dtype_name(ag_tensor_dtype(t)));
    size_t bytes = (size_t)ag_numel(t) * ag_dtype_size(want);
    void *h = malloc(bytes ? bytes : 1);
    ag_status st = ag_tensor_read(t, h, bytes);
    ck_assert_msg(st == AG_OK, "read failed: %s", ag_last_error());
    return h;
}

float *agt_read_f32(const ag_tensor *t) { return read_as(t, AG_F32); }
int32_t *agt_read_i32(const ag_tensor *t) { return read_as(t, AG_I32); }
uint8_t *agt_read_u8(const ag_tensor *t) { return read_as(t, AG_U8); }

/* Any dtype as doubles. */
static double *read_double(const ag_tensor *t)
{
    ck_assert_msg(t != NULL, "tensor is NULL: %s", ag_last_error());
    int64_t n = ag_numel(t);
    double *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    void *h = read_as(t, ag_tensor_dtype(t));
    for (int64_t i = 0; i < n; i++) {
        switch (ag_tensor_dtype(t)) {
        case AG_F32: out[i] = ((float *)h)[i]; break;
        case AG_I32: out[i] = ((int32_t *)h)[i]; break;
        case AG_F16: out[i] = agi_f16_to_f32(((uint16_t *)h)[i]); break;
        case AG_BF16: out[i] = agi_bf16_to_f32(((uint16_t *)h)[i]); break;
        default: out[i] = ((uint8_t *)h)[i]; break;
        }
    }
    free(h);
    return out;
}

/* ---- Assertions -------------------------------------------------------------- */

static void compare(const double *got, const double *want, int64_t n, double atol, double rtol,
                    const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (isnan(w) && isnan(g)) continue;
        if (isinf(w) && g == w) continue;
        double tol = atol + rtol * fabs(w);
        ck_assert_msg(fabs(g - w) <= tol && !isnan(g),
                      "%s: element %lld: got %.9g, want %.9g (atol %g, rtol %g)", what,
                      (long long)i, g, w, atol, rtol);
    }
}

void agt_assert_close(const ag_tensor *t, const float *want, int64_t n, double atol, double rtol,
                      const char *what)
{
    ck_assert_msg(t != NULL, "%s: result is NULL: %s", what, ag_last_error());
    ck_assert_msg(ag_numel(t) == n, "%s: %lld elements, want %lld", what, (long long)ag_numel(t),
                  (long long)n);
    double *got = read_double(t);
    double *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    for (int64_t i = 0; i < n; i++) w[i] = want[i];
    compare(got, w, n, atol, rtol, what);
    free(got);
    free(w);
}

void agt_assert_tensors_close(const ag_tensor *got, const ag_tensor *want, double atol, double rtol,
                              const char *what)
{
    ck_assert_msg(got != NULL, "%s: result is NULL: %s", what, ag_last_error());
    ck_assert_msg(want != NULL, "%s: expected tensor is NULL", what);
    char a[192], b[192];
    ck_assert_msg(ag_ndim(got) == ag_ndim(want) &&
                      memcmp(ag_shape(got), ag_shape(want), (size_t)ag_ndim(got) * 8) == 0,
                  "%s: shape %s, want %s", what, ag_shape_str(got, a, sizeof a),
                  ag_shape_str(want, b, sizeof b));
    double *g = read_double(got), *w = read_double(want);
    compare(g, w, ag_numel(got), atol, rtol, what);
    free(g);
    free(w);
}

void agt_assert_shape(const ag_tensor *t, int ndim, const int64_t *shape, const char *what)
{
    ck_assert_msg(t != NULL, "%s: result is NULL: %s", what, ag_last_error());
    char a[192];
    bool same = ag_ndim(t) == ndim && (ndim == 0 || memcmp(ag_shape(t), shape, (size_t)ndim * 8) == 0);
    ck_assert_msg(same, "%s: unexpected shape %s", what, ag_shape_str(t, a, sizeof a));
}

void agt_assert_error(const void *t, const char *needle1, const char *needle2, const char *what)
{
    ck_assert_msg(t == NULL, "%s: expected failure, got a result", what);
    const char *msg = ag_last_error();
    ck_assert_msg(!needle1 || strstr(msg, needle1), "%s: error \"%s\" lacks \"%s\"", what, msg, needle1);
    ck_assert_msg(!needle2 || strstr(msg, needle2), "%s: error \"%s\" lacks \"%s\"", what, msg, needle2);
}

/* ---- Gradient checking ------------------------------------------------------- */

/* sum(out * r) on the host, in double. */
static double weighted_sum(const ag_tensor *out, const double *r)
{
    double *o = read_double(out);
    double s = 0;
    for (int64_t i = 0; i < ag_numel(out); i++) s += o[i] * r[i];
    free(o);
    return s;
}

void agt_gradcheck(agt_fn fn, int n, ag_tensor *const *inputs, void *ctx, double eps, double atol,
                   double rtol, const char *what)
{
    ag_device *dev = ag_tensor_device(inputs[0]);
    ag_scope_begin();
    for (int i = 0; i < n; i++) ag_zero_grad(inputs[i]);
    ag_tensor *out = fn(inputs, ctx);
    ck_assert_msg(out != NULL, "%s: forward failed: %s", what, ag_last_error());
    int64_t m = ag_numel(out);
    double *r = malloc((size_t)(m ? m : 1) * sizeof *r);
    uint64_t s = 12345;
    for (int64_t i = 0; i < m; i++) r[i] = host_normal(&s);
    float *rf = malloc((size_t)(m ? m : 1) * sizeof *rf);
    for (int64_t i = 0; i < m; i++) rf[i] = (float)r[i];
    ag_tensor *rt = agt_tensor(dev, ag_ndim(out), ag_shape(out), rf);
    ag_tensor *loss = ag_sum(ag_mul(out, rt), 0, NULL, false);
    ck_assert_msg(loss != NULL, "%s: loss failed: %s", what, ag_last_error());
    ck_assert_msg(ag_backward(loss, NULL) == AG_OK, "%s: backward failed: %s", what, ag_last_error());

    for (int i = 0; i < n; i++) {
        ag_tensor *x = inputs[i];
        if (!ag_requires_grad(x)) continue;
        ck_assert_msg(ag_grad(x) != NULL, "%s: input %d has no gradient", what, i);
        double *analytic = read_double(ag_grad(x));
        int64_t k = ag_numel(x);
        float *base = agt_read_f32(x);
        float *pert = malloc((size_t)k * sizeof *pert);
        ag_tensor *args[8];
        for (int64_t j = 0; j < k; j++) {
            double f[2];
            for (int side = 0; side < 2; side++) {
                memcpy(pert, base, (size_t)k * sizeof *pert);
                pert[j] = (float)(base[j] + (side ? -eps : eps));
                ag_scope_begin();
                ag_no_grad_begin();
                for (int a = 0; a < n; a++) args[a] = inputs[a];
                ag_tensor *px = agt_tensor(dev, ag_ndim(x), ag_shape(x), pert);
                if (!ag_is_contiguous(x) && ag_ndim(x) >= 2) px = agt_noncontiguous(px);
                args[i] = px;
                ag_tensor *o = fn(args, ctx);
                ck_assert_msg(o != NULL, "%s: perturbed forward failed: %s", what, ag_last_error());
                f[side] = weighted_sum(o, r);
                ag_no_grad_end();
                ag_scope_end();
            }
            double numeric = (f[0] - f[1]) / (2 * eps);
            double tol = atol + rtol * fabs(numeric);
            ck_assert_msg(fabs(analytic[j] - numeric) <= tol,
                          "%s: d/d input%d[%lld]: analytic %.6g, numeric %.6g", what, i,
                          (long long)j, analytic[j], numeric);
        }
        free(pert);
        free(base);
        free(analytic);
    }
    for (int i = 0; i < n; i++) ag_zero_grad(inputs[i]);
    free(r);
    free(rf);
    ag_scope_end();
}

/* ---- Golden data ----------------------------------------------------------------- */

typedef struct golden_entry {
    char name[96], label[64];
    ag_dtype dtype;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    int64_t n;
    double *values;
} golden_entry;

struct agt_golden {
    golden_entry *items;
    size_t count, cap;
};

static ag_dtype parse_dtype(const char *s)
{
    if (strcmp(s, "f32") == 0) return AG_F32;
    if (strcmp(s, "i32") == 0) return AG_I32;
    if (strcmp(s, "u8") == 0) return AG_U8;
    return AG_DTYPE_COUNT;
}

const char *agt_golden_path(const char *file)
{
    static _Thread_local char path[1024];
    const char *dir = getenv("AG_GOLDEN_DIR");
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : AG_GOLDEN_DIR, file);
    return path;
}

agt_golden *agt_golden_load(const char *file)
{
    const char *path = agt_golden_path(file);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "golden file %s is missing", path);
    agt_golden *g = calloc(1, sizeof *g);
    char current[96] = "";
    size_t cap = 1 << 16;
    char *line = malloc(cap);
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (strncmp(line, "case ", 5) == 0) {
            sscanf(line + 5, "%95s", current);
            continue;
        }
        golden_entry e = {0};
        char dt[8];
        int used = 0;
        ck_assert_msg(sscanf(line, "%63s %7s %d%n", e.label, dt, &e.ndim, &used) == 3,
                      "%s: malformed line in case %s", path, current);
        e.dtype = parse_dtype(dt);
        ck_assert_msg(e.dtype != AG_DTYPE_COUNT && e.ndim >= 0 && e.ndim <= AG_MAX_DIMS,
                      "%s: bad dtype/ndim in case %s", path, current);
        char *p = line + used;
        e.n = 1;
        for (int d = 0; d < e.ndim; d++) {
            e.shape[d] = strtoll(p, &p, 10);
            e.n *= e.shape[d];
        }
        p = strchr(p, ':');
        ck_assert_msg(p != NULL, "%s: missing ':' in case %s", path, current);
        p++;
        e.values = malloc((size_t)(e.n ? e.n : 1) * sizeof *e.values);
        for (int64_t i = 0; i < e.n; i++) {
            char *end;
            e.values[i] = strtod(p, &end);
            ck_assert_msg(end != p, "%s: case %s label %s has too few values", path, current, e.label);
            p = end;
        }
        snprintf(e.name, sizeof e.name, "%s", current);
        if (g->count == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 64;
            g->items = realloc(g->items, g->cap * sizeof *g->items);
        }
        g->items[g->count++] = e;
    }
    free(line);
    fclose(f);
    return g;
}

void agt_golden_free(agt_golden *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->count; i++) free(g->items[i].values);
    free(g->items);
    free(g);
}

static golden_entry *golden_find(agt_golden *g, const char *name, const char *label)
{
    for (size_t i = 0; i < g->count; i++)
        if (strcmp(g->items[i].name, name) == 0 && strcmp(g->items[i].label, label) == 0)
            return &g->items[i];
    return NULL;
}

int agt_golden_has(agt_golden *g, const char *name, const char *label)
{
    return golden_find(g, name, label) != NULL;
}

ag_tensor *agt_golden_tensor(agt_golden *g, ag_device *dev, const char *name, const char *label)
{
    golden_entry *e = golden_find(g, name, label);
    ck_assert_msg(e != NULL, "golden case %s has no entry %s", name, label);
    size_t es = ag_dtype_size(e->dtype);
    void *h = malloc((size_t)(e->n ? e->n : 1) * es);
    for (int64_t i = 0; i < e->n; i++) {
        if (e->dtype == AG_F32) ((float *)h)[i] = (float)e->values[i];
        else if (e->dtype == AG_I32) ((int32_t *)h)[i] = (int32_t)e->values[i];
        else ((uint8_t *)h)[i] = (uint8_t)e->values[i];
    }
    ag_tensor *t = ag_from_data(dev, e->dtype, e->ndim, e->shape, h, (size_t)e->n * es);
    free(h);
    ck_assert_msg(t != NULL, "golden %s/%s upload failed: %s", name, label, ag_last_error());
    return t;
}

ag_tensor *agt_golden_input(agt_golden *g, ag_device *dev, const char *name, const char *label,
                            bool requires_grad)
{
    ag_tensor *t = agt_golden_tensor(g, dev, name, label);
    if (requires_grad)
        ck_assert_msg(ag_set_requires_grad(t, true) == AG_OK, "%s/%s: %s", name, label, ag_last_error());
    return t;
}

void agt_assert_grad_golden(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *name,
                            const char *label, double atol, double rtol, const char *what)
{
    ck_assert_msg(ag_grad(x) != NULL, "%s: %s/%s: no gradient", what, name, label);
    agt_assert_tensors_close(ag_grad(x), agt_golden_tensor(g, dev, name, label), atol, rtol, what);
}

/* ---- Temporary files ------------------------------------------------------------- */

static char tmpdir[256];

void agt_tmpdir_create(const char *tag)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ag_test_%.32s_XXXXXX", tag);
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "cannot create %s", tmpdir);
}

void agt_tmpdir_remove(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_msg(system(cmd) == 0, "cannot remove %s", tmpdir);
}

const char *agt_tmp_path(const char *name)
{
    static char buf[64][320];
    static int k;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

int agt_tmpdir_count(const char *needle)
{
    DIR *d = opendir(tmpdir);
    ck_assert_msg(d != NULL, "cannot list %s", tmpdir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, needle) != NULL;
    closedir(d);
    return n;
}
