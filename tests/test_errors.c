/* tests/test_errors.c — error paths across the API, on every backend under
 * test: each failing call returns NULL (or a negative status) and
 * ag_last_error() names the op and the shapes involved. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Asserts a negative status and a message containing both needles. */
static void assert_status(ag_status st, const char *n1, const char *n2, const char *what)
{
    ck_assert_msg(st < 0, "%s: expected a failure, got %s", what, ag_status_name(st));
    ck_assert_msg(ag_last_status() == st, "%s: ag_last_status %s differs from %s", what,
                  ag_status_name(ag_last_status()), ag_status_name(st));
    const char *msg = ag_last_error();
    ck_assert_msg(!n1 || strstr(msg, n1), "%s: error \"%s\" lacks \"%s\"", what, msg, n1);
    ck_assert_msg(!n2 || strstr(msg, n2), "%s: error \"%s\" lacks \"%s\"", what, msg, n2);
}

START_TEST(test_shape_mismatch)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *a = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(4), 2, 1.0);
    ag_tensor *m = agt_randn(dev, AG_SHAPE(4, 5), 3, 1.0);
    agt_assert_error(ag_add(a, b), "ag_add", "[2,3]", "add broadcast");
    agt_assert_error(ag_mul(a, b), "ag_mul", "[4]", "mul broadcast");
    agt_assert_error(ag_where(ag_gt_scalar(a, 0), a, b), "ag_where", "[4]", "where broadcast");
    agt_assert_error(ag_matmul(a, m), "ag_matmul", "[2,3]", "matmul inner dims");
    agt_assert_error(ag_matmul(a, m), "ag_matmul", "[4,5]", "matmul inner dims (rhs)");
    agt_assert_error(ag_linear(a, m, NULL), "ag_linear", "[4,5]", "linear weight");
    agt_assert_error(ag_reshape(a, AG_SHAPE(4, 2)), "ag_reshape", "[2,3]", "reshape numel");
    agt_assert_error(ag_view(a, AG_SHAPE(5)), "ag_view", "[2,3]", "view numel");
    agt_assert_error(ag_expand(a, AG_SHAPE(4, 3)), "ag_expand", "[2,3]", "expand");
    agt_assert_error(ag_cat(2, (ag_tensor *[]){a, m}, 0), "ag_cat", "[4,5]", "cat");
    agt_assert_error(ag_mse_loss(a, b, AG_REDUCTION_MEAN), "ag_mse_loss", "[2,3]", "mse");
    assert_status(ag_copy_(a, m), "ag_copy_", "[4,5]", "copy_ shapes");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_wrong_dtype)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(3, 4), 1, 1.0);
    ag_tensor *fi = agt_tensor(dev, AG_SHAPE(3, 4), (float[12]){0});
    ag_tensor *fi1 = agt_tensor(dev, AG_SHAPE(2), (float[]){0, 1});
    ag_tensor *ii = agt_tensor_i32(dev, AG_SHAPE(3, 4), (int32_t[12]){0});
    agt_assert_error(ag_gather(x, 1, fi), "ag_gather", "f32", "gather f32 index");
    agt_assert_error(ag_index_select(x, 0, fi1), "ag_index_select", "[2]", "index_select f32");
    agt_assert_error(ag_embedding(fi1, x), "ag_embedding", "f32", "embedding f32 index");
    agt_assert_error(ag_where(x, x, x), "ag_where", "[3,4]", "where f32 condition");
    agt_assert_error(ag_cross_entropy(x, fi1, NULL), "ag_cross_entropy", "f32",
                     "cross_entropy f32 target");
    agt_assert_error(ag_one_hot(fi1, 3), "ag_one_hot", "f32", "one_hot f32 labels");
    assert_status(ag_set_requires_grad(ii, true), "ag_set_requires_grad", "i32",
                  "requires_grad on i32");
    agt_assert_error(ag_empty(dev, (ag_dtype)7, AG_SHAPE(2)), "ag_empty", "dtype",
                     "invalid dtype");
    agt_assert_error(ag_from_data(dev, (ag_dtype)7, AG_SHAPE(2), (float[]){1, 2}, 8), "ag_from_data",
                     "invalid dtype 7", "from_data invalid dtype");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_different_devices)
{
    ag_device *dev = agt_open(_i);
    /* a second device: another handle on the CPU (a different device even
     * when the backend under test is the CPU itself) */
    ag_device *other = ag_device_open("cpu");
    ck_assert_ptr_nonnull(other);
    ck_assert_ptr_ne(other, dev);
    ag_scope_begin();
    ag_tensor *a = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    ag_tensor *b = agt_randn(other, AG_SHAPE(2, 3), 2, 1.0);
    ag_tensor *w = agt_randn(other, AG_SHAPE(4, 3), 3, 1.0);
    ag_tensor *t = agt_tensor_i32(other, AG_SHAPE(2), (int32_t[]){0, 1});
    agt_assert_error(ag_add(a, b), "ag_add", "different devices", "add");
    agt_assert_error(ag_add(a, b), "[2,3]", NULL, "add shapes");
    agt_assert_error(ag_matmul(a, ag_t(w)), "ag_matmul", "different devices", "matmul");
    agt_assert_error(ag_linear(a, w, NULL), "ag_linear", "different devices", "linear");
    agt_assert_error(ag_where(ag_gt_scalar(a, 0), a, b), "ag_where", "different devices",
                     "where");
    agt_assert_error(ag_cross_entropy(a, t, NULL), "ag_cross_entropy", "different devices",
                     "cross_entropy");
    agt_assert_error(ag_cat(2, (ag_tensor *[]){a, b}, 0), "ag_cat", "different devices", "cat");
    assert_status(ag_copy_(a, b), "ag_copy_", "different devices", "copy_");
    /* moving explicitly works */
    ag_tensor *moved = ag_to_device(b, dev);
    ck_assert_ptr_nonnull(moved);
    agt_assert_tensors_close(ag_add(a, moved), ag_add(ag_to_device(a, other), b), 1e-6, 1e-6,
                             "add after to_device");
    ag_scope_end();
    ag_device_close(other);
    agt_close(dev);
}
END_TEST

