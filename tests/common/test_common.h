/*
 * Shared helpers of the Check suites.
 *
 * Check forks a process per test, and an OpenCL context created before a fork
 * is unusable in the child, so every suite creates its context in a checked
 * fixture (test_ctx_setup / test_ctx_teardown), which runs inside the child.
 */
#ifndef ALUMCL_TEST_COMMON_H
#define ALUMCL_TEST_COMMON_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/runtime.h"

extern rt_context *test_ctx;

/* Checked fixture: creates test_ctx on the default device (or ALUMCL_DEVICE). */
void test_ctx_setup(void);
void test_ctx_teardown(void);

/* Fails the current test with the runtime's last error when status is not RT_OK. */
#define ck_assert_rt(expr)                                                                         \
    do {                                                                                           \
        int ck_rt_status_ = (expr);                                                                \
        ck_assert_msg(ck_rt_status_ == RT_OK, "%s returned %s: %s", #expr,                         \
                      rt_status_name(ck_rt_status_), rt_last_error());                             \
    } while (0)

/* Deterministic uniform floats in [lo, hi) from a 64-bit seed (splitmix64). */
void test_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed);

/* Returns max |a[i] - b[i]| / (atol + rtol * |b[i]|) over i; <= 1 means within tolerance. */
double test_max_scaled_error(const float *a, const float *b, size_t n, double atol, double rtol,
                             size_t *worst_index);

/* Asserts that a and b agree within atol + rtol * |b| elementwise, naming the worst element. */
#define ck_assert_close(a, b, n, atol, rtol, what)                                                 \
    do {                                                                                           \
        size_t ck_worst_ = 0;                                                                      \
        double ck_err_ = test_max_scaled_error((a), (b), (n), (atol), (rtol), &ck_worst_);         \
        ck_assert_msg(ck_err_ <= 1.0,                                                              \
                      "%s: element %zu is %.7g, expected %.7g (atol %g, rtol %g)", (what),         \
                      ck_worst_, (double)(a)[ck_worst_], (double)(b)[ck_worst_], (double)(atol),   \
                      (double)(rtol));                                                             \
    } while (0)

/*
 * Returns the directory of the shared real data (ALUMCL_DATA_DIR, else
 * ALUMCL_SOURCE_ROOT/../shared/data) or NULL when it does not exist.
 */
const char *test_data_dir(void);

/* Returns ALUMCL_SOURCE_ROOT (the repository root) or "." when unset. */
const char *test_source_root(void);

/* Runs a suite with CK_NORMAL output and returns the process exit status. */
int test_run_suite(Suite *suite);

#endif
