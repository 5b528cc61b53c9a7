#include "runtime/rt_gemm.h"
#include "runtime/rt_clblast.h"
#include "runtime/rt_profile.h"
#include "runtime/rt_program.h"

#include <clblast_c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Work-item tile of gemm_cpu_8x32 and work-group edge of gemm_tiled (cl_kernels/gemm.cl). */
#define CPU_TILE_ROWS 8
#define CPU_TILE_COLS 32
#define GPU_TILE 16
/* Rows of C per work-item of gemm_cpu_blocked. */
#define CPU_BLOCK_ROWS 64
/* Smallest m for which the cpu backend packs B instead of copying panels per work-item. */
#define CPU_PACK_MIN_ROWS 256

typedef struct gemm_state {
    bool resolved;
    rt_gemm_backend backend;
    cl_mem scratch; /* packed B of the cpu backend */
    size_t scratch_bytes;
} gemm_state;

static const char *const backend_names[RT_GEMM_BACKEND_COUNT] = {"cpu", "tiled", "clblast",
                                                                 "reference"};

const char *rt_gemm_backend_name(rt_gemm_backend backend)
{
    if ((int)backend < 0 || backend >= RT_GEMM_BACKEND_COUNT)
        return "unknown";
    return backend_names[backend];
}

int rt_gemm_backend_parse(const char *text, rt_gemm_backend *out)
{
    for (int i = 0; i < RT_GEMM_BACKEND_COUNT; i++)
        if (text && strcasecmp(text, backend_names[i]) == 0) {
            *out = (rt_gemm_backend)i;
            return RT_OK;
        }
    return rt_set_error(RT_ERR_INVALID,
                        "invalid GEMM backend '%s'; expected cpu, tiled, clblast or reference",
                        text ? text : "(null)");
}

static int get_state(rt_context *ctx, gemm_state **out)
{
    if (!ctx->gemm_state) {
        gemm_state *state = calloc(1, sizeof *state);
        if (!state)
            return rt_set_error(RT_ERR_NOMEM, "out of host memory for the GEMM state");
        ctx->gemm_state = state;
    }
    *out = ctx->gemm_state;
    return RT_OK;
}

int rt_gemm_get_backend(rt_context *ctx, rt_gemm_backend *out)
{
    gemm_state *state = NULL;
    RT_TRY(get_state(ctx, &state));
    if (!state->resolved) {
        /* On PoCL the cpu kernel runs within 20 % of OpenBLAS and CLBlast with its
         * built-in parameters at a tenth of that (docs/benchmarks.md).
         * NOTE: clblast as the GPU default was not measured against tiled. */
        rt_gemm_backend backend = ctx->is_cpu ? RT_GEMM_CPU : RT_GEMM_CLBLAST;
        const char *env = getenv("ALUMCL_GEMM");
        if (env && *env && rt_gemm_backend_parse(env, &backend) != RT_OK)
            return rt_wrap_error(RT_ERR_INVALID, "ALUMCL_GEMM");
        state->backend = backend;
        state->resolved = true;
    }
    *out = state->backend;
    return RT_OK;
}

int rt_gemm_set_backend(rt_context *ctx, rt_gemm_backend backend)
{
    if ((int)backend < 0 || backend >= RT_GEMM_BACKEND_COUNT)
        return rt_set_error(RT_ERR_INVALID, "invalid GEMM backend %d; expected 0 to %d",
                            (int)backend, RT_GEMM_BACKEND_COUNT - 1);
    gemm_state *state = NULL;
    RT_TRY(get_state(ctx, &state));
    state->backend = backend;
    state->resolved = true;
    return RT_OK;
}