START_TEST(test_null_inputs)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    ag_tensor *y = agt_randn(dev, AG_SHAPE(4), 2, 1.0);
    ag_clear_error();
    agt_assert_error(ag_relu(NULL), "ag_relu", "NULL", "relu NULL");
    ag_clear_error();
    agt_assert_error(ag_add(NULL, x), "ag_add", "NULL", "add NULL");
    ag_clear_error();
    agt_assert_error(ag_matmul(x, NULL), "ag_matmul", "NULL", "matmul NULL");
    ag_clear_error();
    agt_assert_error(ag_sum(NULL, 0, NULL, false), "ag_sum", "NULL", "sum NULL");
    ag_clear_error();
    agt_assert_error(ag_reshape(NULL, AG_SHAPE(2)), "ag_reshape", "NULL", "reshape NULL");
    /* chains keep the first failure's message */
    ag_clear_error();
    agt_assert_error(ag_relu(ag_add(NULL, x)), "ag_add", "NULL", "chain keeps NULL origin");
    ck_assert_ptr_null(strstr(ag_last_error(), "ag_relu"));
    ag_clear_error();
    agt_assert_error(ag_sum(ag_relu(ag_add(x, y)), 0, NULL, false), "ag_add", "[2,3]",
                     "chain keeps shape error");
    ck_assert_ptr_null(strstr(ag_last_error(), "ag_relu"));
    ag_clear_error();
    agt_assert_error(ag_cross_entropy(ag_linear(NULL, x, NULL), NULL, NULL), "ag_linear", "NULL",
                     "loss chain");
    /* status functions and releases accept NULL */
    ag_clear_error();
    assert_status(ag_backward(NULL, NULL), "ag_backward", "NULL", "backward NULL");
    ag_clear_error();
    assert_status(ag_copy_(NULL, x), "ag_copy_", "NULL", "copy_ NULL");
    ag_clear_error();
    ck_assert(isnan(ag_item(NULL)));
    ag_release(NULL);
    ag_zero_grad(NULL);
    ck_assert_int_eq(ag_ndim(NULL), -1);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_bad_shapes)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    /* negative dims */
    agt_assert_error(ag_empty(dev, AG_F32, AG_SHAPE(2, -3)), "ag_empty", "[2,-3]",
                     "negative dim");
    agt_assert_error(ag_full(dev, AG_F32, AG_SHAPE(-1), 1.0), "ag_full", "[-1]", "negative dim");
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    agt_assert_error(ag_reshape(x, AG_SHAPE(-1, -1)), "ag_reshape", "[2,3]", "two -1 dims");
    agt_assert_error(ag_reshape(x, AG_SHAPE(-2, 3)), "ag_reshape", "[2,3]", "reshape -2");
    /* huge dims: more than 2^40 elements */
    agt_assert_error(ag_full(dev, AG_F32, AG_SHAPE(INT64_C(1) << 21, INT64_C(1) << 20), 2.0),
                     "ag_full", "[2097152,1048576]", "huge shape");
    agt_assert_error(ag_empty(dev, AG_F32, AG_SHAPE(INT64_C(1) << 40, 2)), "ag_empty",
                     "[1099511627776,2]", "huge shape");
    /* too many dims */
    agt_assert_error(ag_empty(dev, AG_F32, AG_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1)), "ag_empty", "9",
                     "9 dims");
    ag_tensor *x8 = ag_zeros(dev, AG_F32, AG_SHAPE(1, 1, 1, 1, 1, 1, 1, 2));
    ck_assert_ptr_nonnull(x8);
    agt_assert_error(ag_unsqueeze(x8, 0), "ag_unsqueeze", "[1,1,1,1,1,1,1,2]", "unsqueeze past 8");
    agt_assert_error(ag_reshape(x, AG_SHAPE(1, 1, 1, 1, 1, 1, 1, 2, 3)), "ag_reshape", "9",
                     "reshape to 9 dims");
    /* ag_from_data with the wrong byte count */
    float data[5] = {1, 2, 3, 4, 5};
    agt_assert_error(ag_from_data(dev, AG_F32, AG_SHAPE(2, 3), data, sizeof data),
                     "ag_from_data", "[2,3]", "from_data size");
    agt_assert_error(ag_from_data(dev, AG_F32, AG_SHAPE(2, 3), NULL, 24), "ag_from_data", NULL,
                     "from_data NULL data");
    /* host buffer too small for a read */
    float small[2];
    assert_status(ag_tensor_read(x, small, sizeof small), "ag_tensor_read", "[2,3]",
                  "read too small");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_out_of_range)
{
    ag_device *dev = agt_open(_i);
    bool cpu = ag_device_get_info(dev)->backend == AG_BACKEND_CPU;
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    /* dims */
    agt_assert_error(ag_sum(x, AG_DIMS(2), false), "ag_sum", "[2,3]", "sum dim 2");
    agt_assert_error(ag_mean(x, AG_DIMS(-3), false), "ag_mean", "[2,3]", "mean dim -3");
    agt_assert_error(ag_softmax(x, 5), "ag_softmax", "[2,3]", "softmax dim");
    agt_assert_error(ag_log_softmax(x, -3), "ag_log_softmax", "[2,3]", "log_softmax dim");
    agt_assert_error(ag_argmax(x, 2, false), "ag_argmax", "[2,3]", "argmax dim");
    agt_assert_error(ag_transpose(x, 0, 3), "ag_transpose", "[2,3]", "transpose dim");
    agt_assert_error(ag_permute(x, AG_DIMS(0, 0)), "ag_permute", "[2,3]", "permute repeat");
    agt_assert_error(ag_squeeze(x, 4), "ag_squeeze", "[2,3]", "squeeze dim");
    agt_assert_error(ag_flatten(x, 1, 0), "ag_flatten", "[2,3]", "flatten order");
    agt_assert_error(ag_cat(1, (ag_tensor *[]){x}, 2), "ag_cat", "[2,3]", "cat dim");
    ck_assert_int_lt(ag_size(x, 2), 0);
    /* indices */
    agt_assert_error(ag_select(x, 0, 2), "ag_select", "[2,3]", "select index");
    agt_assert_error(ag_select(x, 1, -4), "ag_select", "[2,3]", "select negative index");
    agt_assert_error(ag_narrow(x, 1, 2, 2), "ag_narrow", "[2,3]", "narrow past end");
    if (cpu) {
        /* index tensors on the CPU are range-checked (the message names the index) */
        ag_tensor *bad = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){0, 7});
        agt_assert_error(ag_index_select(x, 1, bad), "ag_index_select", "7", "index_select range");
        ag_tensor *bad2 = agt_tensor_i32(dev, AG_SHAPE(2, 1), (int32_t[]){0, 3});
        agt_assert_error(ag_gather(x, 1, bad2), "ag_gather", "3", "gather range");
        agt_assert_error(ag_embedding(bad, x), "ag_embedding", "7", "embedding range");
        agt_assert_error(ag_one_hot(bad, 3), "ag_one_hot", "7", "one_hot range");
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Out-of-range index errors also name the shapes involved (CPU-resident
 * index tensors are the ones checked eagerly). */
