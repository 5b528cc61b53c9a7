/*
 * DSU module: PyTorch golden values, finite differences against a CPU
 * reference, degenerate shapes and the counter-based normal draws.
 */
#include "tests/common/test_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alum/alum_dsu.h"
#include "alum/alum_rng.h"
#include "tests/alum/alum_reference.h"

#define EPS 1e-6f
#define MAX_CASES 8

typedef struct golden_case {
    char name[32];
    int batch, channels, height, width, groups, members;
    int *index;
    float *x, *draws, *dy, *y, *dx;
} golden_case;

static golden_case cases[MAX_CASES];
static int case_count;

static float *read_floats(FILE *f, const char *label, size_t n)
{
    char word[32];
    ck_assert_int_eq(fscanf(f, "%31s", word), 1);
    ck_assert_str_eq(word, label);
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(fscanf(f, "%f", &v[i]), 1);
    return v;
}

static void load_golden(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/alum/golden/dsu_golden.txt", test_source_root());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s; regenerate it with tools/make_dsu_golden.py", path);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* generator comment */
    case_count = 0;
    char word[32];
    while (fscanf(f, "%31s", word) == 1) {
        ck_assert_str_eq(word, "case");
        ck_assert_int_lt(case_count, MAX_CASES);
        golden_case *c = &cases[case_count++];
        ck_assert_int_eq(fscanf(f, "%31s %d %d %d %d %d %d", c->name, &c->batch, &c->channels,
                                &c->height, &c->width, &c->groups, &c->members),
                         7);
        ck_assert_int_eq(fscanf(f, "%31s", word), 1);
        ck_assert_str_eq(word, "index");
        c->index = malloc((size_t)c->groups * c->members * sizeof *c->index);
        for (int i = 0; i < c->groups * c->members; i++)
            ck_assert_int_eq(fscanf(f, "%d", &c->index[i]), 1);
        size_t numel = (size_t)c->batch * c->channels * c->height * c->width;
        size_t rows = (size_t)c->batch * c->channels;
        c->x = read_floats(f, "x", numel);
        c->draws = read_floats(f, "draws", 2 * rows);
        c->dy = read_floats(f, "dy", numel);
        c->y = read_floats(f, "y", numel);
        c->dx = read_floats(f, "dx", numel);
    }
    fclose(f);
    ck_assert_int_ge(case_count, 5);
}

static void free_golden(void)
{
    for (int i = 0; i < case_count; i++) {
        golden_case *c = &cases[i];
        free(c->index);
        free(c->x);
        free(c->draws);
        free(c->dy);
        free(c->y);
        free(c->dx);
    }
    case_count = 0;
}

static void upload(rt_tensor *t, const char *name, rt_dtype dtype, int ndim, const int *shape,
                   const void *host)
{
    ck_assert_rt(rt_tensor_alloc(test_ctx, t, name, dtype, ndim, shape));
    ck_assert_rt(rt_tensor_write(t, host));
}

/* Runs forward and backward of one golden case on the device. */
static void run_case(const golden_case *c, float *y, float *dx)
{
    int x_shape[4] = {c->batch, c->channels, c->height, c->width};
    int draw_shape[3] = {2, c->batch, c->channels};
    int index_shape[2] = {c->groups, c->members};
    rt_tensor x, draws, index, grad;
    upload(&x, "x", RT_F32, 4, x_shape, c->x);
    upload(&draws, "draws", RT_F32, 3, draw_shape, c->draws);
    upload(&index, "index", RT_I32, 2, index_shape, c->index);
    upload(&grad, "dy", RT_F32, 4, x_shape, c->dy);

    alum_dsu dsu;
    alum_dsu_init(&dsu, c->name, EPS);
    alum_dsu_groups groups = {c->groups, c->members, &index};
    ck_assert_rt(alum_dsu_forward(test_ctx, &dsu, &x, &groups, &draws));
    ck_assert(dsu.applied);
    ck_assert_rt(alum_dsu_backward(test_ctx, &dsu, &grad));
    ck_assert_rt(rt_tensor_read(&x, y));
    ck_assert_rt(rt_tensor_read(&grad, dx));

    alum_dsu_free(&dsu);
    rt_tensor_free(&x);
    rt_tensor_free(&draws);
    rt_tensor_free(&index);
    rt_tensor_free(&grad);
}

START_TEST(dsu_forward_matches_pytorch)
{
    load_golden();
    for (int i = 0; i < case_count; i++) {
        const golden_case *c = &cases[i];
        size_t numel = (size_t)c->batch * c->channels * c->height * c->width;
        float *y = malloc(numel * sizeof *y), *dx = malloc(numel * sizeof *dx);
        run_case(c, y, dx);
        char what[64];
        snprintf(what, sizeof what, "%.31s: y", c->name);
        ck_assert_close(y, c->y, numel, 1e-5, 1e-4, what);
        free(y);
        free(dx);
    }
    free_golden();
}
END_TEST