static int check_args(const rt_gemm_args *g, int batch, size_t stride_a, size_t stride_b,
                      size_t stride_c)
{
    if (g->m < 0 || g->n < 0 || g->k < 0 || batch < 0)
        return rt_set_error(RT_ERR_INVALID, "gemm: negative size m=%d n=%d k=%d batch=%d", g->m,
                            g->n, g->k, batch);
    int min_lda = g->trans_a ? g->m : g->k;
    int min_ldb = g->trans_b ? g->k : g->n;
    if (g->lda < (min_lda > 1 ? min_lda : 1) || g->ldb < (min_ldb > 1 ? min_ldb : 1) ||
        g->ldc < (g->n > 1 ? g->n : 1))
        return rt_set_error(RT_ERR_INVALID,
                            "gemm: leading dimension too small (lda=%d ldb=%d ldc=%d for m=%d "
                            "n=%d k=%d, trans_a=%d trans_b=%d)",
                            g->lda, g->ldb, g->ldc, g->m, g->n, g->k, g->trans_a, g->trans_b);
    /* The kernels take offsets and strides as 32-bit unsigned element counts. */
    size_t last = batch > 0 ? (size_t)(batch - 1) : 0;
    size_t rows_a = g->trans_a ? (size_t)g->k : (size_t)g->m;
    size_t rows_b = g->trans_b ? (size_t)g->n : (size_t)g->k;
    size_t end_a = g->a_offset + last * stride_a + rows_a * (size_t)g->lda;
    size_t end_b = g->b_offset + last * stride_b + rows_b * (size_t)g->ldb;
    size_t end_c = g->c_offset + last * stride_c + (size_t)g->m * (size_t)g->ldc;
    if (end_a > UINT32_MAX || end_b > UINT32_MAX || end_c > UINT32_MAX)
        return rt_set_error(RT_ERR_INVALID,
                            "gemm: operands span more than 2^32 elements (A %zu, B %zu, C %zu); "
                            "split the batch",
                            end_a, end_b, end_c);
    return RT_OK;
}

static int ensure_scratch(rt_context *ctx, gemm_state *state, size_t bytes)
{
    if (state->scratch_bytes >= bytes)
        return RT_OK;
    if (state->scratch)
        clReleaseMemObject(state->scratch);
    state->scratch = NULL;
    state->scratch_bytes = 0;
    cl_int err;
    cl_mem buf = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return rt_set_error(RT_ERR_NOMEM,
                            "allocating %zu bytes of GEMM scratch for a packed B failed: %s on "
                            "%s; lower the batch size or use ALUMCL_GEMM=reference",
                            bytes, rt_cl_error_name(err), ctx->info.name);
    state->scratch = buf;
    state->scratch_bytes = bytes;
    return RT_OK;
}

/* Packs op(B) of every batch matrix into the 32-column panels that gemm_cpu_8x32 reads. */
static int pack_b(rt_context *ctx, gemm_state *state, const rt_gemm_args *g, int batch,
                  size_t stride_b, size_t *packed_stride)
{
    size_t panels = ((size_t)g->n + CPU_TILE_COLS - 1) / CPU_TILE_COLS;
    *packed_stride = panels * CPU_TILE_COLS * (size_t)g->k;
    if (*packed_stride * (size_t)batch > UINT32_MAX)
        return rt_set_error(RT_ERR_INVALID,
                            "gemm: packed B of %d matrices of %zu floats exceeds 2^32 elements; "
                            "split the batch",
                            batch, *packed_stride);
    RT_TRY(ensure_scratch(ctx, state, *packed_stride * (size_t)batch * sizeof(float)));
    cl_kernel kernel;
    RT_TRY(rt_kernel_get(ctx, "gemm", "gemm_pack_b", &kernel));
    cl_int trans_b = g->trans_b, k = g->k, n = g->n, ldb = g->ldb;
    cl_uint offset = (cl_uint)g->b_offset, stride = (cl_uint)stride_b;
    RT_ARG(ctx, kernel, 0, trans_b);
    RT_ARG(ctx, kernel, 1, k);
    RT_ARG(ctx, kernel, 2, n);
    RT_ARG(ctx, kernel, 3, g->b);
    RT_ARG(ctx, kernel, 4, offset);
    RT_ARG(ctx, kernel, 5, ldb);
    RT_ARG(ctx, kernel, 6, stride);
    RT_ARG(ctx, kernel, 7, state->scratch);
    size_t global[3] = {(size_t)g->k, panels, (size_t)batch};
    return rt_launch(ctx, kernel, "gemm_pack_b", 3, global, NULL);
}