START_TEST(test_index_range_shapes)
{
    ag_device *dev = agt_open(_i);
    bool cpu = ag_device_get_info(dev)->backend == AG_BACKEND_CPU;
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    if (cpu) {
        ag_tensor *bad = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){0, 7});
        agt_assert_error(ag_index_select(x, 1, bad), "ag_index_select", "[2,3]",
                         "index_select range names x's shape");
        ag_tensor *bad2 = agt_tensor_i32(dev, AG_SHAPE(2, 1), (int32_t[]){0, 3});
        agt_assert_error(ag_gather(x, 1, bad2), "ag_gather", "[2,3]",
                         "gather range names x's shape");
        agt_assert_error(ag_embedding(bad, x), "ag_embedding", "[2,3]",
                         "embedding range names the weight's shape");
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Creation helpers name themselves in errors, not the helper they call. */
START_TEST(test_creation_error_names)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    agt_assert_error(ag_zeros(dev, AG_F32, AG_SHAPE(2, -3)), "ag_zeros", "[2,-3]",
                     "zeros negative dim");
    agt_assert_error(ag_ones(dev, AG_F32, AG_SHAPE(INT64_C(1) << 21, INT64_C(1) << 20)),
                     "ag_ones", "[2097152,1048576]", "ones huge shape");
    agt_assert_error(ag_zeros(dev, AG_F32, AG_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1)), "ag_zeros", "9",
                     "zeros 9 dims");
    agt_assert_error(ag_eye(dev, AG_F32, -2, 3), "ag_eye: ", "[-2,3]", "eye negative dim");
    ck_assert_msg(!strstr(ag_last_error(), "ag_zeros"), "%s", ag_last_error());
    /* Tensor lists: the NULL entry is named by its index; a NULL array is
     * not reported as a count problem. */
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(2));
    ag_clear_error(); /* a NULL input keeps an earlier failure's message */
    agt_assert_error(ag_cat(3, (ag_tensor *[]){x, x, NULL}, 0), "ag_cat: tensors[2] is NULL", NULL,
                     "cat NULL entry");
    ag_clear_error();
    agt_assert_error(ag_stack(2, (ag_tensor *[]){x, NULL}, 0), "ag_stack: tensors[1] is NULL", NULL,
                     "stack NULL entry");
    agt_assert_error(ag_cat(2, NULL, 0), "ag_cat: the tensor array is NULL (n = 2)", NULL,
                     "cat NULL array");
    agt_assert_error(ag_stack(2, NULL, 0), "ag_stack: the tensor array is NULL", NULL,
                     "stack NULL array");
    agt_assert_error(ag_cat(0, (ag_tensor *[]){x}, 0), "ag_cat: needs at least one tensor, got 0",
                     NULL, "cat none");
    /* A zero dim does not exempt the others from the size limit (their
     * product is what the contiguous strides multiply up to). */
    agt_assert_error(ag_zeros(dev, AG_F32, AG_SHAPE(0, INT64_C(1) << 32, INT64_C(1) << 32)),
                     "ag_zeros", "[0,4294967296,4294967296]", "zeros zero dim beside huge dims");
    agt_assert_error(ag_empty(dev, AG_F32, AG_SHAPE(INT64_C(1) << 32, INT64_C(1) << 32, 0)),
                     "ag_empty", "too many elements", "empty huge dims before a zero dim");
    ag_tensor *fine = ag_zeros(dev, AG_F32, AG_SHAPE(0, INT64_C(1) << 20, INT64_C(1) << 20));
    ck_assert_msg(fine != NULL, "zeros [0,2^20,2^20]: %s", ag_last_error());
    ck_assert_int_eq(ag_numel(fine), 0);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Misusing handles is a clear error, never memory corruption: releasing a
 * tensor twice, using one after its scope ended, closing a device twice. */
START_TEST(test_handle_misuse)
{
    ag_device *dev = agt_open(_i);
    const char *dead = "not a live tensor";
    ag_tensor *t = ag_zeros(dev, AG_F32, AG_SHAPE(2, 2)); /* owned by the caller */
    ag_release(t);
    ag_clear_error();
    ag_release(t); /* double release */
    ck_assert_msg(strstr(ag_last_error(), "ag_release") && strstr(ag_last_error(), dead), "%s",
                  ag_last_error());
    ag_clear_error();
    ck_assert(ag_retain(t) == NULL);
    ck_assert_msg(strstr(ag_last_error(), "ag_retain"), "%s", ag_last_error());
    /* A tensor used after the scope that owned it ended. */
    ag_scope_begin();
    ag_tensor *s = ag_ones(dev, AG_F32, AG_SHAPE(3));
    ag_scope_end();
    ag_clear_error();
    agt_assert_error(ag_relu(s), "ag_relu", dead, "relu of a freed tensor");
    ag_clear_error();
    agt_assert_error(ag_add(s, s), "ag_add", dead, "add of a freed tensor");
    ag_clear_error();
    float v[3];
    ck_assert_int_eq(ag_tensor_read(s, v, sizeof v), AG_ERR_INVALID);
    ck_assert_msg(strstr(ag_last_error(), dead), "%s", ag_last_error());
    /* Over-releasing a tensor a scope owns: the scope's own release reports it. */
    ag_scope_begin();
    ag_tensor *o = ag_ones(dev, AG_F32, AG_SHAPE(3));
    ag_release(o);
    ag_clear_error();
    ag_scope_end();
    ck_assert_msg(strstr(ag_last_error(), dead), "%s", ag_last_error());
    /* A second device: closed twice, then used. */
    ag_device *d2 = ag_device_open(agt_backend_spec(_i));
    ck_assert(d2 != NULL);
    ag_tensor *keep = ag_zeros(d2, AG_F32, AG_SHAPE(2)); /* keeps d2 alive after close */
    ag_device_close(d2);
    ag_clear_error();
    ag_device_close(d2);
    ck_assert_msg(strstr(ag_last_error(), "ag_device_close") &&
                      strstr(ag_last_error(), "already closed"), "%s", ag_last_error());
    ag_scope_begin();
    agt_assert_close(ag_add_scalar(keep, 1.0), (float[]){1, 1}, 2, 0, 0, "tensor outlives its handle");
    ag_scope_end();
    ag_release(keep); /* destroys d2 */
    ag_clear_error();
    agt_assert_error(ag_zeros(d2, AG_F32, AG_SHAPE(2)), "ag_zeros", "closed and destroyed",
                     "zeros on a destroyed device");
    ck_assert_int_eq(ag_device_sync(d2), AG_ERR_INVALID);
    ag_clear_error();
    ag_device_close(d2);
    ck_assert_msg(strstr(ag_last_error(), "already closed"), "%s", ag_last_error());
    agt_close(dev);
}
END_TEST