START_TEST(dsu_backward_matches_pytorch)
{
    load_golden();
    for (int i = 0; i < case_count; i++) {
        const golden_case *c = &cases[i];
        size_t numel = (size_t)c->batch * c->channels * c->height * c->width;
        float *y = malloc(numel * sizeof *y), *dx = malloc(numel * sizeof *dx);
        run_case(c, y, dx);
        char what[64];
        snprintf(what, sizeof what, "%.31s: dx", c->name);
        ck_assert_close(dx, c->dx, numel, 1e-4, 1e-3, what);
        free(y);
        free(dx);
    }
    free_golden();
}
END_TEST

/* Device gradient against central differences of the double-precision reference. */
static void check_finite_differences(int batch, int channels, int n, const int *index, int groups,
                                     int members, uint64_t seed)
{
    size_t numel = (size_t)batch * channels * n, rows = (size_t)batch * channels;
    float *xf = malloc(numel * sizeof *xf), *dyf = malloc(numel * sizeof *dyf);
    float *draws_f = malloc(2 * rows * sizeof *draws_f), *dx = malloc(numel * sizeof *dx);
    test_fill_uniform(xf, numel, -2.0f, 2.0f, seed);
    test_fill_uniform(dyf, numel, -1.0f, 1.0f, seed + 1);
    test_fill_uniform(draws_f, 2 * rows, -1.5f, 1.5f, seed + 2);

    double *x = malloc(numel * sizeof *x), *dy = malloc(numel * sizeof *dy);
    double *draws = malloc(2 * rows * sizeof *draws), *expected = malloc(numel * sizeof *expected);
    for (size_t i = 0; i < numel; i++) {
        x[i] = xf[i];
        dy[i] = dyf[i];
    }
    for (size_t i = 0; i < 2 * rows; i++)
        draws[i] = draws_f[i];
    ref_dsu_grad_fd(x, batch, channels, n, index, groups, members, draws, EPS, dy, 1e-6, expected);
    float *expected_f = malloc(numel * sizeof *expected_f);
    for (size_t i = 0; i < numel; i++)
        expected_f[i] = (float)expected[i];

    golden_case c = {"finite_difference", batch, channels, n,   1,    groups, members,
                     (int *)index,        xf,    draws_f,  dyf, NULL, NULL};
    float *y = malloc(numel * sizeof *y);
    run_case(&c, y, dx);
    ck_assert_close(dx, expected_f, numel, 1e-4, 1e-3, "dx against finite differences");

    free(xf);
    free(dyf);
    free(draws_f);
    free(dx);
    free(x);
    free(dy);
    free(draws);
    free(expected);
    free(expected_f);
    free(y);
}

START_TEST(dsu_batch_scales_finite_differences)
{
    int index[5] = {0, 1, 2, 3, 4};
    check_finite_differences(5, 3, 6, index, 1, 5, 11);
}
END_TEST

START_TEST(dsu_per_anchor_finite_differences)
{
    int index[12] = {0, 2, 1, 1, 3, 0, 2, 0, 3, 3, 1, 1};
    check_finite_differences(4, 2, 5, index, 4, 3, 12);
}
END_TEST

START_TEST(dsu_batch_union_finite_differences)
{
    int index[8] = {0, 1, 2, 3, 2, 2, 0, 1};
    check_finite_differences(4, 3, 4, index, 1, 8, 13);
}
END_TEST

START_TEST(dsu_stats_match_reference)
{
    enum { B = 3, C = 4, N = 7 };
    float xf[B * C * N], stats[2 * B * C], expected_f[2 * B * C];
    double x[B * C * N], expected[2 * B * C];
    test_fill_uniform(xf, B * C * N, -3.0f, 5.0f, 21);
    for (int i = 0; i < B * C * N; i++)
        x[i] = xf[i];
    ref_dsu_stats(x, B, C, N, EPS, expected);
    for (int i = 0; i < 2 * B * C; i++)
        expected_f[i] = (float)expected[i];

    int shape[4] = {B, C, 1, N};
    rt_tensor t;
    upload(&t, "x", RT_F32, 4, shape, xf);
    alum_dsu dsu;
    alum_dsu_init(&dsu, "stats", EPS);
    ck_assert_rt(alum_dsu_stats(test_ctx, &dsu, &t));
    ck_assert_rt(rt_tensor_read(&dsu.stats, stats));
    ck_assert_close(stats, expected_f, 2 * B * C, 1e-6, 1e-5, "mu and sigma");
    alum_dsu_free(&dsu);
    rt_tensor_free(&t);
}
END_TEST

