/* GEMM backends against a double-precision CPU reference on odd shapes. */
#include "tests/common/test_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gemm_case {
    const char *label;
    bool trans_a, trans_b;
    int m, n, k;
    int pad;           /* added to every leading dimension */
    size_t offset;     /* element offset of every operand */
    int batch;         /* 1 runs rt_gemm, more runs rt_gemm_strided_batched */
    float alpha, beta; /* beta == 0 starts C as NaN, which must not leak through */
} gemm_case;

static const gemm_case cases[] = {
    {"1x1x1", false, false, 1, 1, 1, 0, 0, 1, 1.0f, 0.0f},
    {"17x33x9 NN", false, false, 17, 33, 9, 0, 0, 1, 1.0f, 0.0f},
    {"17x33x9 TN", true, false, 17, 33, 9, 0, 0, 1, 1.0f, 0.0f},
    {"17x33x9 NT", false, true, 17, 33, 9, 0, 0, 1, 1.0f, 0.0f},
    {"17x33x9 TT", true, true, 17, 33, 9, 0, 0, 1, 1.0f, 0.0f},
    {"full tiles 64x64x40", false, false, 64, 64, 40, 0, 0, 1, 1.0f, 0.0f},
    {"offsets and padded ld", false, false, 23, 70, 19, 3, 5, 1, 1.5f, 0.5f},
    {"offsets TT beta", true, true, 9, 41, 31, 2, 7, 1, -0.5f, 2.0f},
    {"k=0 scales C", false, false, 5, 7, 0, 0, 0, 1, 1.0f, 2.0f},
    {"batched strided NT", false, true, 9, 35, 13, 1, 4, 3, 1.0f, -1.0f},
    {"batched strided TN", true, false, 16, 32, 8, 0, 2, 4, 0.25f, 0.0f},
    /* k spans several blocks of 256 steps in the CPU backend's blocked kernel */
    {"k blocks 17x45x600 beta", false, false, 17, 45, 600, 1, 3, 1, 1.0f, 0.5f},
    {"k blocks 19x33x300 NT", false, true, 19, 33, 300, 0, 0, 1, 1.0f, 0.0f},
    /* m >= 256 takes the CPU backend's packed-B kernel */
    {"packed 260x37x11 NN", false, false, 260, 37, 11, 0, 0, 1, 1.0f, 0.0f},
    {"packed 257x45x70 TT beta", true, true, 257, 45, 70, 2, 5, 1, 0.5f, -1.5f},
    {"packed batched 256x33x5 NT", false, true, 256, 33, 5, 1, 1, 2, 1.0f, 1.0f},
};

#define CASE_COUNT ((int)(sizeof cases / sizeof cases[0]))

typedef struct operand {
    int rows, cols, ld;
    size_t stride, total;
} operand;

static operand layout(int rows, int cols, int pad, size_t offset, int batch)
{
    operand o;
    o.rows = rows;
    o.cols = cols;
    o.ld = (cols > 1 ? cols : 1) + pad;
    o.stride = (size_t)rows * (size_t)o.ld + 3; /* gaps between batch matrices */
    o.total = offset + (size_t)batch * o.stride + 1;
    return o;
}

static void reference_gemm(const gemm_case *c, const float *a, const operand *la, const float *b,
                           const operand *lb, float *out, const operand *lc)
{
    for (int bi = 0; bi < c->batch; bi++) {
        const float *ab = a + c->offset + bi * la->stride;
        const float *bb = b + c->offset + bi * lb->stride;
        float *cb = out + c->offset + bi * lc->stride;
        for (int i = 0; i < c->m; i++)
            for (int j = 0; j < c->n; j++) {
                double acc = 0.0;
                for (int p = 0; p < c->k; p++) {
                    double av = c->trans_a ? ab[p * la->ld + i] : ab[i * la->ld + p];
                    double bv = c->trans_b ? bb[j * lb->ld + p] : bb[p * lb->ld + j];
                    acc += av * bv;
                }
                double prior = c->beta != 0.0f ? c->beta * (double)cb[i * lc->ld + j] : 0.0;
                cb[i * lc->ld + j] = (float)(c->alpha * acc + prior);
            }
    }
}

static void upload(rt_tensor *t, const char *name, const float *host, size_t count)
{
    int shape[1] = {(int)count};
    ck_assert_rt(rt_tensor_alloc(test_ctx, t, name, RT_F32, 1, shape));
    ck_assert_rt(rt_tensor_write(t, host));
}