START_TEST(test_backward_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ag_tensor *y = ag_mul_scalar(x, 2.0);
    assert_status(ag_backward(y, NULL), "ag_backward", "[2,3]", "non-scalar root");
    ag_tensor *g = agt_randn(dev, AG_SHAPE(3, 2), 2, 1.0);
    assert_status(ag_backward(y, g), "ag_backward", "[3,2]", "grad_output shape");
    ag_tensor *plain = agt_randn(dev, AG_SHAPE(2), 3, 1.0);
    assert_status(ag_backward(ag_sum(plain, 0, NULL, false), NULL), "ag_backward", "grad",
                  "root without graph");
    assert_status(ag_set_requires_grad(y, false), "ag_set_requires_grad", "leaf",
                  "requires_grad on non-leaf");
    /* the graph still works after the failures */
    ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){2, 2, 2, 2, 2, 2}, 6, 0, 0, "grad after errors");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_device_errors)
{
    ag_device *dev = agt_open(_i);
    ag_clear_error();
    ck_assert_ptr_null(ag_device_open("no-such-backend"));
    ck_assert(ag_last_status() < 0);
    ck_assert_msg(strstr(ag_last_error(), "no-such-backend"), "message: %s", ag_last_error());
    ck_assert_ptr_null(ag_device_open("cpu:7"));
    ck_assert(ag_last_status() < 0);
    ck_assert_msg(ag_last_error()[0] != '\0', "empty message");
    ag_device_close(NULL);
    /* a NULL list with room for entries, a negative room */
    assert_status(ag_device_list(NULL, 5), "ag_device_list", "out is NULL", "list into NULL");
    ag_device_info one;
    assert_status(ag_device_list(&one, -1), "ag_device_list", "negative", "list max -1");
    char spec[32];
    assert_status(ag_device_resolve("no-such-backend", spec, sizeof spec), "ag_device_resolve: ",
                  "no-such-backend", "resolve names itself");
    agt_close(dev);
}
END_TEST

/* ag_arange sizes a host buffer by the dtype and casts the element count:
 * both are checked first, and its errors are its own. Slicing with a step
 * near INT64_MAX computes the length without overflow. */
START_TEST(test_range_edges)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    agt_assert_error(ag_arange(dev, (ag_dtype)9, 0, 10, 1), "ag_arange", "invalid dtype 9",
                     "arange invalid dtype");
    agt_assert_error(ag_arange(dev, AG_F32, 0, 1e30, 1), "ag_arange", "too large",
                     "arange 1e30 elements");
    agt_assert_error(ag_arange(NULL, AG_F32, 0, 4, 1), "ag_arange", "device is NULL",
                     "arange NULL device");
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *first = ag_slice(x, 1, 0, 3, INT64_MAX);
    agt_assert_shape(first, AG_SHAPE(2, 1), "slice step INT64_MAX");
    agt_assert_close(first, (float[]){1, 4}, 2, 0, 0, "slice step INT64_MAX values");
    agt_assert_shape(ag_slice(x, 1, INT64_MIN, INT64_MAX, INT64_MAX - 1), AG_SHAPE(2, 1),
                     "slice of the whole range, huge step");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* A released tensor passed where an optional operand, a gradient or a list
 * entry goes is reported like a released input, never dereferenced. */
