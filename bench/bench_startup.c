/*
 * Time from process start to the end of the first kernel launch: context
 * creation, the build (or cache load) of the GEMM program and one small GEMM.
 * Run it with an empty and then a filled ALUMCL_CACHE_DIR to compare a cold and
 * a warm kernel cache; POCL_CACHE_DIR controls PoCL's own compiler cache.
 */
#include "runtime/runtime.h"

#include <stdio.h>
#include <time.h>

static double elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) * 1e3 +
           (double)(now.tv_nsec - since->tv_nsec) * 1e-6;
}

int main(void)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    rt_context *ctx;
    if (rt_context_create(&ctx, NULL) != RT_OK) {
        fprintf(stderr, "bench_startup: %s\n", rt_last_error());
        return 1;
    }
    double context_ms = elapsed_ms(&start);
    rt_tensor a;
    int shape[1] = {3 * 64};
    int st = rt_tensor_alloc(ctx, &a, "startup", RT_F32, 1, shape);
    if (st == RT_OK)
        st = rt_tensor_fill(&a, 1.0f);
    /* One buffer contains A, B and C as three 8 x 8 matrices. */
    rt_gemm_args args = {.m = 8,
                         .n = 8,
                         .k = 8,
                         .alpha = 1.0f,
                         .a = a.buf,
                         .lda = 8,
                         .b = a.buf,
                         .b_offset = 64,
                         .ldb = 8,
                         .c = a.buf,
                         .c_offset = 128,
                         .ldc = 8};
    if (st == RT_OK)
        st = rt_gemm(ctx, &args);
    if (st == RT_OK)
        st = rt_finish(ctx);
    if (st != RT_OK) {
        fprintf(stderr, "bench_startup: %s\n", rt_last_error());
        rt_context_free(ctx);
        return 1;
    }
    printf("context %.1f ms, first GEMM done %.1f ms after start, programs compiled %lu, "
           "loaded from cache %lu\n",
           context_ms, elapsed_ms(&start), ctx->programs_compiled, ctx->programs_from_cache);
    rt_tensor_free(&a);
    rt_context_free(ctx);
    return 0;
}