/* Forward and backward leave their tensors unchanged and report applied = false. */
static void check_identity(int batch, int channels, int height, int width)
{
    int numel = batch * channels * height * width;
    float *host = malloc((size_t)numel * sizeof *host),
          *back = malloc((size_t)numel * sizeof *back);
    float draws_host[2 * 64];
    test_fill_uniform(host, (size_t)numel, -1.0f, 1.0f, 31);
    test_fill_uniform(draws_host, (size_t)(2 * batch * channels), -1.0f, 1.0f, 32);
    int shape[4] = {batch, channels, height, width}, draw_shape[3] = {2, batch, channels};
    rt_tensor x, draws;
    upload(&x, "x", RT_F32, 4, shape, host);
    upload(&draws, "draws", RT_F32, 3, draw_shape, draws_host);

    alum_dsu dsu;
    alum_dsu_init(&dsu, "degenerate", EPS);
    ck_assert_rt(alum_dsu_forward(test_ctx, &dsu, &x, NULL, &draws));
    ck_assert(!dsu.applied);
    ck_assert_rt(rt_tensor_read(&x, back));
    ck_assert_mem_eq(back, host, (size_t)numel * sizeof *host);
    ck_assert_rt(alum_dsu_backward(test_ctx, &dsu, &x));
    ck_assert_rt(rt_tensor_read(&x, back));
    ck_assert_mem_eq(back, host, (size_t)numel * sizeof *host);

    alum_dsu_free(&dsu);
    rt_tensor_free(&x);
    rt_tensor_free(&draws);
    free(host);
    free(back);
}

START_TEST(dsu_identity_when_spatial_size_one)
{
    check_identity(4, 3, 1, 1);
}
END_TEST

START_TEST(dsu_identity_when_batch_one)
{
    check_identity(1, 3, 2, 2);
}
END_TEST

START_TEST(dsu_rejects_group_count)
{
    float host[4 * 2 * 4] = {0}, draws_host[2 * 4 * 2] = {0};
    int index_host[6] = {0, 1, 2, 3, 0, 1};
    int shape[4] = {4, 2, 2, 2}, draw_shape[3] = {2, 4, 2}, index_shape[2] = {2, 3};
    rt_tensor x, draws, index;
    upload(&x, "x", RT_F32, 4, shape, host);
    upload(&draws, "draws", RT_F32, 3, draw_shape, draws_host);
    upload(&index, "index", RT_I32, 2, index_shape, index_host);
    alum_dsu dsu;
    alum_dsu_init(&dsu, "P2", EPS);
    alum_dsu_groups groups = {2, 3, &index};
    ck_assert_int_eq(alum_dsu_forward(test_ctx, &dsu, &x, &groups, &draws), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "2 scale groups"));
    alum_dsu_free(&dsu);
    rt_tensor_free(&x);
    rt_tensor_free(&draws);
    rt_tensor_free(&index);
}
END_TEST

START_TEST(rng_device_matches_host)
{
    enum { N = 4096 };
    uint64_t key = alum_rng_key(7, 123, 5, ALUM_STREAM_NORMAL);
    int shape[1] = {N};
    rt_tensor t;
    ck_assert_rt(rt_tensor_alloc(test_ctx, &t, "normals", RT_F32, 1, shape));
    ck_assert_rt(alum_rng_fill_normal(test_ctx, &t, key));
    static float device[N], host[N];
    ck_assert_rt(rt_tensor_read(&t, device));
    double sum = 0.0, sum_sq = 0.0;
    for (int i = 0; i < N; i++) {
        host[i] = alum_rng_normal(key, (uint64_t)i);
        sum += host[i];
        sum_sq += (double)host[i] * host[i];
    }
    ck_assert_close(device, host, N, 1e-5, 1e-4, "device normals");
    /* 4096 draws: the sample mean has standard error 0.016, the variance about 0.022 */
    ck_assert_double_lt(fabs(sum / N), 0.08);
    ck_assert_double_lt(fabs(sum_sq / N - 1.0), 0.11);
    rt_tensor_free(&t);
}
END_TEST

START_TEST(rng_keys_separate_streams)
{
    uint64_t base = alum_rng_key(1, 10, 2, ALUM_STREAM_NORMAL);
    ck_assert_uint_eq(base, alum_rng_key(1, 10, 2, ALUM_STREAM_NORMAL));
    ck_assert_uint_ne(base, alum_rng_key(2, 10, 2, ALUM_STREAM_NORMAL));
    ck_assert_uint_ne(base, alum_rng_key(1, 11, 2, ALUM_STREAM_NORMAL));
    ck_assert_uint_ne(base, alum_rng_key(1, 10, 3, ALUM_STREAM_NORMAL));
    ck_assert_uint_ne(base, alum_rng_key(1, 10, 2, ALUM_STREAM_COIN));
    ck_assert_float_ne(alum_rng_normal(base, 0), alum_rng_normal(base, 1));
}
END_TEST

Suite *dsu_suite(void)
{
    Suite *s = suite_create("alum_dsu");
    TCase *tc = tcase_create("dsu");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_test(tc, dsu_forward_matches_pytorch);
    tcase_add_test(tc, dsu_backward_matches_pytorch);
    tcase_add_test(tc, dsu_batch_scales_finite_differences);
    tcase_add_test(tc, dsu_per_anchor_finite_differences);
    tcase_add_test(tc, dsu_batch_union_finite_differences);
    tcase_add_test(tc, dsu_stats_match_reference);
    tcase_add_test(tc, dsu_identity_when_spatial_size_one);
    tcase_add_test(tc, dsu_identity_when_batch_one);
    tcase_add_test(tc, dsu_rejects_group_count);
    tcase_add_test(tc, rng_device_matches_host);
    tcase_add_test(tc, rng_keys_separate_streams);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(dsu_suite());
}