START_TEST(test_released_operands)
{
    ag_device *dev = agt_open(_i);
    const char *dead = "not a live tensor";
    ag_scope_begin();
    ag_tensor *d = ag_ones(dev, AG_F32, AG_SHAPE(3));
    ag_scope_end(); /* d is released */
    ag_scope_begin();
    ag_tensor *m = agt_randn(dev, AG_SHAPE(3, 3), 1, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(3), 2, 1.0);
    ck_assert_int_eq(ag_set_requires_grad(w, true), AG_OK);
    agt_assert_error(ag_linear(m, m, d), "ag_linear", dead, "linear bias");
    agt_assert_error(ag_conv2d(agt_randn(dev, AG_SHAPE(1, 1, 3, 3), 3, 1.0),
                               agt_randn(dev, AG_SHAPE(3, 1, 1, 1), 4, 1.0), d, NULL),
                     "ag_conv2d", dead, "conv2d bias");
    agt_assert_error(ag_layer_norm(m, 1, (int64_t[]){3}, d, NULL, 1e-5), "ag_layer_norm", dead,
                     "layer_norm weight");
    agt_assert_error(ag_rms_norm(m, 1, (int64_t[]){3}, d, 1e-5), "ag_rms_norm", dead,
                     "rms_norm weight");
    agt_assert_error(ag_batch_norm(m, d, NULL, NULL, NULL, true, 0.1, 1e-5), "ag_batch_norm", dead,
                     "batch_norm running_mean");
    agt_assert_error(ag_binary_cross_entropy_with_logits(m, m, d, AG_REDUCTION_MEAN),
                     "ag_binary_cross_entropy_with_logits", dead, "bce pos_weight");
    ag_tensor *q = agt_randn(dev, AG_SHAPE(1, 3, 3), 5, 1.0);
    agt_assert_error(ag_scaled_dot_product_attention(q, q, q, d, false, 0),
                     "ag_scaled_dot_product_attention", dead, "sdpa mask");
    assert_status(ag_set_grad(w, d), "ag_set_grad", dead, "set_grad");
    ck_assert_ptr_null(ag_grad(w));
    assert_status(ag_backward(ag_mul_scalar(w, 2.0), d), "ag_backward", dead, "grad_output");
    agt_assert_error(ag_optim_sgd(&d, 1, &(ag_sgd_opts){.lr = 0.1}), "ag_optim_sgd", dead,
                     "optimizer parameter");
    ck_assert(ag_clip_grad_norm(&d, 1, 1.0) < 0);
    ck_assert_msg(strstr(ag_last_error(), "ag_clip_grad_norm") && strstr(ag_last_error(), dead),
                  "%s", ag_last_error());
    agt_assert_error(ag_clip_grad_norm_device(dev, &d, 1, 1.0), "ag_clip_grad_norm_device", dead,
                     "clip_grad_norm_device parameter");
    ag_optimizer *opt = ag_optim_adam(&w, 1, NULL);
    ck_assert_ptr_nonnull(opt);
    assert_status(ag_optimizer_state_set(opt, "state.0.exp_avg", d), "ag_optimizer_state_set", dead,
                  "optimizer state value");
    ag_optimizer_free(opt);
    ag_state_dict *sd = ag_state_dict_new();
    ck_assert_int_eq(ag_state_dict_add(sd, "w", w), AG_OK);
    assert_status(ag_state_dict_load_into(sd, 1, (const char *[]){"w"}, &d, false),
                  "ag_state_dict_load_into", dead, "load_into target");
    ag_state_dict_free(sd);
    /* getters answer as for NULL and say why */
    ag_clear_error();
    ck_assert_ptr_null(ag_tensor_device(d));
    ck_assert_msg(strstr(ag_last_error(), "ag_tensor_device") && strstr(ag_last_error(), dead), "%s",
                  ag_last_error());
    ck_assert_int_eq(ag_numel(d), -1);
    ck_assert_int_eq(ag_ndim(d), -1);
    ck_assert_ptr_null(ag_shape(d));
    ck_assert_int_eq(ag_tensor_dtype(d), AG_DTYPE_COUNT);
    ck_assert(!ag_is_contiguous(d));
    ck_assert_ptr_null(ag_grad(d));
    ag_clear_error();
    ag_zero_grad(d);
    ck_assert_msg(strstr(ag_last_error(), "ag_zero_grad"), "%s", ag_last_error());
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* nn constructors check what their forward would refuse (and name
 * themselves); containers refuse NULL and negative counts. */
START_TEST(test_module_configs)
{
    ag_device *dev = agt_open(_i);
    ag_clear_error();
    agt_assert_error(ag_nn_sequential(-1, NULL), "ag_nn_sequential", "-1", "negative count");
    agt_assert_error(ag_nn_sequential(2, NULL), "ag_nn_sequential", "NULL", "NULL array");
    ag_module *seq = ag_nn_sequential(0, NULL);
    ck_assert_ptr_nonnull(seq);
    ag_clear_error();
    assert_status(ag_nn_sequential_append(seq, NULL), "ag_nn_sequential_append", "NULL",
                  "append NULL");
    ag_module *lin = ag_nn_linear(dev, 3, 4, true);
    ck_assert_ptr_nonnull(lin);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 4, 3), 1, 1.0);
    agt_assert_error(ag_nn_multihead_attention_forward(lin, x, x, x, NULL, false),
                     "ag_nn_multihead_attention_forward", "Linear", "attention on a Linear");
    ag_scope_end();
    assert_status(ag_nn_sequential_append(lin, ag_nn_relu()), "ag_nn_sequential_append", "Linear",
                  "append to a Linear");
    ag_module_free(lin);
    ag_module_free(seq);
    agt_assert_error(ag_nn_linear(NULL, 3, 4, true), "ag_nn_linear", "device is NULL",
                     "linear NULL device");
    agt_assert_error(ag_nn_conv2d(dev, 3, 4, 3, 3, &(ag_conv2d_opts){.stride = {-1, 1}}, true),
                     "ag_nn_conv2d", "stride", "conv2d negative stride");
    agt_assert_error(ag_nn_conv2d(dev, 3, 4, 3, 3, &(ag_conv2d_opts){.padding = {-1, 0}}, true),
                     "ag_nn_conv2d", "padding", "conv2d negative padding");
    agt_assert_error(ag_nn_conv2d(dev, 3, 6, 3, 3, &(ag_conv2d_opts){.groups = -3}, true),
                     "ag_nn_conv2d", "groups", "conv2d negative groups");
    agt_assert_error(ag_nn_conv_transpose2d(dev, 3, 4, 3, 3,
                                            &(ag_conv2d_opts){.output_padding = {3, 0}}, true),
                     "ag_nn_conv_transpose2d", "output_padding", "output_padding >= stride");
    agt_assert_error(ag_nn_batch_norm1d(dev, 0, 1e-5, 0.1), "ag_nn_batch_norm1d", "0",
                     "batch_norm1d 0 features");
    agt_assert_error(ag_nn_batch_norm2d(dev, 3, -1.0, 0.1), "ag_nn_batch_norm2d", "eps",
                     "batch_norm2d negative eps");
    agt_assert_error(ag_nn_layer_norm(dev, 4, -1.0), "ag_nn_layer_norm", "eps",
                     "layer_norm negative eps");
    agt_assert_error(ag_nn_rms_norm(dev, 4, NAN), "ag_nn_rms_norm", "eps", "rms_norm NaN eps");
    agt_assert_error(ag_nn_max_pool2d(NULL), "ag_nn_max_pool2d", NULL, "max_pool NULL opts");
    agt_assert_error(ag_nn_avg_pool2d(&(ag_pool2d_opts){.kernel = {2, 2}, .padding = {2, 2}}),
                     "ag_nn_avg_pool2d", "padding", "avg_pool padding > k/2");
    agt_assert_error(ag_nn_softplus(0.0, 20.0), "ag_nn_softplus", "beta", "softplus beta 0");
    agt_assert_error(ag_nn_multihead_attention(dev, 8, 2, 1.5), "ag_nn_multihead_attention",
                     "dropout", "attention dropout 1.5");
    agt_assert_error(ag_nn_transformer_encoder_layer(dev, 8, 2, 0, 0.0),
                     "ag_nn_transformer_encoder_layer", "0", "encoder dim_feedforward 0");
    agt_close(dev);
}
END_TEST

/* A public function that fails because another one it called did says so:
 * the message starts with its own name. */
