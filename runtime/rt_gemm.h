/*
 * Single-precision matrix products on the device.
 *
 * Row-major C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, where
 * op(X) is X or its transpose. Offsets and leading dimensions are in
 * elements. C must not overlap A or B. Every backend gives the same results
 * within float rounding.
 *
 * Backends: "cpu" (a kernel shaped for CPU devices, 8 x 32 tiles of C per
 * work-item), "tiled" (local-memory tiles for GPUs), "clblast" (CLBlast's
 * SGEMM) and "reference" (one work-item per element of C). CPU devices default
 * to "cpu" and other devices to "clblast"; ALUMCL_GEMM=cpu|tiled|clblast|reference
 * overrides the default when the context first runs a product.
 */
#ifndef ALUMCL_RT_GEMM_H
#define ALUMCL_RT_GEMM_H

#include "runtime/rt_context.h"

typedef enum rt_gemm_backend {
    RT_GEMM_CPU = 0,
    RT_GEMM_TILED = 1,
    RT_GEMM_CLBLAST = 2,
    RT_GEMM_REFERENCE = 3,
} rt_gemm_backend;

#define RT_GEMM_BACKEND_COUNT 4

typedef struct rt_gemm_args {
    bool trans_a, trans_b;
    int m, n, k;
    float alpha, beta;
    cl_mem a;
    size_t a_offset;
    int lda;
    cl_mem b;
    size_t b_offset;
    int ldb;
    cl_mem c;
    size_t c_offset;
    int ldc;
} rt_gemm_args;

int rt_gemm(rt_context *ctx, const rt_gemm_args *args);

/* Runs batch products; matrix i starts at offset + i * stride of each operand. */
int rt_gemm_strided_batched(rt_context *ctx, const rt_gemm_args *args, int batch,
                            size_t stride_a, size_t stride_b, size_t stride_c);

/* Returns the name of a backend ("cpu", "tiled", "clblast", "reference"). */
const char *rt_gemm_backend_name(rt_gemm_backend backend);

/* Parses a backend name; RT_ERR_INVALID with the valid names on anything else. */
int rt_gemm_backend_parse(const char *text, rt_gemm_backend *out);

/* Returns the backend the context uses, resolving the default on first use. */
int rt_gemm_get_backend(rt_context *ctx, rt_gemm_backend *out);

/* Selects the backend for later products of the context (overrides ALUMCL_GEMM). */
int rt_gemm_set_backend(rt_context *ctx, rt_gemm_backend backend);

/* Frees backend state held by the context. */
void rt_gemm_release(rt_context *ctx);

#endif