/* Packs B into panels, then runs gemm_cpu_8x32 on them. */
static int run_cpu_packed(rt_context *ctx, gemm_state *state, const rt_gemm_args *g, int batch,
                          size_t stride_a, size_t stride_b, size_t stride_c)
{
    size_t packed_stride;
    RT_TRY(pack_b(ctx, state, g, batch, stride_b, &packed_stride));
    cl_kernel kernel;
    RT_TRY(rt_kernel_get(ctx, "gemm", "gemm_cpu_8x32", &kernel));
    cl_int m = g->m, n = g->n, k = g->k, ldc = g->ldc;
    cl_int a_row_stride = g->trans_a ? 1 : g->lda;
    cl_int a_col_stride = g->trans_a ? g->lda : 1;
    cl_uint a_off = (cl_uint)g->a_offset, a_stride = (cl_uint)stride_a;
    cl_uint b_off = 0, b_stride = (cl_uint)packed_stride;
    cl_uint c_off = (cl_uint)g->c_offset, c_stride = (cl_uint)stride_c;
    RT_ARG(ctx, kernel, 0, m);
    RT_ARG(ctx, kernel, 1, n);
    RT_ARG(ctx, kernel, 2, k);
    RT_ARG(ctx, kernel, 3, g->alpha);
    RT_ARG(ctx, kernel, 4, g->a);
    RT_ARG(ctx, kernel, 5, a_off);
    RT_ARG(ctx, kernel, 6, a_row_stride);
    RT_ARG(ctx, kernel, 7, a_col_stride);
    RT_ARG(ctx, kernel, 8, a_stride);
    RT_ARG(ctx, kernel, 9, state->scratch);
    RT_ARG(ctx, kernel, 10, b_off);
    RT_ARG(ctx, kernel, 11, b_stride);
    RT_ARG(ctx, kernel, 12, g->beta);
    RT_ARG(ctx, kernel, 13, g->c);
    RT_ARG(ctx, kernel, 14, c_off);
    RT_ARG(ctx, kernel, 15, ldc);
    RT_ARG(ctx, kernel, 16, c_stride);
    /* Dimension 0 walks down the row tiles so consecutive work-items share a panel of B. */
    size_t global[3] = {((size_t)m + CPU_TILE_ROWS - 1) / CPU_TILE_ROWS,
                        ((size_t)n + CPU_TILE_COLS - 1) / CPU_TILE_COLS, (size_t)batch};
    size_t local[3] = {1, 1, 1};
    return rt_launch(ctx, kernel, "gemm_cpu_8x32", 3, global, local);
}

static int run_cpu_blocked(rt_context *ctx, const rt_gemm_args *g, int batch, size_t stride_a,
                           size_t stride_b, size_t stride_c)
{
    cl_kernel kernel;
    RT_TRY(rt_kernel_get(ctx, "gemm", "gemm_cpu_blocked", &kernel));
    cl_int m = g->m, n = g->n, k = g->k, trans_b = g->trans_b, ldb = g->ldb, ldc = g->ldc;
    cl_int a_row_stride = g->trans_a ? 1 : g->lda;
    cl_int a_col_stride = g->trans_a ? g->lda : 1;
    cl_uint a_off = (cl_uint)g->a_offset, a_stride = (cl_uint)stride_a;
    cl_uint b_off = (cl_uint)g->b_offset, b_stride = (cl_uint)stride_b;
    cl_uint c_off = (cl_uint)g->c_offset, c_stride = (cl_uint)stride_c;
    RT_ARG(ctx, kernel, 0, m);
    RT_ARG(ctx, kernel, 1, n);
    RT_ARG(ctx, kernel, 2, k);
    RT_ARG(ctx, kernel, 3, g->alpha);
    RT_ARG(ctx, kernel, 4, g->a);
    RT_ARG(ctx, kernel, 5, a_off);
    RT_ARG(ctx, kernel, 6, a_row_stride);
    RT_ARG(ctx, kernel, 7, a_col_stride);
    RT_ARG(ctx, kernel, 8, a_stride);
    RT_ARG(ctx, kernel, 9, trans_b);
    RT_ARG(ctx, kernel, 10, g->b);
    RT_ARG(ctx, kernel, 11, b_off);
    RT_ARG(ctx, kernel, 12, ldb);
    RT_ARG(ctx, kernel, 13, b_stride);
    RT_ARG(ctx, kernel, 14, g->beta);
    RT_ARG(ctx, kernel, 15, g->c);
    RT_ARG(ctx, kernel, 16, c_off);
    RT_ARG(ctx, kernel, 17, ldc);
    RT_ARG(ctx, kernel, 18, c_stride);
    size_t global[3] = {((size_t)m + CPU_BLOCK_ROWS - 1) / CPU_BLOCK_ROWS,
                        ((size_t)n + CPU_TILE_COLS - 1) / CPU_TILE_COLS, (size_t)batch};
    size_t local[3] = {1, 1, 1};
    return rt_launch(ctx, kernel, "gemm_cpu_blocked", 3, global, local);
}