START_TEST(test_wrapped_errors)
{
    ag_device *dev = agt_open(_i);
    const char *missing = "no-such-dir/no-such-file";
    assert_status(ag_checkpoint_load(missing, dev, NULL, false, NULL, NULL), "ag_checkpoint_load: ",
                  missing, "checkpoint_load of a missing file");
    ag_scope_begin();
    agt_assert_error(ag_idx_load(missing, dev), "ag_idx_load: ", missing, "idx_load missing file");
    agt_assert_error(ag_dataset_mnist(missing, missing, NULL), "ag_dataset_mnist: ", missing,
                     "mnist missing file");
    ag_grad_scaler *sc = ag_grad_scaler_new(NULL);
    ck_assert_ptr_nonnull(sc);
    assert_status(ag_grad_scaler_step(sc, NULL, NULL), "ag_grad_scaler_step: ", "NULL",
                  "scaler step without an optimizer");
    ag_grad_scaler_free(sc);
    /* a parameter of the wrong size names the input too */
    agt_assert_error(ag_batch_norm(agt_randn(dev, AG_SHAPE(2, 4, 5, 5), 1, 1.0), NULL, NULL,
                                   ag_ones(dev, AG_F32, AG_SHAPE(3)), NULL, true, 0.1, 1e-5),
                     "ag_batch_norm", "[2,4,5,5]", "batch_norm weight size");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Copies and host writes into an expanded view would keep one of the values
 * written to each shared element: refused, and nothing is written. Filling
 * one is fine (every element gets the same value). */
START_TEST(test_expanded_destination)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(1, 3), (float[]){1, 2, 3});
    ag_tensor *ex = ag_expand(x, AG_SHAPE(2, 3));
    ck_assert_ptr_nonnull(ex);
    ag_tensor *src = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){4, 5, 6, 7, 8, 9});
    assert_status(ag_copy_(ex, src), "ag_copy_", "[2,3]", "copy_ into an expanded view");
    assert_status(ag_tensor_write(ex, (float[]){4, 5, 6, 7, 8, 9}, 6 * sizeof(float)),
                  "ag_tensor_write", "expanded", "write into an expanded view");
    agt_assert_close(x, (float[]){1, 2, 3}, 3, 0, 0, "nothing written");
    ck_assert_int_eq(ag_fill_(ex, 5.0), AG_OK);
    agt_assert_close(x, (float[]){5, 5, 5}, 3, 0, 0, "fill through an expanded view");
    /* other views stay writable */
    ag_tensor *m = ag_zeros(dev, AG_F32, AG_SHAPE(2, 3));
    ck_assert_int_eq(ag_copy_(ag_t(m), ag_t(src)), AG_OK);
    ck_assert_int_eq(ag_copy_(ag_select(m, 0, 1), ag_select(src, 0, 0)), AG_OK);
    agt_assert_close(m, (float[]){4, 5, 6, 4, 5, 6}, 6, 0, 0, "copies into views");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Shapes given to views are bounded like any tensor's (at most 2^40
 * elements): their products never overflow. */
START_TEST(test_huge_view_shapes)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    agt_assert_error(ag_reshape(x, AG_SHAPE(INT64_MAX, 2, 0)), "ag_reshape", "too many elements",
                     "reshape to a huge shape with a zero dim");
    agt_assert_error(ag_reshape(x, AG_SHAPE(-1, INT64_C(1) << 62, INT64_C(1) << 62)), "ag_reshape",
                     "too many elements", "reshape -1 beside huge dims");
    agt_assert_error(ag_expand(ag_ones(dev, AG_F32, AG_SHAPE(1, 1)),
                               AG_SHAPE(INT64_C(1) << 40, INT64_C(1) << 40)),
                     "ag_expand", "[1099511627776,1099511627776]", "expand past 2^40 elements");
    ag_tensor *pieces[2];
    ck_assert_int_eq(ag_split(x, INT64_MAX, 1, pieces, 2), 1);
    agt_assert_shape(pieces[0], AG_SHAPE(2, 3), "split by INT64_MAX");
    assert_status(ag_split(x, 1, 1, pieces, -1), "ag_split", "[2,3]", "split max_out -1");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* eps of every norm is finite and >= 0, like ag_layer_norm's: a negative
 * one gives NaN wherever the variance is small. */
START_TEST(test_norm_eps)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(4, 3), 1, 1.0);
    agt_assert_error(ag_rms_norm(x, 1, (int64_t[]){3}, NULL, -1e-5), "ag_rms_norm", "eps",
                     "rms_norm negative eps");
    agt_assert_error(ag_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, -1.0), "ag_batch_norm",
                     "[4,3]", "batch_norm negative eps");
    agt_assert_error(ag_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, NAN), "ag_batch_norm",
                     "eps", "batch_norm NaN eps");
    agt_assert_error(ag_layer_norm(x, 1, (int64_t[]){3}, NULL, NULL, INFINITY), "ag_layer_norm",
                     "eps", "layer_norm infinite eps");
    ck_assert_ptr_nonnull(ag_rms_norm(x, 1, (int64_t[]){3}, NULL, 0.0));
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static ag_status item_index(void *ctx, int64_t index, float *x, int32_t *y)
{
    (void)ctx;
    x[0] = (float)index;
    *y = (int32_t)index;
    return AG_OK;
}

/* A loader's sizes stay in range: a batch larger than the epoch is the whole
 * epoch (or nothing with drop_last), and a dataset too large to order on the
 * host is refused rather than overflowing the order's size. */
START_TEST(test_loader_sizes)
{
    ag_device *dev = agt_open(_i);
    ag_dataset *ds = ag_dataset_new(10, 1, (int64_t[]){1}, item_index, NULL, NULL);
    ck_assert_ptr_nonnull(ds);
    ag_loader *ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = INT64_MAX});
    ck_assert_msg(ld != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_loader_num_batches(ld), 1);
    ag_scope_begin();
    ag_tensor *x, *y;
    ck_assert_int_eq(ag_loader_next(ld, &x, &y), 1);
    agt_assert_shape(x, AG_SHAPE(10, 1), "one batch of every item");
    ck_assert_int_eq(ag_loader_next(ld, &x, &y), 0);
    ag_scope_end();
    ag_loader_free(ld);
    ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = INT64_MAX, .drop_last = true});
    ck_assert_msg(ld != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_loader_num_batches(ld), 0);
    ag_loader_free(ld);
    ag_dataset_free(ds);
    /* normalisation constants that would make every value NaN */
    agt_assert_error(ag_dataset_from_host(AG_U8, (uint8_t[]){1, 2}, 2, 0, NULL, (int32_t[]){0, 1},
                                          &(ag_normalize){.std = NAN}, false),
                     "ag_dataset_from_host", "std nan", "NaN std");
    agt_assert_error(ag_dataset_mnist("no-such-images", "no-such-labels",
                                      &(ag_normalize){.mean = INFINITY}),
                     "ag_dataset_mnist", "mean inf", "infinite mean");
    ds = ag_dataset_new((INT64_C(1) << 61) + 1, 1, (int64_t[]){1}, item_index, NULL, NULL);
    ck_assert_ptr_nonnull(ds);
    agt_assert_error(ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 4}), "ag_loader_new",
                     "2305843009213693953", "a dataset of 2^61 + 1 items");
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

/* A bad scalar option names the shapes of the inputs it came with, like
 * every other error. */
