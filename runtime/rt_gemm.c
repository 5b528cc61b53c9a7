#include "runtime/rt_gemm.h"
#include "runtime/rt_program.h"

static int check_args(const rt_gemm_args *g)
{
    if (g->m < 0 || g->n < 0 || g->k < 0)
        return rt_set_error(RT_ERR_INVALID, "gemm: negative size m=%d n=%d k=%d", g->m, g->n,
                            g->k);
    int min_lda = g->trans_a ? g->m : g->k;
    int min_ldb = g->trans_b ? g->k : g->n;
    if (g->lda < (min_lda > 1 ? min_lda : 1) || g->ldb < (min_ldb > 1 ? min_ldb : 1) ||
        g->ldc < (g->n > 1 ? g->n : 1))
        return rt_set_error(RT_ERR_INVALID, "gemm: leading dimension too small (lda=%d ldb=%d "
                            "ldc=%d for m=%d n=%d k=%d)", g->lda, g->ldb, g->ldc, g->m, g->n, g->k);
    return RT_OK;
}

int rt_gemm_strided_batched(rt_context *ctx, const rt_gemm_args *g, int batch, size_t stride_a,
                            size_t stride_b, size_t stride_c)
{
    RT_TRY(check_args(g));
    if (g->m == 0 || g->n == 0 || batch == 0)
        return RT_OK;
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "gemm", "gemm_reference", &k));
    cl_int ta = g->trans_a, tb = g->trans_b, m = g->m, n = g->n, kk = g->k;
    cl_int lda = g->lda, ldb = g->ldb, ldc = g->ldc;
    cl_uint ao = (cl_uint)g->a_offset, bo = (cl_uint)g->b_offset, co = (cl_uint)g->c_offset;
    cl_uint sa = (cl_uint)stride_a, sb = (cl_uint)stride_b, sc = (cl_uint)stride_c;
    RT_ARG(ctx, k, 0, ta);
    RT_ARG(ctx, k, 1, tb);
    RT_ARG(ctx, k, 2, m);
    RT_ARG(ctx, k, 3, n);
    RT_ARG(ctx, k, 4, kk);
    RT_ARG(ctx, k, 5, g->alpha);
    RT_ARG(ctx, k, 6, g->a);
    RT_ARG(ctx, k, 7, ao);
    RT_ARG(ctx, k, 8, lda);
    RT_ARG(ctx, k, 9, sa);
    RT_ARG(ctx, k, 10, g->b);
    RT_ARG(ctx, k, 11, bo);
    RT_ARG(ctx, k, 12, ldb);
    RT_ARG(ctx, k, 13, sb);
    RT_ARG(ctx, k, 14, g->beta);
    RT_ARG(ctx, k, 15, g->c);
    RT_ARG(ctx, k, 16, co);
    RT_ARG(ctx, k, 17, ldc);
    RT_ARG(ctx, k, 18, sc);
    size_t global[3] = {(size_t)n, (size_t)m, (size_t)batch};
    return rt_launch(ctx, k, "gemm_reference", 3, global, NULL);
}

int rt_gemm(rt_context *ctx, const rt_gemm_args *g)
{
    return rt_gemm_strided_batched(ctx, g, 1, 0, 0, 0);
}

void rt_gemm_release(rt_context *ctx)
{
    ctx->gemm_state = NULL;
}