static void run_case(rt_gemm_backend backend, const gemm_case *c)
{
    operand la = c->trans_a ? layout(c->k, c->m, c->pad, c->offset, c->batch)
                            : layout(c->m, c->k, c->pad, c->offset, c->batch);
    operand lb = c->trans_b ? layout(c->n, c->k, c->pad, c->offset, c->batch)
                            : layout(c->k, c->n, c->pad, c->offset, c->batch);
    operand lc = layout(c->m, c->n, c->pad, c->offset, c->batch);
    float *a = malloc(la.total * sizeof *a);
    float *b = malloc(lb.total * sizeof *b);
    float *cin = malloc(lc.total * sizeof *cin);
    float *expected = malloc(lc.total * sizeof *expected);
    float *got = malloc(lc.total * sizeof *got);
    ck_assert(a && b && cin && expected && got);
    test_fill_uniform(a, la.total, -1.0f, 1.0f, 11);
    test_fill_uniform(b, lb.total, -1.0f, 1.0f, 12);
    test_fill_uniform(cin, lc.total, -1.0f, 1.0f, 13);
    if (c->beta == 0.0f)
        for (int bi = 0; bi < c->batch; bi++)
            for (int i = 0; i < c->m; i++)
                for (int j = 0; j < c->n; j++)
                    cin[c->offset + bi * lc.stride + (size_t)i * lc.ld + j] = NAN;
    memcpy(expected, cin, lc.total * sizeof *cin);
    reference_gemm(c, a, &la, b, &lb, expected, &lc);

    rt_tensor ta, tb, tc;
    upload(&ta, "gemm_a", a, la.total);
    upload(&tb, "gemm_b", b, lb.total);
    upload(&tc, "gemm_c", cin, lc.total);
    rt_gemm_args args = {
        .trans_a = c->trans_a,
        .trans_b = c->trans_b,
        .m = c->m,
        .n = c->n,
        .k = c->k,
        .alpha = c->alpha,
        .beta = c->beta,
        .a = ta.buf,
        .a_offset = c->offset,
        .lda = la.ld,
        .b = tb.buf,
        .b_offset = c->offset,
        .ldb = lb.ld,
        .c = tc.buf,
        .c_offset = c->offset,
        .ldc = lc.ld,
    };
    ck_assert_rt(rt_gemm_set_backend(test_ctx, backend));
    if (c->batch == 1)
        ck_assert_rt(rt_gemm(test_ctx, &args));
    else
        ck_assert_rt(
            rt_gemm_strided_batched(test_ctx, &args, c->batch, la.stride, lb.stride, lc.stride));
    ck_assert_rt(rt_tensor_read(&tc, got));

    char what[128];
    snprintf(what, sizeof what, "backend %s, case %s", rt_gemm_backend_name(backend), c->label);
    /* Elements outside the matrices (offsets, padding, gaps) must be left untouched. */
    ck_assert_close(got, expected, lc.total, 1e-5, 1e-4, what);
    rt_tensor_free(&ta);
    rt_tensor_free(&tb);
    rt_tensor_free(&tc);
    free(a);
    free(b);
    free(cin);
    free(expected);
    free(got);
}

START_TEST(gemm_backend_matches_reference)
{
    rt_gemm_backend backend = (rt_gemm_backend)_i;
    for (int i = 0; i < CASE_COUNT; i++)
        run_case(backend, &cases[i]);
}
END_TEST

START_TEST(gemm_default_backend_by_device)
{
    unsetenv("ALUMCL_GEMM");
    rt_gemm_backend backend;
    ck_assert_rt(rt_gemm_get_backend(test_ctx, &backend));
    ck_assert_str_eq(rt_gemm_backend_name(backend), test_ctx->is_cpu ? "cpu" : "clblast");
}
END_TEST

START_TEST(gemm_env_selects_backend)
{
    setenv("ALUMCL_GEMM", "reference", 1);
    rt_gemm_backend backend;
    ck_assert_rt(rt_gemm_get_backend(test_ctx, &backend));
    ck_assert_int_eq(backend, RT_GEMM_REFERENCE);
    unsetenv("ALUMCL_GEMM");
}
END_TEST

START_TEST(gemm_env_invalid_backend)
{
    setenv("ALUMCL_GEMM", "fastest", 1);
    rt_gemm_backend backend;
    ck_assert_int_eq(rt_gemm_get_backend(test_ctx, &backend), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "ALUMCL_GEMM"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "'fastest'"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "cpu, tiled, clblast or reference"));
    unsetenv("ALUMCL_GEMM");
}
END_TEST

START_TEST(gemm_rejects_small_leading_dim)
{
    rt_gemm_args args = {.m = 4, .n = 8, .k = 3, .alpha = 1.0f, .lda = 2, .ldb = 8, .ldc = 8};
    ck_assert_int_eq(rt_gemm(test_ctx, &args), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "lda=2"));
}
END_TEST

Suite *gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_loop_test(tc, gemm_backend_matches_reference, 0, RT_GEMM_BACKEND_COUNT);
    tcase_add_test(tc, gemm_default_backend_by_device);
    tcase_add_test(tc, gemm_env_selects_backend);
    tcase_add_test(tc, gemm_env_invalid_backend);
    tcase_add_test(tc, gemm_rejects_small_leading_dim);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(gemm_suite());
}
