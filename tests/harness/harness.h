/*
 * tests/harness/harness.h — what every Check suite shares.
 *
 * Backends under test come from AG_TEST_BACKENDS, a comma list of device
 * specs ("cpu,vulkan,opencl"). When it is set, a spec that cannot be opened
 * FAILS the test. When unset: "cpu" plus each GPU backend that has a device.
 *
 * A typical op test:
 *
 *   START_TEST(test_relu) {
 *       ag_device *dev = agt_open(_i);          // _i: the loop index = backend
 *       ag_scope_begin();
 *       ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){-1, 0, 2, -3});
 *       agt_assert_close(ag_relu(x), (float[]){0, 0, 2, 0}, 4, 0, 0, "relu");
 *       ag_scope_end();
 *       agt_close(dev);
 *   } END_TEST
 *   ...
 *   AGT_ADD_LOOP(tc, test_relu);
 *
 * Golden files (the .txt files in tests/golden, written by its gen_ scripts from
 * PyTorch) are plain text:
 *   case <name>
 *   <label> <f32|i32|u8> <ndim> <d0> ... <dn-1> : v0 v1 ...
 */
#ifndef AG_TEST_HARNESS_H
#define AG_TEST_HARNESS_H

#include <check.h>
#include <stdint.h>

#include "anygrad.h"

/* ---- Backends -------------------------------------------------------------- */

int agt_backend_count(void);
const char *agt_backend_spec(int i);
/* Opens backend i; fails the running test when it cannot be opened. */
ag_device *agt_open(int i);
/* Closes the device after checking that no tensor or buffer leaked since
 * agt_open (fails the test otherwise). */
void agt_close(ag_device *dev);
/* Adds `fn` as a loop test running once per backend. */
#define AGT_ADD_LOOP(tc, fn) tcase_add_loop_test((tc), (fn), 0, agt_backend_count())
/* Runs a suite (no fork), returns the process exit code. */
int agt_run_suite(Suite *s);

/* ---- Tensors from and to the host ------------------------------------------ */

ag_tensor *agt_tensor(ag_device *dev, int ndim, const int64_t *shape, const float *data);
ag_tensor *agt_tensor_i32(ag_device *dev, int ndim, const int64_t *shape, const int32_t *data);
/* Deterministic pseudo-random normal data from a host generator keyed by `seed`
 * (independent of the library's RNG), scaled by `scale`. */
ag_tensor *agt_randn(ag_device *dev, int ndim, const int64_t *shape, uint64_t seed, double scale);
/* A non-contiguous tensor with the same values as `t` (a transposed copy
 * transposed back), for testing strided inputs. Requires ndim >= 2. */
ag_tensor *agt_noncontiguous(ag_tensor *t);
/* Host copies (malloc'd; caller frees). Fail the test on error. */
float *agt_read_f32(const ag_tensor *t);
int32_t *agt_read_i32(const ag_tensor *t);
uint8_t *agt_read_u8(const ag_tensor *t);

/* ---- Assertions ------------------------------------------------------------- */

/* |got - want| <= atol + rtol * |want| elementwise (any dtype of t, compared as
 * float); NaN only matches NaN. Fails the test naming `what` and the index. */
void agt_assert_close(const ag_tensor *t, const float *want, int64_t n, double atol, double rtol,
                      const char *what);
void agt_assert_tensors_close(const ag_tensor *got, const ag_tensor *want, double atol,
                              double rtol, const char *what);
/* Asserts t is non-NULL with the given shape. */
void agt_assert_shape(const ag_tensor *t, int ndim, const int64_t *shape, const char *what);
/* Asserts `t` is NULL and ag_last_error() contains every non-NULL needle. */
void agt_assert_error(const void *t, const char *needle1, const char *needle2, const char *what);

/* ---- Gradient checking ------------------------------------------------------ */

/* The function under test: builds an output from the inputs (which may be
 * copies with perturbed values). Must not keep references. */
typedef ag_tensor *(*agt_fn)(ag_tensor *const *inputs, void *ctx);

/* Compares the analytic gradient (ag_backward of sum(out * r) for a fixed
 * random r) of every f32 input that requires grad against central finite
 * differences (computed in double on host sums of device results).
 * eps ~1e-2..1e-3 for f32; atol/rtol ~1e-2. */
void agt_gradcheck(agt_fn fn, int n, ag_tensor *const *inputs, void *ctx, double eps, double atol,
                   double rtol, const char *what);

/* ---- Temporary files ------------------------------------------------------- */

/* Creates a fresh directory /tmp/ag_test_<tag>_XXXXXX for the running test. */
void agt_tmpdir_create(const char *tag);
/* Removes it with everything inside. */
void agt_tmpdir_remove(void);
/* "<dir>/<name>" in a rotating static buffer (valid for the next 63 calls). */
const char *agt_tmp_path(const char *name);
/* Number of entries in the directory whose name contains `needle`. */
int agt_tmpdir_count(const char *needle);

/* ---- Golden data from PyTorch ------------------------------------------------ */

typedef struct agt_golden agt_golden;
/* Path of a golden data file: $AG_GOLDEN_DIR/<file> when that variable is
 * set (a relocated test bundle), else tests/golden/<file> of the source tree.
 * Thread-local buffer, valid until the next call. */
const char *agt_golden_path(const char *file);
/* Loads the golden file (agt_golden_path); fails the test when missing or malformed. */
agt_golden *agt_golden_load(const char *file);
void agt_golden_free(agt_golden *g);
/* A tensor of case `name`, entry `label`, uploaded to dev (f32/i32/u8 as
 * stored). Fails the test when absent. */
ag_tensor *agt_golden_tensor(agt_golden *g, ag_device *dev, const char *name, const char *label);
/* agt_golden_tensor, marked as a leaf requiring grad when `requires_grad`. */
ag_tensor *agt_golden_input(agt_golden *g, ag_device *dev, const char *name, const char *label,
                            bool requires_grad);
/* Asserts that x has a gradient equal to entry `label` of case `name`. */
void agt_assert_grad_golden(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *name,
                            const char *label, double atol, double rtol, const char *what);
/* True when the case/label exists. */
int agt_golden_has(agt_golden *g, const char *name, const char *label);

#endif /* AG_TEST_HARNESS_H */
