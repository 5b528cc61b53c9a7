/*
 * Single-precision matrix products on the device.
 *
 * Row-major C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, where
 * op(X) is X or its transpose. Offsets and leading dimensions are in
 * elements. The backend is chosen per device (see rt_gemm.c); every backend
 * gives the same results within float rounding.
 */
#ifndef ALUMCL_RT_GEMM_H
#define ALUMCL_RT_GEMM_H

#include "runtime/rt_context.h"

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

/* Frees backend state held by the context. */
void rt_gemm_release(rt_context *ctx);

#endif
