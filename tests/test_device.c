/* tests/test_device.c — device specs: what "auto", a backend name alone and
 * "backend:index" open. A backend name alone must pick that backend's best
 * device (a GPU before a CPU implementation such as lavapipe or PoCL),
 * whatever order the runtime lists devices in; an explicit index opens
 * exactly that device. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* The rank the library documents: discrete GPU > integrated GPU > other >
 * CPU-type device of a GPU backend; the CPU backend sits between the last two. */
static int expected_rank(const ag_device_info *d)
{
    if (d->backend == AG_BACKEND_CPU) return 1;
    if (d->type == AG_DEVICE_DISCRETE_GPU) return 4;
    if (d->type == AG_DEVICE_INTEGRATED_GPU) return 3;
    if (d->type == AG_DEVICE_OTHER) return 2;
    return 0;
}

static int list_all(ag_device_info **out)
{
    int n = ag_device_list(NULL, 0);
    ck_assert_msg(n >= 1, "ag_device_list found %d devices (the CPU backend is always there)", n);
    *out = calloc((size_t)n, sizeof **out);
    ck_assert_ptr_nonnull(*out);
    int m = ag_device_list(*out, n);
    ck_assert_int_eq(m, n);
    return n;
}

START_TEST(test_backend_name_picks_best_device)
{
    ag_device_info *infos;
    int n = list_all(&infos);
    static const struct { const char *name; ag_backend_kind kind; } backends[] = {
        {"vulkan", AG_BACKEND_VULKAN}, {"opencl", AG_BACKEND_OPENCL}, {"cpu", AG_BACKEND_CPU}};
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (infos[i].backend == backends[b].kind &&
                (best < 0 || expected_rank(&infos[i]) > expected_rank(&infos[best])))
                best = i;
        char spec[32];
        ag_status st = ag_device_resolve(backends[b].name, spec, sizeof spec);
        if (best < 0) {
            ck_assert_msg(st == AG_ERR_NOT_FOUND, "%s: no device listed but resolve gave %s",
                          backends[b].name, ag_status_name(st));
            continue;
        }
        ck_assert_msg(st == AG_OK, "resolve %s: %s", backends[b].name, ag_last_error());
        ck_assert_msg(strcmp(spec, infos[best].spec) == 0, "\"%s\" resolved to %s, the best is %s",
                      backends[b].name, spec, infos[best].spec);
        ag_device *dev = ag_device_open(backends[b].name);
        ck_assert_msg(dev != NULL, "open %s: %s", backends[b].name, ag_last_error());
        ck_assert_str_eq(ag_device_get_info(dev)->spec, infos[best].spec);
        ag_device_close(dev);
    }
    free(infos);
}
END_TEST

START_TEST(test_explicit_spec_opens_that_device)
{
    ag_device_info *infos;
    int n = list_all(&infos);
    for (int i = 0; i < n; i++) {
        char spec[32];
        ck_assert_msg(ag_device_resolve(infos[i].spec, spec, sizeof spec) == AG_OK, "resolve %s: %s",
                      infos[i].spec, ag_last_error());
        ck_assert_str_eq(spec, infos[i].spec);
    }
    free(infos);
}
END_TEST

START_TEST(test_auto_and_env)
{
    ag_device_info *infos;
    int n = list_all(&infos);
    const char *saved = getenv("AG_DEVICE");
    char *saved_copy = saved ? strdup(saved) : NULL;
    unsetenv("AG_DEVICE");
    int best = -1;
    for (int i = 0; i < n; i++)
        if (best < 0 || expected_rank(&infos[i]) > expected_rank(&infos[best])) best = i;
    const char *want = expected_rank(&infos[best]) > 0 ? infos[best].spec : "cpu";
    char spec[32];
    ck_assert(ag_device_resolve("auto", spec, sizeof spec) == AG_OK);
    ck_assert_str_eq(spec, want);
    ck_assert(ag_device_resolve(NULL, spec, sizeof spec) == AG_OK);
    ck_assert_str_eq(spec, want);
    setenv("AG_DEVICE", "cpu", 1);
    ck_assert(ag_device_resolve("auto", spec, sizeof spec) == AG_OK);
    ck_assert_str_eq(spec, "cpu");
    setenv("AG_DEVICE", "nosuchbackend", 1);
    ck_assert(ag_device_resolve("auto", spec, sizeof spec) == AG_ERR_NOT_FOUND);
    ck_assert_msg(strstr(ag_last_error(), "nosuchbackend") != NULL, "%s", ag_last_error());
    if (saved_copy) setenv("AG_DEVICE", saved_copy, 1);
    else unsetenv("AG_DEVICE");
    free(saved_copy);
    free(infos);
}
END_TEST

START_TEST(test_bad_specs)
{
    char spec[32];
    ck_assert(ag_device_resolve("vulkan:99", spec, sizeof spec) == AG_ERR_NOT_FOUND);
    ck_assert_msg(strstr(ag_last_error(), "vulkan:99") != NULL, "%s", ag_last_error());
    ck_assert(ag_device_resolve("opencl:7.3", spec, sizeof spec) == AG_ERR_NOT_FOUND);
    ck_assert_msg(strstr(ag_last_error(), "opencl:7.3") != NULL, "%s", ag_last_error());
    ck_assert(ag_device_open("metal") == NULL);
    ck_assert_msg(strstr(ag_last_error(), "metal") != NULL, "%s", ag_last_error());
    ck_assert(ag_device_resolve("cpu", NULL, 8) == AG_ERR_INVALID);
    char tiny[2];
    ck_assert(ag_device_resolve("cpu", tiny, sizeof tiny) == AG_ERR_INVALID);
}
END_TEST

static Suite *device_suite(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("specs");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_backend_name_picks_best_device);
    tcase_add_test(tc, test_explicit_spec_opens_that_device);
    tcase_add_test(tc, test_auto_and_env);
    tcase_add_test(tc, test_bad_specs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(device_suite()); }
