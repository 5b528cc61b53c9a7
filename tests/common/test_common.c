#include "tests/common/test_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

rt_context *test_ctx = NULL;

void test_ctx_setup(void)
{
    int st = rt_context_create(&test_ctx, NULL);
    ck_assert_msg(st == RT_OK, "creating the OpenCL context failed: %s", rt_last_error());
}

void test_ctx_teardown(void)
{
    rt_context_free(test_ctx);
    test_ctx = NULL;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void test_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&state) >> 11) / 9007199254740992.0;
        x[i] = lo + (float)u * (hi - lo);
    }
}

double test_max_scaled_error(const float *a, const float *b, size_t n, double atol, double rtol,
                             size_t *worst_index)
{
    double worst = 0.0;
    *worst_index = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (isnan(err))
            err = INFINITY;
        if (err > worst) {
            worst = err;
            *worst_index = i;
        }
    }
    return worst;
}

const char *test_source_root(void)
{
    const char *root = getenv("ALUMCL_SOURCE_ROOT");
    return root && *root ? root : ".";
}

const char *test_data_dir(void)
{
    static char path[4096];
    const char *env = getenv("ALUMCL_DATA_DIR");
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else
        snprintf(path, sizeof path, "%s/../shared/data", test_source_root());
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return path;
}

int test_run_suite(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