/* Runs gemm_reference or gemm_tiled, which share one argument list. */
static int run_simple(rt_context *ctx, const char *name, const rt_gemm_args *g, int batch,
                      size_t stride_a, size_t stride_b, size_t stride_c, const size_t *local)
{
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "gemm", name, &k));
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
    return rt_launch(ctx, k, name, 3, global, local);
}

/* Calls CLBlast with the row-major layout, so no operand swap is needed. */
static int run_clblast(rt_context *ctx, const rt_gemm_args *g, int batch, size_t stride_a,
                       size_t stride_b, size_t stride_c)
{
    CLBlastTranspose ta = g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    cl_event event = NULL;
    cl_event *event_ptr = ctx->profiling ? &event : NULL;
    CLBlastStatusCode status;
    const char *call;
    if (batch == 1) {
        call = "CLBlastSgemm";
        status = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)g->m, (size_t)g->n,
                              (size_t)g->k, g->alpha, g->a, g->a_offset, (size_t)g->lda, g->b,
                              g->b_offset, (size_t)g->ldb, g->beta, g->c, g->c_offset,
                              (size_t)g->ldc, &ctx->queue, event_ptr);
    } else {
        call = "CLBlastSgemmStridedBatched";
        status = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, ta, tb, (size_t)g->m, (size_t)g->n, (size_t)g->k, g->alpha, g->a,
            g->a_offset, (size_t)g->lda, stride_a, g->b, g->b_offset, (size_t)g->ldb, stride_b,
            g->beta, g->c, g->c_offset, (size_t)g->ldc, stride_c, (size_t)batch, &ctx->queue,
            event_ptr);
    }
    if (status != CLBlastSuccess)
        return rt_set_error(RT_ERR_CL,
                            "%s failed: %s (%d) for m=%d n=%d k=%d batch=%d lda=%d ldb=%d "
                            "ldc=%d on device %s; try ALUMCL_GEMM=cpu or ALUMCL_GEMM=reference",
                            call, rt_clblast_status_name(status), (int)status, g->m, g->n, g->k,
                            batch, g->lda, g->ldb, g->ldc, ctx->info.name);
    if (event)
        return rt_profile_record(ctx, call, event);
    return RT_OK;
}

int rt_gemm_strided_batched(rt_context *ctx, const rt_gemm_args *g, int batch, size_t stride_a,
                            size_t stride_b, size_t stride_c)
{
    RT_TRY(check_args(g, batch, stride_a, stride_b, stride_c));
    if (g->m == 0 || g->n == 0 || batch == 0)
        return RT_OK;
    rt_gemm_backend backend;
    RT_TRY(rt_gemm_get_backend(ctx, &backend));
    gemm_state *state = NULL;
    RT_TRY(get_state(ctx, &state));
    switch (backend) {
    case RT_GEMM_CPU:
        /* Both CPU kernels scale C inside their k loop, so k == 0 goes to the reference. */
        if (g->k == 0)
            break;
        /* Packing B costs a pass over k x n, which only pays off once enough rows
         * of A reuse each panel: bench_gemm --cpu-time put the crossover between
         * m = 128 and m = 256 (docs/benchmarks.md). */
        if (g->m >= CPU_PACK_MIN_ROWS)
            return run_cpu_packed(ctx, state, g, batch, stride_a, stride_b, stride_c);
        return run_cpu_blocked(ctx, g, batch, stride_a, stride_b, stride_c);
    case RT_GEMM_TILED: {
        size_t local[3] = {GPU_TILE, GPU_TILE, 1};
        return run_simple(ctx, "gemm_tiled", g, batch, stride_a, stride_b, stride_c, local);
    }
    case RT_GEMM_CLBLAST:
        /* CLBlast 1.5.3 returns CLBlastInvalidDimension for k == 0; the reference
         * kernel computes C = beta * C then. */
        if (g->k == 0)
            break;
        return run_clblast(ctx, g, batch, stride_a, stride_b, stride_c);
    case RT_GEMM_REFERENCE:
        break;
    }
    return run_simple(ctx, "gemm_reference", g, batch, stride_a, stride_b, stride_c, NULL);
}

int rt_gemm(rt_context *ctx, const rt_gemm_args *g)
{
    return rt_gemm_strided_batched(ctx, g, 1, 0, 0, 0);
}

void rt_gemm_release(rt_context *ctx)
{
    gemm_state *state = ctx->gemm_state;
    if (state && state->scratch)
        clReleaseMemObject(state->scratch);
    free(state);
    ctx->gemm_state = NULL;
}