START_TEST(test_option_errors_name_shapes)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    ag_tensor *img = agt_randn(dev, AG_SHAPE(2, 3, 8, 8), 2, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(4, 3, 3, 3), 3, 1.0);
    ag_tensor *t = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){0, 1});
    agt_assert_error(ag_conv2d(img, w, NULL, &(ag_conv2d_opts){.stride = {-1, 1}}), "ag_conv2d",
                     "input [2,3,8,8], weight [4,3,3,3]", "conv2d negative stride");
    agt_assert_error(ag_conv_transpose2d(img, agt_randn(dev, AG_SHAPE(3, 4, 3, 3), 4, 1.0), NULL,
                                         &(ag_conv2d_opts){.groups = -2}),
                     "ag_conv_transpose2d", "[2,3,8,8]", "conv_transpose2d negative groups");
    agt_assert_error(ag_mse_loss(x, x, (ag_reduction)9), "ag_mse_loss", "[2,3]", "bad reduction");
    agt_assert_error(ag_cross_entropy(x, t, &(ag_cross_entropy_opts){.label_smoothing = 2}),
                     "ag_cross_entropy", "[2,3]", "bad label_smoothing");
    agt_assert_error(ag_smooth_l1_loss(x, x, AG_REDUCTION_MEAN, -1), "ag_smooth_l1_loss", "[2,3]",
                     "negative beta");
    agt_assert_error(ag_layer_norm(x, 1, (int64_t[]){3}, NULL, NULL, -1), "ag_layer_norm", "[2,3]",
                     "layer_norm negative eps");
    agt_assert_error(ag_batch_norm(img, NULL, NULL, NULL, NULL, true, 2.0, 1e-5), "ag_batch_norm",
                     "[2,3,8,8]", "batch_norm momentum 2");
    agt_assert_error(ag_cast(x, (ag_dtype)9), "ag_cast", "f32 [2,3]", "cast to dtype 9");
    assert_status(ag_backward(x, NULL), "ag_backward", "[2,3]", "root without grad");
    assert_status(ag_set_requires_grad(t, true), "ag_set_requires_grad", "i32 [2]",
                  "requires_grad on i32");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Every function that takes a device refuses a destroyed one by name,
 * before touching its backend. */
START_TEST(test_destroyed_device)
{
    ag_device *dev = agt_open(_i);
    ag_device *gone = ag_device_open(agt_backend_spec(_i));
    ck_assert_ptr_nonnull(gone);
    ag_device_close(gone); /* no tensor on it: destroyed */
    const char *dead = "closed and destroyed";
    ag_device_counters counters;
    assert_status(ag_device_get_counters(gone, &counters), "ag_device_get_counters", dead,
                  "counters of a destroyed device");
    assert_status(ag_device_empty_cache(gone), "ag_device_empty_cache", dead,
                  "empty_cache of a destroyed device");
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    agt_assert_error(ag_arange(gone, AG_F32, 0, 4, 1), "ag_arange", dead, "arange");
    agt_assert_error(ag_to_device(x, gone), "ag_to_device", dead, "to_device");
    agt_assert_error(ag_clip_grad_norm_device(gone, &x, 1, 1.0), "ag_clip_grad_norm_device", dead,
                     "clip_grad_norm_device");
    ag_scope_end();
    ag_dataset *ds = ag_dataset_new(4, 1, (int64_t[]){1}, item_index, NULL, NULL);
    ck_assert_ptr_nonnull(ds);
    agt_assert_error(ag_loader_new(ds, gone, &(ag_loader_opts){.batch_size = 2}), "ag_loader_new",
                     dead, "loader on a destroyed device");
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

/* Step counts stay far from overflowing: an optimizer's count is at most
 * 2^53, like a parameter's step, so counting on from it is defined. */
START_TEST(test_step_count_bound)
{
    ag_device *dev = agt_open(_i);
    ag_tensor *w = ag_ones(dev, AG_F32, AG_SHAPE(2));
    ck_assert_int_eq(ag_set_requires_grad(w, true), AG_OK);
    ag_optimizer *opt = ag_optim_adam(&w, 1, NULL);
    ck_assert_ptr_nonnull(opt);
    assert_status(ag_optimizer_set_step_count(opt, INT64_MAX), "ag_optimizer_set_step_count",
                  "9223372036854775807", "step count INT64_MAX");
    ck_assert_int_eq(ag_optimizer_step_count(opt), 0);
    ck_assert_int_eq(ag_optimizer_set_step_count(opt, INT64_C(1) << 53), AG_OK);
    ag_scope_begin();
    ck_assert_int_eq(ag_set_grad(w, ag_ones(dev, AG_F32, AG_SHAPE(2))), AG_OK);
    ck_assert_int_eq(ag_optimizer_step(opt), AG_OK);
    ag_scope_end();
    ck_assert_int_eq(ag_optimizer_step_count(opt), (INT64_C(1) << 53) + 1);
    /* a parameter's step is exported as an i32 entry: one past INT32_MAX
     * is refused rather than written as INT32_MIN */
    ag_scope_begin();
    ck_assert_int_eq(ag_optimizer_state_set(opt, "state.0.step", ag_scalar(dev, AG_F32, 3e9)), AG_OK);
    agt_assert_error(ag_optimizer_state_entry(opt, 0, NULL, 0), "ag_optimizer_state_entry",
                     "3000000000", "step past INT32_MAX");
    ag_state_dict *sd = ag_state_dict_new();
    ck_assert_int_eq(ag_state_dict_add(sd, "w", w), AG_OK);
    assert_status(ag_checkpoint_save("no-such-dir/ckpt", sd, opt, 0, 0, NULL, NULL),
                  "ag_checkpoint_save", "does not fit", "checkpoint of a step past INT32_MAX");
    ag_state_dict_free(sd);
    ag_scope_end();
    ag_optimizer_free(opt);
    ag_release(w);
    agt_close(dev);
}
END_TEST

/* A module has one owner: appending one that a container already owns,
 * appending a container into itself, and freeing a container's child are
 * refused (they made cycles, double frees and use after free). Module state
 * errors name the module function. */
START_TEST(test_module_ownership)
{
    ag_device *dev = agt_open(_i);
    ag_module *lin = ag_nn_linear(dev, 2, 2, true);
    ag_module *relu = ag_nn_relu();
    ag_module *seq = ag_nn_sequential(1, &lin);
    ck_assert_ptr_nonnull(seq);
    ag_module *other = ag_nn_sequential(1, &relu);
    ck_assert_ptr_nonnull(other);
    assert_status(ag_nn_sequential_append(other, lin), "ag_nn_sequential_append",
                  "Linear already belongs to a container", "append an owned module");
    assert_status(ag_nn_sequential_append(seq, seq), "ag_nn_sequential_append", "cycle",
                  "append a Sequential to itself");
    ck_assert_int_eq(ag_nn_sequential_append(other, seq), AG_OK); /* a free one is fine */
    ag_module_free(other); /* frees seq (now its child) and lin */
    ag_module *a = ag_nn_relu();
    agt_assert_error(ag_nn_sequential(3, (ag_module *[]){a, a, ag_nn_tanh()}),
                     "ag_nn_sequential_append", "already belongs", "the same module twice");
    /* a child freed alone */
    ag_module *l2 = ag_nn_linear(dev, 2, 2, false);
    ag_module *s2 = ag_nn_sequential(1, &l2);
    ag_clear_error();
    ag_module_free(l2);
    ck_assert_msg(strstr(ag_last_error(), "ag_module_free") &&
                      strstr(ag_last_error(), "belongs to a container"), "%s", ag_last_error());
    ag_scope_begin();
    agt_assert_shape(ag_module_forward(s2, agt_randn(dev, AG_SHAPE(3, 2), 1, 1.0)), AG_SHAPE(3, 2),
                     "the child still works");
    ag_state_dict *sd = ag_state_dict_new();
    ck_assert_int_eq(ag_state_dict_add(sd, "0.weight", ag_zeros(dev, AG_F32, AG_SHAPE(3, 2))), AG_OK);
    assert_status(ag_module_load_state_dict(s2, sd, true), "ag_module_load_state_dict: ", "[3,2]",
                  "load a wrong shape");
    ag_state_dict_free(sd);
    ag_scope_end();
    agt_assert_error(ag_module_state_dict(NULL), "ag_module_state_dict", NULL, "state of NULL");
    ag_module_free(s2);
    agt_close(dev);
}
END_TEST

/* A loader keeps its device alive like a tensor does: closing the device's
 * handle while the loader still uploads batches is safe. */
START_TEST(test_loader_keeps_device)
{
    ag_device *dev = agt_open(_i);
    ag_device *d2 = ag_device_open(agt_backend_spec(_i));
    ck_assert_ptr_nonnull(d2);
    ag_dataset *ds = ag_dataset_new(20, 1, (int64_t[]){1}, item_index, NULL, NULL);
    ag_loader *ld = ag_loader_new(ds, d2, &(ag_loader_opts){.batch_size = 2});
    ck_assert_msg(ld != NULL, "%s", ag_last_error());
    ag_scope_begin();
    ag_tensor *x, *y;
    ck_assert_int_eq(ag_loader_next(ld, &x, &y), 1);
    ag_scope_end();
    ag_device_close(d2); /* the loader still holds it */
    for (int b = 1; b < 10; b++) { /* more than the prefetched batches */
        ag_scope_begin();
        ck_assert_msg(ag_loader_next(ld, &x, &y) == 1, "batch %d: %s", b, ag_last_error());
        agt_assert_close(x, (float[]){(float)(2 * b), (float)(2 * b + 1)}, 2, 0, 0, "batch");
        ag_scope_end();
    }
    ag_loader_free(ld); /* destroys d2 */
    assert_status(ag_device_sync(d2), "ag_device_sync", "closed and destroyed", "after the loader");
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

/* Integer fills truncate; NaN and out-of-range values are refused, the
 * destination unchanged (PyTorch: "cannot be converted ... without overflow"). */
START_TEST(test_integer_fill_values)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *t = ag_full(dev, AG_I32, AG_SHAPE(3), 7.9);
    agt_assert_close(t, (float[]){7, 7, 7}, 3, 0, 0, "i32 full truncates");
    ck_assert_int_eq(ag_fill_(t, -2.5), AG_OK);
    agt_assert_close(t, (float[]){-2, -2, -2}, 3, 0, 0, "i32 fill truncates");
    const double bad[] = {NAN, INFINITY, -INFINITY, 2147483648.0, -2147483649.0, 1e20};
    for (int k = 0; k < 6; k++) {
        ck_assert_int_eq(ag_fill_(t, bad[k]), AG_ERR_INVALID);
        ck_assert_msg(strstr(ag_last_error(), "ag_fill_") && strstr(ag_last_error(), "i32"),
                      "message: %s", ag_last_error());
        agt_assert_error(ag_full(dev, AG_I32, AG_SHAPE(2), bad[k]), "ag_full", "overflow", "full i32");
    }
    agt_assert_close(t, (float[]){-2, -2, -2}, 3, 0, 0, "unchanged after refused fills");
    ck_assert_int_eq(ag_fill_(t, 2147483647.0), AG_OK);
    ck_assert_int_eq(ag_fill_(t, -2147483648.0), AG_OK);
    ag_tensor *u = ag_zeros(dev, AG_U8, AG_SHAPE(2));
    ck_assert_int_eq(ag_fill_(u, 255.0), AG_OK);
    ck_assert_int_eq(ag_fill_(u, -1.0), AG_ERR_INVALID);
    ck_assert_int_eq(ag_fill_(u, 256.0), AG_ERR_INVALID);
    agt_assert_error(ag_scalar(dev, AG_U8, NAN), "ag_scalar", "u8", "u8 scalar NaN");
    agt_assert_error(ag_full_like(u, 300.0), "ag_full", "u8", "u8 full_like");
    /* floats keep NaN and infinities */
    ag_tensor *f = ag_full(dev, AG_F32, AG_SHAPE(1), NAN);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ag_fill_(f, INFINITY), AG_OK);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_shape_mismatch);
    AGT_ADD_LOOP(tc, test_wrong_dtype);
    AGT_ADD_LOOP(tc, test_different_devices);
    AGT_ADD_LOOP(tc, test_null_inputs);
    AGT_ADD_LOOP(tc, test_bad_shapes);
    AGT_ADD_LOOP(tc, test_out_of_range);
    AGT_ADD_LOOP(tc, test_index_range_shapes);
    AGT_ADD_LOOP(tc, test_creation_error_names);
    AGT_ADD_LOOP(tc, test_handle_misuse);
    AGT_ADD_LOOP(tc, test_backward_errors);
    AGT_ADD_LOOP(tc, test_device_errors);
    AGT_ADD_LOOP(tc, test_range_edges);
    AGT_ADD_LOOP(tc, test_released_operands);
    AGT_ADD_LOOP(tc, test_module_configs);
    AGT_ADD_LOOP(tc, test_wrapped_errors);
    AGT_ADD_LOOP(tc, test_expanded_destination);
    AGT_ADD_LOOP(tc, test_huge_view_shapes);
    AGT_ADD_LOOP(tc, test_norm_eps);
    AGT_ADD_LOOP(tc, test_loader_sizes);
    AGT_ADD_LOOP(tc, test_option_errors_name_shapes);
    AGT_ADD_LOOP(tc, test_destroyed_device);
    AGT_ADD_LOOP(tc, test_step_count_bound);
    AGT_ADD_LOOP(tc, test_module_ownership);
    AGT_ADD_LOOP(tc, test_loader_keeps_device);
    AGT_ADD_LOOP(tc, test_integer_fill_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(errors_suite()); }
